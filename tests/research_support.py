"""Shared set-up for the research tests: a migrated database with a small known archive, and a
Telegram Desktop export written in the exporter's real format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.detection import load_detector
from bot.models import Channel, Post
from bot.timeutil import FakeClock
from handlers.deps import Deps
from handlers.posts import handle_deletion, handle_post
from storage import channels
from storage.db import open_database

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
BELTA, PUL = 1100000001, 1100000002

PARDON = "Александр Лукашенко помиловал 14 осуждённых. Указ о помиловании подписан сегодня."
RELEASE = "Освобождены 3 политических заключённых, сообщили правозащитники."
NEWS = 'Уборочная кампания: намолочено более 1,2 млн тонн "зерна", в т.ч.\nячмень; рожь'
WEATHER = "Погода: дожди, ветер, +12. Ёлки в Минске уже ставят."


async def make_deps(tmp_path: Path, clock: FakeClock | None = None) -> Deps:
    db = await open_database(tmp_path / "tgwatch.db")
    return Deps(db=db, detector=load_detector(), clock=clock or FakeClock(T0))


def post(channel_id: int, message_id: int, text: str, at: datetime, **kw) -> Post:
    username = {BELTA: "belta_telegramm", PUL: "pul_pervogo"}.get(channel_id)
    return Post(channel_id=channel_id, message_id=message_id, text=text, posted_at=at, channel_username=username, **kw)


async def seed(deps: Deps) -> None:
    """Five posts in two channels; one edited twice (3 versions), one deleted.

    belta/1 news (day 0)     belta/2 pardon (day 1), edited -> v2 (pardon), v3 (news-like text)
    pul/10 release (day 2)   pul/11 weather (day 3)   pul/12 pardon (day 4), deleted
    """
    clock = deps.clock
    async with deps.db.transaction():
        await channels.upsert(deps.db, Channel(BELTA, "belta_telegramm", "БелТА"), clock())
        await channels.upsert(deps.db, Channel(PUL, "pul_pervogo", "Пул Первого"), clock())
    day = timedelta(days=1)
    await handle_post(post(BELTA, 1, NEWS, T0, views=100, media="photo"), deps)
    await handle_post(post(BELTA, 2, PARDON, T0 + day, views=5), deps)
    clock.advance(60)
    await handle_post(post(BELTA, 2, PARDON + " Список уточняется.", T0 + day, edited_at=T0 + day + timedelta(minutes=1)), deps)
    clock.advance(60)
    await handle_post(post(BELTA, 2, "Текст удалён редакцией.", T0 + day, edited_at=T0 + day + timedelta(minutes=2)), deps)
    await handle_post(post(PUL, 10, RELEASE, T0 + 2 * day, forwards=7), deps)
    await handle_post(post(PUL, 11, WEATHER, T0 + 3 * day), deps)
    await handle_post(post(PUL, 12, PARDON, T0 + 4 * day), deps)
    clock.advance(3600)
    await handle_deletion(PUL, [12], deps)


# --- Telegram Desktop export, in the exporter's own layout -------------------------------------

EXPORT_ID = 1234567890


def tdesktop_messages() -> list[dict]:
    """Messages as Telegram Desktop writes them: local `date` + `date_unixtime` strings, rich-text
    arrays, service messages, files not included, an album of three photos, a poll, an edit."""
    base = 1740819600  # 2025-03-01T09:00:00Z
    not_included = "(File not included. Change data exporting settings to download.)"

    def m(mid: int, t: int, text, **extra) -> dict:
        d = {"id": mid, "type": "message", "date": datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S"),
             "date_unixtime": str(t), "from": "Пул Первого", "from_id": f"channel{EXPORT_ID}"}
        d.update(extra)
        d["text"] = text
        d["text_entities"] = _entities(text)
        return d

    return [
        {"id": 1, "type": "service", "date": "2025-03-01T12:00:00", "date_unixtime": str(base - 10),
         "actor": "Пул Первого", "actor_id": f"channel{EXPORT_ID}", "action": "create_channel", "title": "Пул Первого",
         "text": "", "text_entities": []},
        m(2, base, ["Александр Лукашенко ", {"type": "bold", "text": "помиловал"}, " 14 осуждённых. ",
                    {"type": "text_link", "text": "Указ", "href": "https://president.gov.by/"}, " подписан."],
          edited="2025-03-01T12:05:00", edited_unixtime=str(base + 300)),
        m(3, base + 60, "Погода на выходные: без осадков.", photo=not_included, width=1280, height=720),
        # An album: three photos sent together, caption on the first.
        m(4, base + 120, ["Освобождены ", {"type": "hashtag", "text": "#политзаключенные"}], photo=not_included,
          width=800, height=600),
        m(5, base + 120, "", photo=not_included, width=800, height=600),
        m(6, base + 120, "", file=not_included, media_type="video_file", mime_type="video/mp4", duration_seconds=12),
        m(7, base + 180, "", poll={"question": "Вы за амнистию?", "closed": False, "total_voters": 10,
                                   "answers": [{"text": "Да", "voters": 7, "chosen": False}]}),
        m(8, base + 240, "Репост новости", forwarded_from="БелТА", file=not_included, file_name="указ.pdf",
          mime_type="application/pdf"),
        {"id": 9, "type": "unsupported"},
    ]


def _entities(text) -> list[dict]:
    if isinstance(text, str):
        return [{"type": "plain", "text": text}] if text else []
    return [{"type": "plain", "text": p} if isinstance(p, str) else p for p in text]


def write_tdesktop_export(path: Path, messages: list[dict] | None = None, *, chat_type: str = "public_channel") -> Path:
    doc = {"name": "Пул Первого", "type": chat_type, "id": EXPORT_ID, "messages": messages or tdesktop_messages()}
    # Telegram Desktop writes UTF-8 unescaped with one-space indentation per level.
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
