"""Rendering alerts: pure functions from a post and its detection to Telegram HTML and plain text.

Everything from a post is HTML-escaped (a post containing <b> or & renders literally),
evidence spans are highlighted, and long messages are split at Telegram's 4096-unit
limit counted in UTF-16 code units, never inside a tag or an entity.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bot.models import Detection, Post

TELEGRAM_LIMIT = 4096
EXCERPT_LIMIT = 3000  # post text beyond this becomes an excerpt around the evidence

LABEL_TITLES = {
    "pardon": "Pardon",
    "release": "Release",
    "amnesty": "Amnesty",
    "transfer": "Transfer abroad",
    "exchange": "Prisoner exchange",
    "none": "Watch term",
}
LABEL_ICONS = {"pardon": "🕊", "release": "🔓", "amnesty": "📜", "transfer": "✈️", "exchange": "🔁", "none": "🔎"}

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text Telegram will accept: lone surrogates (possible in JSON input) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class Rendered:
    html_parts: tuple[str, ...]
    text: str  # plain-text form (console, webhooks)


def _spans(detection: Detection, text_len: int) -> list[tuple[int, int]]:
    spans = sorted(
        (max(0, e.start), min(text_len, e.end))
        for e in detection.evidence
        if e.role in ("trigger", "fact") and 0 <= e.start < e.end <= text_len
    )
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    if len(text) <= EXCERPT_LIMIT:
        return 0, len(text)
    center = spans[0][0] if spans else 0
    start = max(0, center - EXCERPT_LIMIT // 3)
    return start, min(len(text), start + EXCERPT_LIMIT)


def highlight_html(text: str, detection: Detection) -> str:
    """The post text (or an excerpt), escaped, with evidence spans in <b>."""
    spans = _spans(detection, len(text))
    lo, hi = _window(text, spans)
    out: list[str] = ["… " if lo > 0 else ""]
    pos = lo
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        out.append(html.escape(clean(text[pos:s]), quote=False))
        out.append("<b>" + html.escape(clean(text[s:e]), quote=False) + "</b>")
        pos = e
    out.append(html.escape(clean(text[pos:hi]), quote=False))
    if hi < len(text):
        out.append(" …")
    return "".join(out)


def facts_lines(detection: Detection) -> list[str]:
    lines = []
    if detection.count is not None:
        lines.append(f"People: {detection.count}")
    if detection.names:
        lines.append("Names: " + ", ".join(detection.names))
    if detection.countries:
        lines.append("Citizenship: " + ", ".join(detection.countries))
    return lines


def render_alert(post: Post, detection: Detection, *, channel_title: str | None = None, reason: str = "label",
                 header: str | None = None) -> Rendered:
    label = detection.label if detection.is_positive else "none"
    title = LABEL_TITLES.get(label, label.title())
    if reason.startswith("term:"):
        title = f"{title} · matches “{reason[5:]}”" if detection.is_positive else f"Watch term “{reason[5:]}”"
    icon = LABEL_ICONS.get(label, "🔔")
    source = channel_title or (f"@{post.channel_username}" if post.channel_username else f"channel {post.channel_id}")
    when = post.posted_at.strftime("%Y-%m-%d %H:%M UTC")
    facts = facts_lines(detection)

    h: list[str] = []
    if header:
        h.append(f"<i>{html.escape(header, quote=False)}</i>")
    h.append(f"{icon} <b>{html.escape(title, quote=False)}</b> · {html.escape(source, quote=False)} · {when}")
    h += [html.escape(clean(f), quote=False) for f in facts]
    if detection.is_positive:
        h.append(f"Confidence: {detection.confidence:.2f}")
    h.append("")
    h.append(highlight_html(post.text, detection))
    h.append("")
    h.append(f'<a href="{html.escape(post.permalink)}">Open the original post</a>')
    parts = split_html("\n".join(h))

    t: list[str] = []
    if header:
        t.append(header)
    t.append(f"{icon} {title} · {source} · {when}")
    t += [clean(f) for f in facts]
    if detection.is_positive:
        t.append(f"Confidence: {detection.confidence:.2f}")
    t.append("")
    lo, hi = _window(post.text, _spans(detection, len(post.text)))
    t.append(("… " if lo else "") + clean(post.text[lo:hi]) + (" …" if hi < len(post.text) else ""))
    t.append("")
    t.append(post.permalink)
    return Rendered(tuple(parts), "\n".join(t))


_TOKEN = re.compile(r"<[^>]*>|&[#a-zA-Z0-9]+;|[\ud800-\udbff][\udc00-\udfff]|.", re.S)


def split_html(s: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split HTML into parts of at most `limit` UTF-16 units, never inside a tag or entity;
    tags open at a cut are closed and reopened. Prefers cutting at a line break."""
    if utf16_len(s) <= limit:
        return [s]
    parts: list[str] = []
    cur: list[str] = []
    cur_len = 0
    stack: list[str] = []  # open tags, e.g. "<b>"
    last_nl = -1  # index in cur after the last newline

    def closing() -> str:
        return "".join(f"</{t[1:].split()[0].rstrip('>')}>" for t in reversed(stack))

    def closing_len() -> int:
        return utf16_len(closing())

    for tok in _TOKEN.findall(s):
        tlen = utf16_len(tok)
        if cur_len + tlen + closing_len() > limit and cur:
            cut = last_nl if last_nl > len(cur) // 2 else len(cur)
            head, tail = cur[:cut], cur[cut:]
            # Tags opened in the tail must not be counted as open at the cut.
            open_at_cut = _open_tags(head)
            parts.append("".join(head) + "".join(f"</{t[1:].split()[0].rstrip('>')}>" for t in reversed(open_at_cut)))
            cur = list(open_at_cut) + tail
            cur_len = sum(utf16_len(x) for x in cur)
            last_nl = -1
        cur.append(tok)
        cur_len += tlen
        if tok.startswith("</"):
            if stack:
                stack.pop()
        elif tok.startswith("<") and len(tok) > 1 and not tok.endswith("/>"):
            stack.append(tok)
        elif tok == "\n":
            last_nl = len(cur)
    if cur:
        parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def _open_tags(tokens: list[str]) -> list[str]:
    stack: list[str] = []
    for tok in tokens:
        if tok.startswith("</"):
            if stack:
                stack.pop()
        elif tok.startswith("<") and len(tok) > 1 and not tok.endswith("/>"):
            stack.append(tok)
    return stack
