"""Follow-ups: an edited or deleted source post edits the alerts already sent; never a second alert."""

import dataclasses
import re
from datetime import datetime, timezone

import pytest

from bot.models import Detection
from handlers.delivery import deliver_due
from handlers.followups import change_line, describe_changes, merge_changes
from handlers.posts import handle_deletion
from storage import outbox
from tests.bot.conftest import FakeChat, RecordingSender, capture, make_post


class FactsDetector:
    """Pardon when 'помил' appears; the first number is the count; 'Names: A, B' lists names."""

    version = "facts-1"

    def detect(self, text, lang=None):
        if "помил" not in text.lower():
            return Detection("none", 0.9, detector_version=self.version)
        m = re.search(r"\d+", text)
        names = tuple(n.strip() for n in text.split("Names:")[1].split(",")) if "Names:" in text else ()
        return Detection("pardon", 0.8, count=int(m.group(0)) if m else None, names=names,
                         names_normalized=tuple(n.lower() for n in names), detector_version=self.version)


@pytest.fixture
def fdeps(deps):
    return dataclasses.replace(deps, detector=FactsDetector())


async def _deliver(deps, sender):
    return await deliver_due(deps, {"telegram": sender})


def _edit(post, text, minute):
    return dataclasses.replace(post, text=text, edited_at=datetime(2025, 3, 10, 7, minute, tzinfo=timezone.utc))


async def test_edit_that_changes_facts_edits_the_sent_alert(fdeps):
    j = FakeChat(fdeps, 11)
    await j.send("/start")
    sender = RecordingSender()
    post = make_post(1, "Помилованы 14 человек. Names: Anna")
    await capture(fdeps, post)
    await _deliver(fdeps, sender)
    alert = sender.sent[0]
    assert alert.kind == "alert"
    sent_ids = await outbox.sent_message_ids(fdeps.db, alert.outbox_id)

    await capture(fdeps, _edit(post, "Помилованы 15 человек. Names: Anna, Ivan", 30))
    await _deliver(fdeps, sender)
    follow = sender.sent[-1]
    assert follow.kind == "followup"
    assert list(follow.edit_message_ids) == sent_ids
    assert "edited at 2025-03-10 07:30 UTC: count 14 → 15; names added: Ivan" in follow.text
    assert "15 человек" in follow.text
    assert follow.payload["event"] == "alert.edited" and follow.payload["changes"]["count"] == [14, 15]
    kinds = [i.kind for i in await outbox.for_post(fdeps.db, 42, 1)]
    assert kinds.count("alert") == 1  # never a second alert


async def test_text_only_edit_says_text_changed_and_whitespace_edit_says_nothing(fdeps):
    j = FakeChat(fdeps, 12)
    await j.send("/start")
    sender = RecordingSender()
    post = make_post(2, "Помилованы 3 человека")
    await capture(fdeps, post)
    await _deliver(fdeps, sender)
    await capture(fdeps, _edit(post, "Помилованы  3 человека ", 10))  # whitespace only
    rnd = await _deliver(fdeps, sender)
    assert rnd.sent == 0
    await capture(fdeps, _edit(post, "Помилованы 3 человека (уточнение)", 20))
    await _deliver(fdeps, sender)
    assert sender.sent[-1].kind == "followup" and "text changed" in sender.sent[-1].text


async def test_edit_before_the_alert_was_sent_only_updates_the_pending_alert(fdeps):
    j = FakeChat(fdeps, 13)
    await j.send("/start")
    post = make_post(3, "Помилованы 5 человек")
    await capture(fdeps, post)
    await capture(fdeps, _edit(post, "Помилованы 6 человек", 5))
    sender = RecordingSender()
    await _deliver(fdeps, sender)
    assert [m.kind for m in sender.sent] == ["alert"]
    assert "6 человек" in sender.sent[0].text


