"""Domain values shared by every layer: frozen dataclasses, no I/O, no library types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

LABELS = ("pardon", "release", "amnesty", "transfer", "exchange")
# Precedence from the label policy: a post mentioning several events takes the highest.
PRECEDENCE = ("exchange", "transfer", "pardon", "amnesty", "release")


@dataclass(frozen=True)
class Channel:
    channel_id: int
    username: str | None = None
    title: str | None = None
    access_hash: int | None = None
    last_seen_message_id: int = 0
    # active | unjoinable (history pass only) | private | banned | deleted | removed
    status: str = "active"
    added_at: datetime | None = None
    last_capture_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Post:
    """One channel post as we capture it (an album is one Post)."""

    channel_id: int
    message_id: int
    text: str
    posted_at: datetime
    edited_at: datetime | None = None
    grouped_id: int | None = None
    media: str | None = None  # short human summary: "photo", "video x2", "document: a.pdf"
    views: int | None = None
    forwards: int | None = None
    channel_username: str | None = None
    forwarded_from: str | None = None
    # For albums: every message id that belongs to this post (message_id is the smallest).
    album_message_ids: tuple[int, ...] = ()

    @property
    def permalink(self) -> str:
        return permalink(self.channel_id, self.message_id, self.channel_username)


def permalink(channel_id: int, message_id: int, username: str | None) -> str:
    if username:
        return f"https://t.me/{username.lstrip('@')}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}"


@dataclass(frozen=True)
class Evidence:
    """A span of the post text and the rule that matched it."""

    rule_id: str
    start: int
    end: int
    text: str
    # "trigger" decided a label, "block" vetoed one, "fact" supplied count/name/country.
    role: str = "trigger"


@dataclass(frozen=True)
class Detection:
    label: str  # one of LABELS, an operator-defined category, or "none"
    confidence: float
    count: int | None = None
    names: tuple[str, ...] = ()
    names_normalized: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    detector_version: str = ""
    # Operator-defined categories that also matched (e.g. "arrest"); never affect `label`
    # precedence of the built-in labels unless the rules file says so.
    extra_labels: tuple[str, ...] = ()

    @property
    def is_positive(self) -> bool:
        return self.label != "none"

    def facts_key(self) -> tuple:
        """What a subscriber sees as 'the facts': used to decide whether an edit matters."""
        return (self.label, self.count, tuple(sorted(self.names_normalized)), tuple(sorted(self.countries)))


@dataclass(frozen=True)
class Subscriber:
    subscriber_id: int
    kind: str  # "telegram" | "webhook" | "console"
    address: str  # chat id for telegram, URL for webhook, name for console
    status: str = "active"  # active | paused | pending | blocked | revoked
    language: str = "en"
    created_at: datetime | None = None


@dataclass(frozen=True)
class Subscription:
    """A subscriber's filters. Empty tuples mean 'all'."""

    subscriber_id: int
    labels: tuple[str, ...] = ()
    channel_ids: tuple[int, ...] = ()
    min_confidence: float = 0.0
    terms: tuple[str, ...] = ()
    mode: str = "instant"  # instant | digest | mixed (instant for pardon/release, digest otherwise)
    digest_hour: int = 9
    timezone: str = "UTC"


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    subscriber_id: int
    destination: str
    channel_id: int
    message_id: int
    kind: str  # "alert" | "followup" | "notice"
    random_id: int
    status: str  # pending | sent | failed | dead | digest
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    payload: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
