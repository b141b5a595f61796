"""/forget deletes everything stored about a subscriber: no trace remains anywhere in the database."""

import sqlite3

from handlers.delivery import deliver_due
from handlers.liveness import run_checks
from handlers.posts import handle_deletion
from storage import subscribers
from tests.bot.conftest import OPERATOR, FakeChat, RecordingSender, capture, make_post, with_mode

CHAT = 987654321987
NAME = "Zyxwvut Qqqq"


def _dump(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


async def test_forget_leaves_no_trace(deps, db, clock):
    d = with_mode(deps, "approval")
    j = FakeChat(d, CHAT, user_name=NAME)
    await j.send("/start")
    sid = (await subscribers.find(db, "telegram", str(CHAT))).subscriber_id
    await FakeChat(d, OPERATOR).send(f"/approve {sid}")
    await j.send("/terms add Tsikhanouski")
    await j.send("/digest 7 Europe/Minsk")
    await j.send("/mode mixed")
    await capture(d, make_post(1, "Помилованы 3 человека"))
    await capture(d, make_post(2, "Суд над Тихановским"))

    class Failing(RecordingSender):
        async def send(self, message):
            from bot.errors import RetryLater
            raise RetryLater("boom")

    for _ in range(4):
        await deliver_due(d, {"telegram": Failing()})
        clock.advance(3600)
    await run_checks(d)  # records a 'destination failing' event about this subscriber
    await handle_deletion(42, [1], d)
    before = _dump(db.path)
    assert str(CHAT) in before and NAME in before and "Tsikhanouski" in before and f"subscriber:{sid}" in before

    assert "cannot be undone" in await j.say("/forget")
    out = await j.press("fg:yes")
    assert "deleted" in out[0].text
    after = _dump(db.path)
    for trace in (str(CHAT), NAME, "Tsikhanouski", "Europe/Minsk", f"subscriber:{sid}"):
        assert trace not in after, trace
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE subscriber_id = ?", (sid,)) == 0
    assert await db.fetchval("SELECT count(*) FROM audit WHERE subscriber_id = ?", (sid,)) == 0
    # The operator's action stays in the audit trail, anonymised.
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'approve'") == 1
    assert "Nothing is stored" in await j.say("/forget yes")


async def test_forget_yes_in_one_step(deps):
    j = FakeChat(deps, 5)
    await j.send("/start")
    assert "deleted" in await j.say("/forget yes")
    assert await subscribers.find(deps.db, "telegram", "5") is None
