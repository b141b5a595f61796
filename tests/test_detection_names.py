"""Name keys across case, spelling and script, and the watch-term helper other parts reuse."""

from __future__ import annotations

import pytest

from bot.detection.names import match_key, text_matches_term


@pytest.mark.parametrize("a,b", [
    ("Тихановский", "Ціханоўскі"), ("Тихановский", "Tsikhanouski"), ("Тихановский", "Tikhanovsky"),
    ("Тихановский", "Тихановского"), ("Сергей Тихановский", "Siarhei Tsikhanouski"),
    ("Колесникова", "Калеснікава"), ("Мария Колесникова", "Maryia Kalesnikava"),
    ("Денисенко", "Дзянісенка"), ("Игорь Лосик", "Ihar Losik"), ("Бяляцкі", "Bialiatski"),
    ("Мовшук", "Маўшук"), ("Зеньковича", "Зенькович"), ("Кузнечик", "Kuznechyk"),
    ("Гуринович", "Hurynovich"), ("Вадима Ермака", "Вадим Ермак"),
])
def test_keys_equal_across_forms(a, b):
    assert match_key(a) == match_key(b)


@pytest.mark.parametrize("a,b", [("Тихановский", "Бабарико"), ("Лосик", "Дедок"), ("Сак", "Жук")])
def test_different_names_differ(a, b):
    assert match_key(a) != match_key(b)


def test_text_matches_term():
    text = "Среди помилованных — Сергей Тихановский и Марыя Калеснікава."
    assert text_matches_term(text, "Tsikhanouski")
    assert text_matches_term(text, "Kalesnikava")
    assert text_matches_term(text, "Тихановский Сергей")
    assert not text_matches_term(text, "Babaryka")
    assert not text_matches_term(text, "")
