"""Hostile post texts and replay lines: no crash, alerts render exactly the text that was posted.

Properties checked on every rendered alert: each HTML part is at most 4096 UTF-16 units,
uses only the tags we emit with every tag balanced inside its part, every `&` starts an
entity, and removing the tags and unescaping gives back the posted text. The one documented
difference: lone surrogates (possible only in JSON input, never from Telegram) are stored and
shown as U+FFFD, because neither SQLite's UTF-8 nor Telegram can carry them.
Huge inputs are a few explicit examples, not generated, to keep the suite fast.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.alerts import TELEGRAM_LIMIT, clean, render_alert, utf16_len
from bot.errors import UserError
from bot.models import Detection, Evidence
from bot.replay import ReplayEvent, parse_event
from handlers.posts import handle_post
from storage import posts, subscribers
from tests.conftest import make_post

SUFFIX = "\n\nOpen the original post"
HOSTILE_CHARS = st.sampled_from(
    ["<", ">", "&", "&amp;", "<b>", "</b>", "<a href='x'>", "*", "_", "`", "[x](y)", "\u202e", "\u200f", "\u200b",
     "\u2066", "\ufeff", "\x00", "\x07", "\r", "\n", "\t", "\u2028", "😀", "👨‍👩‍👧", "\U0001f3f3\ufe0f", "\ud800",
     "\udfff", "помиловал", "освобождены", "Лукашенко", " ", "&#x27;", "&lt;", "\\", '"', "'", "\x1b[31m"]
)
TEXTS = st.lists(st.one_of(HOSTILE_CHARS, st.text(max_size=20)), max_size=40).map("".join)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class _Checker(HTMLParser):
    # The tags Telegram's parse_mode=HTML accepts (core.telegram.org/bots/api#html-style);
    # anything else makes the send fail.
    ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
               "tg-spoiler", "span", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.ALLOWED:
            self.problems.append(f"unexpected tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#x27|#\d+);")


def check_parts(parts: tuple[str, ...]) -> str:
    """Assert every part is valid Telegram HTML within the limit; return the plain text of all parts."""
    assert parts
    plain = []
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        assert "&" not in _ENTITY.sub("", part), "a bare & (or an entity cut in two)"
        c = _Checker()
        c.feed(part)
        c.close()
        assert not c.problems and not c.stack, (c.problems, c.stack)
        plain.append(html.unescape(re.sub(r"<[^>]*>", "", part)))
    return "".join(plain)


def rendered_text_matches(text: str, detection: Detection) -> None:
    post = make_post(1, text)
    full = check_parts(render_alert(post, detection).html_parts)
    empty = check_parts(render_alert(replace(post, text=""), replace(detection, evidence=())).html_parts)
    assert full.endswith(SUFFIX) and empty.endswith(SUFFIX)
    assert full == empty[: -len(SUFFIX)] + clean(text) + SUFFIX


@FAST
@given(text=TEXTS)
@example(text="<b>bold</b> & <script>alert(1)</script> **md** [link](javascript:x)")
@example(text="\u202eLukashenka\u202c pardoned \u200b14\u200b")
@example(text="lone \ud800 surrogate \udfff")
def test_any_text_renders_exactly(text, detector):
    rendered_text_matches(text, detector.detect(text))


@FAST
@given(text=st.text(min_size=1, max_size=300), data=st.data())
def test_evidence_spans_never_break_the_text(text, data):
    """Evidence anywhere (even overlapping, out of range) highlights but never changes the text."""
    spans = data.draw(st.lists(st.tuples(st.integers(-5, len(text) + 5), st.integers(-5, len(text) + 5)), max_size=5))
    ev = tuple(Evidence("r", s, e, "", role) for (s, e), role in zip(spans, ["trigger", "fact", "block"] * 2))
    rendered_text_matches(text, Detection("pardon", 0.7, names=("<b>Имя</b>",), evidence=ev))


def test_long_texts_split_within_the_limit_and_keep_every_character():
    for text in ("😀" * 2900, "&<>" * 999, "a" * 2999 + "<", "\u200b\n" * 1499, "помиловал " * 299):
        rendered_text_matches(text, Detection("pardon", 0.9, evidence=(Evidence("r", 0, 5, ""),)))


def test_huge_text_renders_an_excerpt_that_is_a_slice_of_the_post():
    text = ("Обычные новости дня. " * 40_000 + "Лукашенко помиловал 14 осуждённых. " + "Хвост. " * 30_000)[:1_000_000]
    assert len(text) == 1_000_000
    d = Detection("pardon", 0.9, evidence=(Evidence("r", text.index("помиловал"), text.index("помиловал") + 9, ""),))
    plain = check_parts(render_alert(make_post(1, text), d).html_parts)
    body = plain.split("\n\n")[1]
    assert body.startswith("… ") and body.endswith(" …") and "помиловал" in body
    assert body[2:-2] in text and len(body) < 3100


@FAST
@given(text=TEXTS)
@example(text="x" * 1_000_000)
@example(text="\x00\ud800" * 1000)
async def test_handle_post_stores_and_alerts_on_any_text(text, deps):
    """Lone surrogates become U+FFFD when captured, so a replay of the same line stays 'unchanged'."""
    db = deps.db
    async with db.transaction():
        await subscribers.upsert(db, "telegram", "1", deps.clock())
        await subscribers.save_subscription(db, replace(await subscribers.subscription(db, 1), terms=("<b>",)))
    mid = (await db.fetchval("SELECT coalesce(max(message_id), 0) FROM posts")) + 1
    first = await handle_post(make_post(mid, text), deps)
    again = await handle_post(make_post(mid, text), deps)
    assert first.outcome == "new" and again.outcome == "unchanged"
    stored = await posts.get(db, 1001, mid)
    assert stored.post.text == clean(text)


LINE_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=30),
                        st.lists(st.integers(-3, 2**64), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
DATES = st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                  st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2025-13-01", "", "now"]))
LINES = st.fixed_dictionaries(
    {},
    optional={"event": st.sampled_from(["new", "edit", "delete", "bogus", 3]), "channel": st.one_of(st.text(max_size=10), LINE_VALUES),
              "channel_id": LINE_VALUES, "message_id": st.one_of(st.integers(-1, 2**64), LINE_VALUES),
              "message_ids": LINE_VALUES, "date": st.one_of(DATES, LINE_VALUES), "edit_date": st.one_of(DATES, LINE_VALUES),
              "text": st.one_of(TEXTS, LINE_VALUES), "grouped_id": LINE_VALUES, "media": LINE_VALUES, "views": LINE_VALUES},
)


@FAST
@given(obj=st.one_of(LINES, LINE_VALUES))
@example(obj={"channel": "c", "message_id": 2**63, "date": "2025-01-01T00:00:00+00:00"})
@example(obj={"channel": "c", "message_id": 1, "date": "0001-01-01T00:00:00+05:00"})
@example(obj={"channel": "c", "event": "delete", "message_ids": []})
@example(obj={"channel": "c", "channel_id": 2**64, "message_id": 1, "date": "2025-01-01T00:00:00+00:00"})
async def test_replay_lines_become_events_or_clear_errors(obj, deps):
    """Any JSON line: a ReplayEvent that handle_post/handle_deletion accept, or a UserError."""
    from bot.app import apply_event

    line = json.dumps(obj)
    try:
        ev = parse_event(json.loads(line), "r.jsonl line 1")
    except UserError as e:
        assert str(e).startswith("r.jsonl line 1: ")
        return
    assert isinstance(ev, ReplayEvent)
    await apply_event(ev, deps)


def test_lone_surrogate_in_a_json_replay_line(tmp_path):
    from bot.replay import read_replay

    p = tmp_path / "r.jsonl"
    p.write_text('{"channel": "c", "message_id": 1, "date": "2025-01-01T00:00:00Z", "text": "a\\ud800b"}\n', encoding="utf-8")
    [ev] = list(read_replay(p))
    assert ev.post.text == "a\ud800b"  # JSON allows it; handle_post turns it into U+FFFD
    assert ev.post.posted_at == datetime(2025, 1, 1, tzinfo=timezone.utc)
