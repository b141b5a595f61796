from dataclasses import replace

from bot.models import Detection
from handlers.posts import handle_post
from handlers.redetect import redetect
from storage import outbox, subscribers
from tests.conftest import make_post


class FixedDetector:
    """A detector stand-in whose verdict and version we choose (a rules change)."""

    def __init__(self, label: str, version: str):
        self.label, self.version = label, version

    def detect(self, text, lang=None):
        return Detection(self.label, 0.9, count=1 if self.label != "none" else None, detector_version=self.version)


async def test_redetect_records_new_results_without_alerting(deps):
    async with deps.db.transaction():
        await subscribers.upsert(deps.db, "telegram", "1", deps.clock())
    await handle_post(make_post(1, "Обычная новость про урожай."), deps)
    await handle_post(make_post(2, "Ещё одна новость."), deps)
    queued_before = await outbox.pending_count(deps.db)

    new = replace(deps, detector=FixedDetector("pardon", "test-2"))
    report = await redetect(new)
    assert report.scanned == 2 and report.recorded == 2 and report.changes == {"none->pardon": 2}
    assert await outbox.pending_count(deps.db) == queued_before  # no re-alerting
    again = await redetect(new)
    assert again.recorded == 0  # idempotent for the same detector version
    labels = [r[0] for r in await deps.db.fetchall(
        "SELECT label FROM detections WHERE message_id = 1 ORDER BY detection_id")]
    assert labels == ["none", "pardon"]


async def test_redetect_since_filters_by_post_date(deps):
    from datetime import datetime, timezone

    await handle_post(make_post(1, "old", posted_at=datetime(2024, 1, 1, tzinfo=timezone.utc)), deps)
    await handle_post(make_post(2, "new", posted_at=datetime(2025, 6, 1, tzinfo=timezone.utc)), deps)
    report = await redetect(replace(deps, detector=FixedDetector("none", "v9")),
                            since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert report.scanned == 1
