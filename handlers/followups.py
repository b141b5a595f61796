"""Follow-ups: what changed between two versions of an alerted post, and how to say it. Pure."""

from __future__ import annotations

from bot.i18n import raw
from bot.models import Detection


def normalized_text(text: str) -> str:
    """Whitespace-only edits are not changes a subscriber needs to hear about."""
    return " ".join((text or "").split())


def describe_changes(old_text: str, old: Detection | None, new_text: str, new: Detection) -> dict | None:
    """A JSON-able summary of an edit, or None when neither the text nor the detected facts changed."""
    changes: dict = {}
    if old is not None:
        if old.label != new.label:
            changes["label"] = [old.label, new.label]
        if old.count != new.count:
            changes["count"] = [old.count, new.count]
        old_names = dict(zip(old.names_normalized or old.names, old.names))
        new_names = dict(zip(new.names_normalized or new.names, new.names))
        added = [new_names[k] for k in new_names if k not in old_names]
        removed = [old_names[k] for k in old_names if k not in new_names]
        if added:
            changes["names_added"] = added
        if removed:
            changes["names_removed"] = removed
        if sorted(old.countries) != sorted(new.countries):
            changes["countries"] = [list(old.countries), list(new.countries)]
    if normalized_text(old_text) != normalized_text(new_text):
        changes["text"] = True
    return changes or None


def merge_changes(earlier: dict | None, later: dict | None) -> dict | None:
    """Two edits in a row, as the subscriber sees them: what changed since the version they were shown."""
    if not earlier:
        return later
    if not later:
        return earlier
    out: dict = {}
    for key in ("label", "count", "countries"):
        if key in earlier or key in later:
            first = (earlier.get(key) or later.get(key))[0]
            last = (later.get(key) or earlier.get(key))[1]
            if first != last:
                out[key] = [first, last]
    added = [n for n in earlier.get("names_added", []) if n not in later.get("names_removed", [])]
    added += [n for n in later.get("names_added", []) if n not in earlier.get("names_removed", [])]
    removed = [n for n in earlier.get("names_removed", []) if n not in later.get("names_added", [])]
    removed += [n for n in later.get("names_removed", []) if n not in earlier.get("names_added", [])]
    if added:
        out["names_added"] = list(dict.fromkeys(added))
    if removed:
        out["names_removed"] = list(dict.fromkeys(removed))
    if earlier.get("text") or later.get("text"):
        out["text"] = True
    return out or None


def _dash(v: object) -> str:
    return "—" if v in (None, "", []) else (", ".join(v) if isinstance(v, list) else str(v))


def change_line(changes: dict | None, lang: str = "en") -> str:
    """'count 14 → 15; names added: A' in the subscriber's language (plain text, not HTML)."""
    if not changes:
        return ""
    parts = []
    if "label" in changes:
        parts.append(raw(lang, "change_label", a=_dash(changes["label"][0]), b=_dash(changes["label"][1])))
    if "count" in changes:
        parts.append(raw(lang, "change_count", a=_dash(changes["count"][0]), b=_dash(changes["count"][1])))
    if changes.get("names_added"):
        parts.append(raw(lang, "change_names_added", names=", ".join(changes["names_added"])))
    if changes.get("names_removed"):
        parts.append(raw(lang, "change_names_removed", names=", ".join(changes["names_removed"])))
    if "countries" in changes:
        parts.append(raw(lang, "change_countries", a=_dash(changes["countries"][0]), b=_dash(changes["countries"][1])))
    if changes.get("text") and not parts:
        parts.append(raw(lang, "change_text"))
    return "; ".join(parts)
