"""A scripted bot session (journalist, then operator) through the real handlers and a temporary
database, printed as a transcript: `python -m handlers.transcript`. No network; a fake clock."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.detection import load_detector
from bot.models import Channel, Post
from bot.timeutil import FakeClock
from handlers.chat import IncomingMessage, Reply
from handlers.commands import handle_message
from handlers.delivery import OutgoingMessage, deliver_due
from handlers.deps import Deps
from handlers.digest import run_digests
from handlers.liveness import report_session
from handlers.posts import handle_deletion, handle_post
from storage.db import open_database

BOT = "tgwatch_bot"
JOURNALIST, OPERATOR, APPLICANT = 424242, 1000, 515151


class CountingDetector:
    """The placeholder detector plus a head count (the rules engine of issue 4 extracts counts itself),
    so the transcript can show a follow-up that says what changed."""

    def __init__(self, inner):
        self.inner = inner
        self.version = inner.version + "+count"

    def detect(self, text: str, lang: str | None = None):
        d = self.inner.detect(text, lang)
        m = re.search(r"\b(\d+) человек", text)
        return dataclasses.replace(d, count=int(m.group(1))) if d.is_positive and m else d


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class Printer:
    def __init__(self, out):
        self.out = out
        self._next_id = 9000

    def line(self, s: str = "") -> None:
        print(s, file=self.out)

    def replies(self, replies: list[Reply], me: int) -> None:
        for r in replies:
            to = "" if r.chat_id in (None, me) else f" (to chat {r.chat_id})"
            edit = f" (edits message {r.edit_message_id})" if r.edit_message_id else ""
            self.line(f"bot{to}{edit}:")
            for ln in plain(r.text).splitlines():
                self.line(f"    {ln}")
            for row in r.buttons:
                self.line("    " + "  ".join(f"[{b.text} → {b.data}]" for b in row))

    async def send(self, message: OutgoingMessage) -> list[int]:
        what = {"alert": "alert", "followup": "follow-up (edits the alert)", "deleted": "follow-up (edits the alert)",
                "digest": "digest", "notice": "operator notice"}.get(message.kind, message.kind)
        edits = f" → edits messages {list(message.edit_message_ids)}" if message.edit_message_ids else ""
        self.line(f"bot pushes {what} to chat {message.address}{edits}:")
        for ln in message.text.splitlines():
            self.line(f"    {ln}")
        if message.edit_message_ids:
            return list(message.edit_message_ids)
        self._next_id += 1
        return [self._next_id]


async def run(out=sys.stdout) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tgwatch-transcript-"))
    db = await open_database(tmp / "t.db")
    clock = FakeClock(datetime(2025, 3, 10, 6, 0, tzinfo=timezone.utc))

    async def resolve(username: str) -> Channel:
        ids = {"minjust_by": 1001, "prokuratura_by": 1002}
        return Channel(channel_id=ids.get(username.lower(), 1999), username=username, title=None)

    async def backfill(ch: Channel, n: int) -> int:
        return 0

    deps = Deps(db=db, detector=CountingDetector(load_detector()), clock=clock, operators=(OPERATOR,), resolve=resolve,
                backfill=backfill, access_mode="approval")
    p = Printer(out)
    mid = [0]

    async def say(chat: int, text: str, name: str = "Journalist") -> None:
        mid[0] += 1
        p.line(f"{'operator' if chat == OPERATOR else 'journalist'} ({chat}): {text}")
        msg = IncomingMessage(chat_id=chat, text=text, user_id=chat, message_id=mid[0], user_name=name)
        p.replies(await handle_message(msg, deps, BOT), chat)
        p.line()

    async def press(chat: int, data: str, message_id: int = 1) -> None:
        p.line(f"{'operator' if chat == OPERATOR else 'journalist'} ({chat}) presses button {data}")
        msg = IncomingMessage(chat_id=chat, user_id=chat, message_id=message_id, callback_data=data)
        p.replies(await handle_message(msg, deps, BOT), chat)
        p.line()

    async def post(message_id: int, text: str, *, edited: bool = False, channel: int = 1001) -> None:
        posted = datetime(2025, 3, 10, 6, 0, tzinfo=timezone.utc) + timedelta(minutes=message_id)
        p.line(f"-- channel @minjust_by {'edits' if edited else 'publishes'} post {message_id}: {text}")
        await handle_post(Post(channel, message_id, text, posted, edited_at=clock() if edited else None,
                               channel_username="minjust_by"), deps)

    async def deliver() -> None:
        await deliver_due(deps, {"telegram": p})
        p.line()

    try:
        p.line("=== Operator session (setting up) ===")
        p.line()
        await say(OPERATOR, "/start", "Operator")
        await say(OPERATOR, "/watch @minjust_by backfill 50", "Operator")
        await say(OPERATOR, "/watch @prokuratura_by", "Operator")
        await say(OPERATOR, "/invite 1", "Operator")

        p.line("=== Journalist session ===")
        p.line()
        await say(JOURNALIST, "/start", "Anna (Nasha Niva)")
        await press(OPERATOR, "op:ap:2")
        await say(JOURNALIST, "/language en")
        await say(JOURNALIST, "/terms add Tsikhanouski")
        await say(JOURNALIST, "/labels pardon release")
        await say(JOURNALIST, "/settings")
        await press(JOURNALIST, "s:conf", message_id=50)
        await press(JOURNALIST, "s:conf:0.5", message_id=50)
        await post(1, "Указом Президента помилованы 14 человек, осуждённых за преступления экстремистской "
                      "направленности.")
        await post(2, "Ціханоўскага перавялі ў іншую калонію.")
        await post(3, "Прогноз погоды на выходные.")
        await deliver()
        clock.advance(1800)
        await post(1, "Указом Президента помилованы 15 человек, осуждённых за преступления экстремистской "
                      "направленности.", edited=True)
        await deliver()
        await handle_deletion(1001, [2], deps)
        p.line("-- channel @minjust_by deletes post 2")
        await deliver()
        await say(JOURNALIST, "/latest 2")
        await say(JOURNALIST, "/search Tikhanovsky")
        await say(JOURNALIST, "/digest 9 Europe/Minsk")
        await post(4, "Политзаключённый Иван Карпович вышел на свободу, полностью отбыв срок.")
        await deliver()
        clock.now = datetime(2025, 3, 11, 6, 0, tzinfo=timezone.utc)
        p.line("-- next day, 09:00 in Minsk: the digest job runs")
        await run_digests(deps)
        await deliver()
        await say(JOURNALIST, "/status")
        await say(JOURNALIST, "/pause")
        await say(JOURNALIST, "/resume")
        await say(JOURNALIST, "/watch @minjust_by")
        await say(JOURNALIST, "/terms add <script>alert(1)</script>")
        await say(JOURNALIST, "/help")

        p.line("=== Operator session ===")
        p.line()
        await say(APPLICANT, "/start", "Ivan <the intern>")
        await say(OPERATOR, "/subscribers", "Operator")
        await say(OPERATOR, "/deny 3", "Operator")
        await say(OPERATOR, "/channels", "Operator")
        await say(OPERATOR, "/stats", "Operator")
        await say(OPERATOR, "/test Помилованы 14 человек, среди них Ціханоўскі", "Operator")
        p.line("-- the Telegram reader reports the user session was revoked (twice; told once)")
        await report_session(deps, "revoked", "AUTH_KEY_UNREGISTERED")
        await report_session(deps, "revoked", "AUTH_KEY_UNREGISTERED")
        await deliver()
        await say(OPERATOR, "/revoke 2", "Operator")
        await say(JOURNALIST, "/forget")
        await press(JOURNALIST, "fg:yes")
    finally:
        await db.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()

