"""Filters per subscriber (commands and the /settings keyboard) decide which posts are alerted."""

from handlers.delivery import deliver_due
from storage import subscribers
from tests.bot.conftest import OPERATOR, RecordingSender, capture, make_post


async def _alerts(deps):
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})
    return sender.sent


async def test_watch_terms_match_transliteration_and_case_forms(chat_factory, deps):
    j = chat_factory(11)
    await j.send("/start")
    await j.send("/labels release")  # a pardon is not wanted ...
    assert "Tsikhanouski" in await j.say("/terms add Tsikhanouski")
    await capture(deps, make_post(1, "Указ о помиловании Тихановского подписан"))  # ... unless it names him
    await capture(deps, make_post(2, "Помилованы 14 человек"))
    await capture(deps, make_post(3, "Ціханоўскаму прызначылі суд"))  # not positive, but names him
    await capture(deps, make_post(4, "Тихонов выступил"))
    sent = await _alerts(deps)
    assert sorted(m.payload["post"]["message_id"] for m in sent) == [1, 3]
    assert all(m.payload["reason"] == "term:Tsikhanouski" for m in sent)
    assert "Tsikhanouski" in sent[0].text


async def test_terms_commands(chat_factory):
    j = chat_factory(12)
    await j.send("/start")
    assert "no watch terms" in await j.say("/terms")
    await j.say("/terms add  Maria   Kalesnikava ")
    assert "Maria Kalesnikava" in await j.say("/terms")
    assert "already" not in await j.say("/terms add maria kalesnikava")  # idempotent, not duplicated
    assert (await j.say("/terms")).count("Kalesnikava") == 1
    assert "Removed" in await j.say("/terms remove MARIA KALESNIKAVA")
    assert "no watch term" in await j.say("/terms remove nobody")
    assert "name or a few words" in await j.say("/terms add !!!")
    assert "name or a few words" in await j.say("/terms add " + "x" * 500)
    assert "Usage" in await j.say("/terms frobnicate")
    for i in range(20):
        await j.send(f"/terms add name{i}")
    assert "already have 20" in await j.say("/terms add onemore")
    assert "removed" in await j.say("/terms clear")


async def test_labels_channels_confidence_commands(chat_factory, deps):
    j = chat_factory(13)
    await j.send("/start")
    await chat_factory(OPERATOR).send("/watch @minjust")
    assert "Unknown label" in await j.say("/labels pardon nonsense")
    assert "Labels: pardon, release" in await j.say("/labels pardon, release")
    assert "Labels: all" in await j.say("/labels all")
    assert "Not watched: @nowhere" in await j.say("/from @nowhere")
    assert "@minjust" in await j.say("/from https://t.me/minjust")
    assert "0.70" in await j.say("/confidence 70%")
    assert "0.50" in await j.say("/confidence 0,5")
    assert "Usage" in await j.say("/confidence 2.5.1")
    assert "Usage" in await j.say("/confidence nan")
    assert "Usage" in await j.say("/confidence -1")


async def test_confidence_and_channel_filters_apply(chat_factory, deps):
    j = chat_factory(14)
    await j.send("/start")
    await j.send("/confidence 1")
    await capture(deps, make_post(1, "Помилованы 14 человек"))  # no detector verdict reaches 1.0
    assert await _alerts(deps) == []
    await j.send("/confidence 0.5")
    await j.send("/from @other_channel")  # not watched: refused, filter unchanged
    await capture(deps, make_post(2, "Помилованы 3 человека", channel_id=43, username="other"))
    assert [m.payload["post"]["message_id"] for m in await _alerts(deps)] == [2]


async def test_operator_defined_labels_are_offered(chat_factory, deps):
    from dataclasses import replace

    class Detector:
        version = "custom-1"
        labels = ("arrest",)

        def detect(self, text, lang=None):
            return deps.detector.detect(text)

    d = replace(deps, detector=Detector())
    from tests.bot.conftest import FakeChat

    j = FakeChat(d, 15)
    await j.send("/start")
    assert "Labels: arrest" in await j.say("/labels arrest")
    menu = (await j.press("s:lab"))[0]
    assert "s:lab:t:arrest" in [b.data for row in menu.buttons for b in row]


async def test_settings_keyboard(chat_factory, deps, db):
    j = chat_factory(16)
    await j.send("/start")
    await chat_factory(OPERATOR).send("/watch @minjust")
    menu = (await j.send("/settings"))[0]
    sections = [b.data for row in menu.buttons for b in row]
    assert sections == ["s:lab", "s:ch", "s:conf", "s:mode", "s:hr", "s:lang"]
    seen = set()
    for section in sections:
        page = (await j.press(section, message_id=900))[0]
        assert page.edit_message_id == 900
        for row in page.buttons:
            for b in row:
                assert len(b.data.encode("utf-8")) <= 64
                seen.add(b.data)
    assert {"s:lab:t:pardon", "s:conf:0.7", "s:mode:mixed", "s:hr:23", "s:lang:ru", "s:ch:all"} <= seen
    await j.press("s:lab:t:pardon")
    await j.press("s:lab:t:release")
    await j.press("s:lab:t:pardon")  # toggles off
    ch = [x for x in seen if x.startswith("s:ch:t:")][0]
    await j.press(ch)
    await j.press("s:conf:0.8")
    await j.press("s:mode:mixed")
    await j.press("s:hr:7")
    page = (await j.press("s:lang:ru"))[0]
    assert "Категории" in page.text
    sub = await subscribers.find(db, "telegram", "16")
    f = await subscribers.subscription(db, sub.subscriber_id)
    assert (f.labels, f.min_confidence, f.mode, f.digest_hour, sub.language) == (("release",), 0.8, "mixed", 7, "ru")
    assert len(f.channel_ids) == 1
    # Stale or forged buttons get a clear answer.
    for bad in ["s:lab:t:nope", "s:ch:t:999", "s:conf:0.33", "s:hr:99", "s:lang:xx", "zz:1", "s:mode:x"]:
        out = await j.press(bad)
        assert out and out[0].text


async def test_latest_and_search(chat_factory, deps):
    j = chat_factory(17)
    await j.send("/start")
    assert "No captured post" in await j.say("/latest")
    for i in range(1, 8):
        await capture(deps, make_post(i, f"Помилованы {i} человек, среди них Бяляцкі", minutes=i))
    await capture(deps, make_post(20, "Погода в Минске", minutes=30))
    out = await j.say("/latest 3")
    assert "(3)" in out and "https://t.me/minjust/7" in out and "https://t.me/minjust/4" not in out
    assert "Usage" in await j.say("/latest 100")
    assert "Usage" in await j.say("/latest abc")
    found = await j.say("/search Bialiatski")
    assert "https://t.me/minjust/7" in found
    assert "Nothing found" in await j.say("/search Тихановский")
    assert "Usage" in await j.say("/search")
    assert "Usage" in await j.say("/search ! ?")


async def test_status_explains(chat_factory):
    j = chat_factory(18)
    assert "not subscribed" in await j.say("/status")
    await j.send("/start")
    await j.send("/terms add Bialiatski")
    out = await j.say("/status")
    assert "Bialiatski" in out and "Why" in out and "instant" in out


async def test_unknown_and_plain_text(chat_factory):
    j = chat_factory(19)
    assert "Unknown command /frob" in await j.say("/frob")
    assert "/help" in await j.say("hello")
    out = await j.say("/FROB<b>")
    assert "/FROB&lt;b&gt;" in out and "<b>" not in out
