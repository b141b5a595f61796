"""Count of the main event: group sums, the whole group before its parts, ages in name lists."""

from __future__ import annotations

import pytest

from bot.detection import load_detector


@pytest.fixture(scope="module")
def det():
    return load_detector()


@pytest.mark.parametrize("text,count", [
    ("Помилованы трое мужчин и две женщины.", 5),
    ("Лукашэнка памілаваў трох беларусаў і грамадзяніна Францыі.", 4),
    ("Lukashenka pardoned four men and three women.", 7),
    ("Помилованы пятеро граждан Беларуси и двое граждан Украины.", 7),
    ("На свободу вышли двое политзаключённых и один иностранец.", 3),
    ("Из 30 помилованных сегодня 12 — женщины, пятеро старше 65 лет.", 30),
    ("Of the 18 people pardoned today, seven are women.", 18),
    ("Lukashenka pardoned a dozen inmates.", 12),
    ("Lukashenka pardoned a Nigerian national and a Brazilian citizen.", 2),
    ("Памілаваны грамадзяне Швецыі і Фінляндыі.", None),  # a plural with no number
    ("Помилованы 14 человек, из них 3 женщины.", 14),
    # collective numerals count people whatever noun follows them
    ("Троих фигурантов дела о донатах отпустили из СИЗО под подписку о невыезде.", 3),
    ("Пасля году ў СІЗА вызвалілі пад падпіску аб нявыездзе траіх супрацоўнікаў IT-кампаніі.", 3),
    # a breakdown after a dash is not added to the count
    ("Обмен на границе: Минск освободил четверых — троих граждан Польши и белоруса.", 4),
    # an age after a name and a comma is not the count
    ("In a swap, Minsk freed US citizen Mark Holloway, 63, in exchange for a Belarusian.", 1),
])
def test_counts(det, text, count):
    assert det.detect(text).count == count


def test_ages_after_names_in_a_list_are_not_counts(det):
    text = "Released after serving their sentences:\n• Aliaksandr Kavalchuk, 58\n• Iryna Hlebava, 34\n"
    assert det.detect(text).count == 2
