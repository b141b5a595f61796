"""Number parsing in Russian, Belarusian and English."""

from __future__ import annotations

import pytest

from bot.detection.normalize import normalize
from bot.detection.numbers import parse_numbers


def values(text):
    return [n.value for n in parse_numbers(normalize(text))]


@pytest.mark.parametrize("text,value", [
    ("14", 14), ("1 250", 1250), ("7\u00a0850", 7850), ("8,000", 8000), ("8 тысяч", 8000),
    ("четырнадцать", 14), ("четырнадцати", 14), ("четырёмстам", 400), ("сто двадцать три", 123),
    ("двое", 2), ("трое", 3), ("двух", 2), ("семерых", 7), ("тридцатью", 30),
    ("чатырнаццаць", 14), ("шаснаццаць", 16), ("дваццаць пяць", 25), ("пяцьдзесят два", 52), ("сорак сем", 47), ("сарака двух", 42),
    ("fourteen", 14), ("Twenty-five", 25), ("one hundred and twenty-three", 123), ("Eighteen", 18),
])
def test_number_values(text, value):
    assert values(text) == [value]


def test_decimals_and_times_are_not_counts():
    assert values("2,5 года") == []
    assert values("в 12:00") == []


def test_vague_quantities_have_no_value():
    assert values("несколько человек") == [None]
    assert values("dozens of prisoners") == [None]


def test_separate_numbers_stay_separate():
    assert values("16 мужчин и 14 женщин") == [16, 14]
    assert values("Three women and twenty men") == [3, 20]


def test_number_words_join_only_as_a_compound():
    # Punctuation parts two numbers, and a compound only adds a smaller part to a round one.
    assert values("четверых — троих граждан") == [4, 3]
    assert values("двое, трое") == [2, 3]
    assert values("четыре три") == [4, 3]
    assert values("двадцать три человека") == [23]
    assert values("сто двадцать пять") == [125]
    assert values("дваццаці пяці асуджаных") == [25]


def test_a_dozen_is_twelve_but_dozens_stay_vague():
    assert values("a dozen inmates") == [12]
    assert values("half a dozen prisoners") == [6]
    assert values("дюжина осуждённых") == [12]
    assert values("dozens of inmates") == [None]
    assert values("the dozen") == [None]  # no article: not a stated count
