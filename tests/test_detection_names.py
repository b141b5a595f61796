"""Name keys across case, spelling and script, and the watch-term helper other parts reuse."""

from __future__ import annotations

import pytest

from bot.detection.names import match_key
from bot.detection.terms import text_matches_term


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


@pytest.fixture(scope="module")
def detector():
    from bot.detection import load_detector
    return load_detector()


@pytest.mark.parametrize("text,names", [
    # Rare and foreign names are found by their descriptor, not by a first-name list.
    ("Лукашенко помиловал казахстанца Ержана Нурлыбаева.", ["Ержана Нурлыбаева"]),
    ("Лукашэнка памілаваў фермера Мікалая Дзеркача з Лідскага раёна.", ["Мікалая Дзеркача"]),
    ("Помилован житель Лидского района Фрол Сквирский.", ["Фрол Сквирский"]),  # not "Лидского"
    ("The teacher identified only as Alaksiej Z. was released from a colony.", ["Alaksiej Z."]),
    ("Освобождены:\n• Тамара Ковш (Речица), 63 года;\n• Арсений Лях (Орша), 29 лет.", ["Тамара Ковш", "Арсений Лях"]),
    ("Фермер из деревни Большие Ляды Прокоп Жук вышел на свободу.", ["Прокоп Жук"]),  # not the village
    ("Lukashenka pardoned an Estonian national, Toomas Kask, and a Latvian woman, Ieva Berzina.",
     ["Toomas Kask", "Ieva Berzina"]),
    # Officials, relatives and lawyers near the freed person are not taken.
    ("Из колонии вышел политзаключённый Радзивилл Костюкевич. Его встречала мать Гражина Костюкевич.",
     ["Радзивилл Костюкевич"]),
    ("Лукашенко помиловал гражданина Польши Збигнева Крулика, сообщил консул Польши Ежи Бурый.", ["Збигнева Крулика"]),
])
def test_names_extracted(detector, text, names):
    assert list(detector.detect(text).names) == names


def test_capitalised_number_word_at_the_very_end_does_not_crash():
    """Found by the benchmark's cut posts: a name run made only of a number word ('Оба') at the
    end of the text skipped past the last token."""
    from bot.detection import load_detector

    d = load_detector()
    text = ("Среди 31 помилованного 7 ноября — политзаключённые Елена Бабицкая из Гомеля и "
            "Сергей Коваленок из Кобрина. Оба ")
    det = d.detect(text)
    assert det.label == "pardon"
    assert "Елена Бабицкая" in det.names
    for tail in ("Оба", "Двое", "Трое.", "Both"):
        d.detect("Лукашенко помиловал осуждённых. " + tail)
