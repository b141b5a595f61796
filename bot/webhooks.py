"""EDGE: webhook delivery. The only module that imports httpx.

Each alert is POSTed as JSON (handlers.delivery.alert_payload, documented in README "Webhooks") with

    X-Tgwatch-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the webhook's secret>
    Idempotency-Key: <the outbox row's random id, the same on every retry>
    X-Tgwatch-Timestamp: <unix seconds of this attempt>
    X-Tgwatch-Event: alert.created | alert.edited | alert.source_deleted | digest

Responses: 2xx sent; 429/503 retry after Retry-After (seconds or HTTP date); other 5xx and network
errors retry with backoff; other 4xx reject the row (dead-lettered, reported to operators; the
destination stays active).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping

import httpx

from bot.errors import DeliveryRejected, RetryLater
from bot.timeutil import Clock, utcnow
from config.settings import WebhookSettings
from handlers.delivery import OutgoingMessage

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 6 * 3600.0


def sign(secret: str, body: bytes) -> str:
    """The X-Tgwatch-Signature value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header or "")


def retry_after_s(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_S)


class WebhookSender:
    """A Sender for subscribers of kind 'webhook' (address = the webhook's name in config)."""

    def __init__(self, hooks: Mapping[str, WebhookSettings] | list[WebhookSettings], *,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Clock = utcnow,
                 timeout_s: float = DEFAULT_TIMEOUT_S):
        self.hooks = dict(hooks) if isinstance(hooks, Mapping) else {h.name: h for h in hooks}
        self.clock = clock
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout_s, follow_redirects=False,
                                         headers={"User-Agent": "tgwatch-webhook/1"})

    async def aclose(self) -> None:
        await self._client.aclose()

    def body(self, message: OutgoingMessage) -> bytes:
        return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")

    async def send(self, message: OutgoingMessage) -> list[int]:
        hook = self.hooks.get(message.address)
        if hook is None:
            raise DeliveryRejected(f"webhook {message.address!r} is no longer configured", deactivate=True)
        body = self.body(message)
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "X-Tgwatch-Signature": sign(hook.secret.reveal(), body),
            "Idempotency-Key": str(message.random_id),
            "X-Tgwatch-Timestamp": str(int(now.timestamp())),
            "X-Tgwatch-Event": str(message.payload.get("event", message.kind)),
        }
        try:
            resp = await self._client.post(hook.url, content=body, headers=headers)
        except httpx.TimeoutException as e:
            raise RetryLater(f"webhook {hook.name}: timed out") from e
        except httpx.HTTPError as e:  # connection refused, DNS, TLS, protocol errors
            raise RetryLater(f"webhook {hook.name}: {type(e).__name__}") from e
        code = resp.status_code
        if 200 <= code < 300:
            return []
        if code in (429, 503):
            after = retry_after_s(resp.headers.get("Retry-After"), now)
            raise RetryLater(f"webhook {hook.name}: HTTP {code}", after_s=after or 0.0)
        if code >= 500 or code == 408:
            raise RetryLater(f"webhook {hook.name}: HTTP {code}")
        raise DeliveryRejected(f"webhook {hook.name}: HTTP {code}", deactivate=False)


def build_webhook_sender(hooks: list[WebhookSettings], clock: Clock = utcnow,
                         transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None) -> WebhookSender:
    return WebhookSender(hooks, transport=transport_factory() if transport_factory else None, clock=clock)

