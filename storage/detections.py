"""The detections table: every detector verdict, with its evidence and detector version."""

from __future__ import annotations

import json
from datetime import datetime
from sqlite3 import Row

from bot.models import Detection, Evidence
from bot.timeutil import iso
from storage.db import Database


def _detection(r: Row) -> Detection:
    return Detection(
        label=r["label"],
        confidence=r["confidence"],
        count=r["count"],
        names=tuple(json.loads(r["names"])),
        names_normalized=tuple(json.loads(r["names_normalized"])),
        countries=tuple(json.loads(r["countries"])),
        evidence=tuple(Evidence(**e) for e in json.loads(r["evidence"])),
        detector_version=r["detector_version"],
        extra_labels=tuple(json.loads(r["extra_labels"])),
    )


_RECORD_SQL = """INSERT OR IGNORE INTO detections(channel_id, message_id, version, label, confidence, count, names,
     names_normalized, countries, evidence, extra_labels, detector_version, detected_at)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _json_list(values: tuple, ensure_ascii: bool = False) -> str:
    return json.dumps(list(values), ensure_ascii=ensure_ascii) if values else "[]"


def _row(channel_id: int, message_id: int, version: int, d: Detection, now: str) -> tuple:
    # Evidence as dicts in field order: the same JSON as dataclasses.asdict, ~10x cheaper.
    evidence = json.dumps(
        [{"rule_id": e.rule_id, "start": e.start, "end": e.end, "text": e.text, "role": e.role} for e in d.evidence],
        ensure_ascii=False,
    ) if d.evidence else "[]"
    return (
        channel_id, message_id, version, d.label, d.confidence, d.count, _json_list(d.names),
        _json_list(d.names_normalized), _json_list(d.countries, True), evidence, _json_list(d.extra_labels, True),
        d.detector_version, now,
    )


async def record(db: Database, channel_id: int, message_id: int, version: int, d: Detection, now: datetime) -> int:
    """Store a verdict; the same (post, version, detector version) is stored once. Needs a transaction.

    Returns the detection_id (existing or new).
    """
    await db.execute(_RECORD_SQL, _row(channel_id, message_id, version, d, iso(now)))
    return await db.fetchval(
        "SELECT detection_id FROM detections WHERE channel_id = ? AND message_id = ? AND version = ? AND detector_version = ?",
        (channel_id, message_id, version, d.detector_version),
    )


async def record_many(db: Database, verdicts: list[tuple[int, int, int, Detection]], now: datetime) -> None:
    """record() for many (channel_id, message_id, version, detection), in list order (so detection_ids
    come out as if recorded one by one); returns nothing. Needs a transaction."""
    if verdicts:
        at = iso(now)
        await db.executemany(_RECORD_SQL, [_row(c, m, v, d, at) for c, m, v, d in verdicts])


async def latest(db: Database, channel_id: int, message_id: int) -> tuple[int, Detection] | None:
    r = await db.fetchone(
        "SELECT * FROM detections WHERE channel_id = ? AND message_id = ? ORDER BY detection_id DESC LIMIT 1",
        (channel_id, message_id),
    )
    return (r["detection_id"], _detection(r)) if r else None


async def get(db: Database, detection_id: int) -> Detection | None:
    r = await db.fetchone("SELECT * FROM detections WHERE detection_id = ?", (detection_id,))
    return _detection(r) if r else None


async def for_post(db: Database, channel_id: int, message_id: int) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM detections WHERE channel_id = ? AND message_id = ? ORDER BY detection_id", (channel_id, message_id)
    )