async def test_newer_edit_supersedes_an_unsent_followup(fdeps):
    j = FakeChat(fdeps, 14)
    await j.send("/start")
    sender = RecordingSender()
    post = make_post(4, "Помилованы 5 человек")
    await capture(fdeps, post)
    await _deliver(fdeps, sender)
    await capture(fdeps, _edit(post, "Помилованы 6 человек", 5))
    await capture(fdeps, _edit(post, "Помилованы 7 человек", 6))
    await _deliver(fdeps, sender)
    follows = [m for m in sender.sent if m.kind == "followup"]
    # One follow-up, saying what changed since the version the subscriber was shown.
    assert len(follows) == 1 and "count 5 → 7" in follows[0].text and "7 человек" in follows[0].text


async def test_deleted_source_edits_alert_and_keeps_text(fdeps):
    j = FakeChat(fdeps, 15)
    await j.send("/start")
    sender = RecordingSender()
    await capture(fdeps, make_post(5, "Помилованы 9 человек"))
    await _deliver(fdeps, sender)
    assert await handle_deletion(42, [5], fdeps) == [5]
    assert await handle_deletion(42, [5], fdeps) == []  # idempotent
    await _deliver(fdeps, sender)
    gone = sender.sent[-1]
    assert gone.kind == "deleted" and gone.edit_message_ids
    assert "deleted by the channel; the captured text is kept" in gone.text and "9 человек" in gone.text
    assert gone.payload["event"] == "alert.source_deleted"


async def test_deleted_before_sending_sends_alert_with_deleted_note(fdeps):
    j = FakeChat(fdeps, 16)
    await j.send("/start")
    await capture(fdeps, make_post(6, "Помилованы 2 человека"))
    await handle_deletion(42, [6], fdeps)
    sender = RecordingSender()
    await _deliver(fdeps, sender)
    assert [m.kind for m in sender.sent] == ["alert"] and "deleted by the channel" in sender.sent[0].text


async def test_followup_lines_are_translated(fdeps):
    j = FakeChat(fdeps, 17)
    await j.send("/start")
    await j.send("/language ru")
    sender = RecordingSender()
    post = make_post(7, "Помилованы 1 человек")
    await capture(fdeps, post)
    await _deliver(fdeps, sender)
    await capture(fdeps, _edit(post, "Помилованы 2 человека", 40))
    await _deliver(fdeps, sender)
    assert "отредактирован" in sender.sent[-1].text and "число 1 → 2" in sender.sent[-1].text


def test_describe_changes():
    a = Detection("pardon", 0.8, count=14, names=("A",), names_normalized=("a",))
    b = Detection("release", 0.8, count=None, names=("B",), names_normalized=("b",), countries=("LT",))
    ch = describe_changes("x", a, "x", b)
    assert ch == {"label": ["pardon", "release"], "count": [14, None], "names_added": ["B"],
                  "names_removed": ["A"], "countries": [[], ["LT"]]}
    line = change_line(ch)
    assert "label pardon → release" in line and "count 14 → —" in line and "names removed: A" in line
    assert describe_changes("a  b", a, "a b", a) is None
    assert describe_changes("a", None, "b", a) == {"text": True}
    merged = merge_changes({"count": [5, 6], "names_added": ["X"]}, {"count": [6, 5], "names_removed": ["X"]})
    assert merged is None
    assert merge_changes({"count": [5, 6]}, {"text": True}) == {"count": [5, 6], "text": True}
    assert change_line(None) == ""


async def test_edits_while_paused_arrive_after_resume(fdeps):
    j = FakeChat(fdeps, 18)
    await j.send("/start")
    sender = RecordingSender()
    post = make_post(8, "Помилованы 1 человек")
    await capture(fdeps, post)
    await _deliver(fdeps, sender)
    await j.send("/pause")
    await capture(fdeps, _edit(post, "Помилованы 2 человека", 40))
    await handle_deletion(42, [8], fdeps)
    await _deliver(fdeps, sender)
    assert [m.kind for m in sender.sent] == ["alert"]
    await j.send("/resume")
    await _deliver(fdeps, sender)
    assert [m.kind for m in sender.sent] == ["alert", "deleted"]  # the edit was superseded by the deletion
