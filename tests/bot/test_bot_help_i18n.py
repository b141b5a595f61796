"""Every command documents itself; every message exists in English, Russian and Belarusian."""

import re
import string

import pytest

from bot.i18n import CATALOGUE, LANGUAGES, t
from handlers.commands import COMMANDS
from tests.bot.conftest import OPERATOR, FakeChat


def test_every_command_has_a_one_line_description_telegram_accepts():
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    for c in COMMANDS:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", c.name), c.name
        assert c.description and "\n" not in c.description and 3 <= len(c.description) <= 256, c.name
        assert c.handler is not None, c.name
    assert {"start", "stop", "help", "settings", "status", "latest", "search", "pause", "resume", "forget",
            "language", "watch", "unwatch", "channels", "subscribers", "approve", "deny", "revoke", "invite",
            "stats", "test"} <= set(names)


async def test_help_shows_every_command_description(deps):
    text = await FakeChat(deps, OPERATOR).say("/help")
    for c in COMMANDS:
        assert f"/{c.name} — " in text, c.name


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_catalogue_is_complete_and_consistent(key):
    en, ru, be = CATALOGUE[key]
    assert en and ru and be, key
    assert _fields(en) == _fields(ru) == _fields(be), key
    assert en.count("<b>") == ru.count("<b>") == be.count("<b>"), key


def test_arguments_are_escaped():
    assert t("en", "term_added", term="<b>x</b>") == "Added watch term “&lt;b&gt;x&lt;/b&gt;”: it also matches other spellings and case forms."
    assert t("xx", "none") == "none"  # unknown language falls back to English
    assert set(LANGUAGES) == {"en", "ru", "be"}


async def test_language_switch(deps):
    j = FakeChat(deps, 11)
    await j.send("/start")
    assert "Язык: русский" in await j.say("/language ru")
    assert "Статус" in await j.say("/status")
    menu = (await j.send("/language"))[0]
    assert [b.data for row in menu.buttons for b in row] == ["s:lang:en", "s:lang:ru", "s:lang:be"]
    assert "Мова: Беларуская" in (await j.press("s:lang:be"))[0].text


def test_journalist_commands_are_described_in_every_language():
    from bot.i18n import COMMAND_DESCRIPTIONS
    from handlers.commands import menu

    journalist = {c.name for c in COMMANDS if not c.operator_only}
    assert set(COMMAND_DESCRIPTIONS) == journalist
    for lang in ("en", "ru", "be"):
        items = menu(lang)
        assert {n for n, _ in items} == journalist
        assert all(d and "\n" not in d and len(d) <= 256 for _, d in items)
    assert len(menu("en", operator=True)) == len(COMMANDS)


async def test_help_in_russian(deps):
    j = FakeChat(deps, 12)
    await j.send("/start")
    await j.send("/language ru")
    text = await j.say("/help")
    assert "/stop — отписаться" in text
