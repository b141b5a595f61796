"""Everything tgwatch knows about one post, as a JSON-ready dict for a fact-checker's file.

Includes every captured version with its capture time and the SHA-256 of its text (re-checked
against the stored text), the deletion time, every detection, and what tgwatch sent about the
post and when. Who received those messages is private and never included: only counts, kinds,
statuses and times.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from bot.errors import UserError
from bot.timeutil import iso
from storage import channels
from storage.db import Database
from storage.posts import sha256
from storage.research import post_detections, post_messages_sent, post_record, post_versions

SCHEMA = "tgwatch.evidence/1"


async def resolve_channel_id(db: Database, ref: str) -> int:
    """@name, t.me link or numeric id -> channel_id; raises UserError if unknown."""
    ch = await channels.find(db, ref)
    if ch is not None:
        return ch.channel_id
    ref_s = ref.strip().lstrip("@")
    if ref_s.lstrip("-").isdigit():
        return int(ref_s)
    raise UserError(f"no channel {ref!r} is in the archive; see `tgwatch channels list`")


def _loads(v: str | None) -> Any:
    return json.loads(v) if v else []


async def post_evidence(db: Database, channel_ref: str, message_id: int, *, now: datetime) -> dict[str, Any]:
    """The evidence record of one post. Raises UserError if the post was never captured."""
    channel_id = await resolve_channel_id(db, channel_ref)
    p = await post_record(db, channel_id, message_id)
    if p is None:
        raise UserError(
            f"post {message_id} of channel {channel_ref} was not captured; check the id in its t.me link"
        )
    versions = []
    for v in await post_versions(db, channel_id, message_id):
        versions.append(
            {
                "version": v["version"],
                "captured_at": v["captured_at"],
                "edited_at": v["edited_at"],
                "text": v["text"],
                "text_sha256": v["text_sha256"],
                "sha256_matches_text": sha256(v["text"]) == v["text_sha256"],
                "media": v["media"],
            }
        )
    detections = [
        {
            "detection_id": d["detection_id"],
            "version": d["version"],
            "label": d["label"],
            "confidence": d["confidence"],
            "count": d["count"],
            "names": _loads(d["names"]),
            "countries": _loads(d["countries"]),
            "extra_labels": _loads(d["extra_labels"]),
            "evidence": _loads(d["evidence"]),
            "detector_version": d["detector_version"],
            "detected_at": d["detected_at"],
        }
        for d in await post_detections(db, channel_id, message_id)
    ]
    sent = await post_messages_sent(db, channel_id, message_id)
    by_kind: dict[str, Counter] = {}
    for m in sent:
        by_kind.setdefault(m["kind"], Counter())[m["status"]] += 1
    sent_times = sorted(m["sent_at"] for m in sent if m["sent_at"])
    return {
        "schema": SCHEMA,
        "generated_at": iso(now),
        "post": {
            "channel_id": channel_id,
            "channel_username": p["channel_username"],
            "channel_title": p["channel_title"],
            "message_id": message_id,
            "permalink": p["permalink"],
            "posted_at": p["posted_at"],
            "edited_at": p["edited_at"],
            "first_captured_at": p["captured_at"],
            "last_changed_at": p["updated_at"],
            "deleted_at": p["deleted_at"],
            "current_version": p["version"],
            "source": p["source"],
            "media": p["media"],
            "forwarded_from": p["forwarded_from"],
            "grouped_id": p["grouped_id"],
            "album_message_ids": _loads(p["album_message_ids"]),
            "views": p["views"],
            "forwards": p["forwards"],
        },
        "versions": versions,
        "detections": detections,
        "notifications": {
            "note": "messages tgwatch queued or sent about this post; recipients are private and not listed",
            "total": len(sent),
            "by_kind": {k: dict(c) for k, c in sorted(by_kind.items())},
            "first_sent_at": sent_times[0] if sent_times else None,
            "last_sent_at": sent_times[-1] if sent_times else None,
            "items": [
                {"kind": m["kind"], "status": m["status"], "queued_at": m["created_at"], "sent_at": m["sent_at"]}
                for m in sent
            ],
        },
    }
