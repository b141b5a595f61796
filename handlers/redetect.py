"""Re-running the current detector over stored posts (after a rules or code change).

New verdicts are recorded with the current detector version next to the old ones;
nothing is queued: old posts never re-alert. Idempotent: a second run with the same
detector version records nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.timeutil import iso
from handlers.deps import Deps
from storage import detections

log = logging.getLogger(__name__)


@dataclass
class RedetectReport:
    scanned: int = 0
    recorded: int = 0  # new detection rows (posts not yet seen by this detector version)
    changed: int = 0  # posts whose label differs from their previous latest detection
    changes: dict[str, int] = field(default_factory=dict)  # "none->pardon": n


async def redetect(deps: Deps, *, since: datetime | None = None, batch: int = 500) -> RedetectReport:
    report = RedetectReport()
    version = deps.detector.version
    sql = """SELECT p.channel_id, p.message_id, p.version, p.text,
                    (SELECT d.label FROM detections d WHERE d.channel_id = p.channel_id AND d.message_id = p.message_id
                     ORDER BY d.detection_id DESC LIMIT 1) AS previous,
                    EXISTS (SELECT 1 FROM detections d WHERE d.channel_id = p.channel_id AND d.message_id = p.message_id
                            AND d.version = p.version AND d.detector_version = ?) AS done
             FROM posts p"""
    params: list = [version]
    if since is not None:
        sql += " WHERE p.posted_at >= ?"
        params.append(iso(since))
    sql += " ORDER BY p.posted_at, p.channel_id, p.message_id"
    pending: list = []
    async for row in deps.db.iterate(sql, params):
        report.scanned += 1
        if row["done"]:
            continue
        pending.append((row["channel_id"], row["message_id"], row["version"], row["text"], row["previous"]))
        if len(pending) >= batch:
            await _flush(deps, pending, report)
            pending = []
    if pending:
        await _flush(deps, pending, report)
    log.info("redetect: scanned %d posts, recorded %d, label changed for %d", report.scanned, report.recorded,
             report.changed)
    return report


async def _flush(deps: Deps, rows: list, report: RedetectReport) -> None:
    now = deps.clock()
    results = [(cid, mid, ver, prev, deps.detector.detect(text)) for cid, mid, ver, text, prev in rows]
    async with deps.db.transaction():
        for cid, mid, ver, prev, d in results:
            await detections.record(deps.db, cid, mid, ver, d, now)
            report.recorded += 1
            if prev is not None and prev != d.label:
                report.changed += 1
                key = f"{prev}->{d.label}"
                report.changes[key] = report.changes.get(key, 0) + 1
