"""Normalisation: folding, scripts, offsets back into the original text, hostile input."""

from __future__ import annotations

import time

from bot.detection import load_detector
from bot.detection.normalize import fold_term, lacinka_to_cyrillic, normalize


def words(text, lang=None):
    return [t.text for t in normalize(text, lang).tokens]


def test_fold_case_yo_and_belarusian_letters():
    assert words("ОСВОБОЖДЁН") == ["освобожден"]
    assert fold_term("памілаваў") == "памилавав"
    assert words("памілаваньне") == words("памілаванне")  # тарашкевіца soft signs


def test_final_soft_sign_separates_country_from_person():
    assert fold_term("Беларусь") != fold_term("беларус")


def test_lacinka_transliterates_to_cyrillic():
    assert lacinka_to_cyrillic("pamiłavańnie") == fold_term("памілаваньне")
    # a soft "l" marked with "i" as after other consonants: "voliu" = "волю", "lia" = "ля"
    assert lacinka_to_cyrillic("voliu") == lacinka_to_cyrillic("volu") == fold_term("волю")
    assert lacinka_to_cyrillic("lialka") == fold_term("лялька")
    assert words("Łukašenka pamiłavaŭ 12 čałaviek", "be") == [fold_term("Лукашэнка"), "памилавав", "12",
                                                                 fold_term("чалавек")]


def test_zero_width_and_mixed_scripts_inside_words():
    assert words("поми\u200bловал") == ["помиловал"]
    assert words("пoмилoвал") == ["помиловал"]  # Latin "o" look-alikes


def test_offsets_point_into_original_text():
    text = "🔴 #Помилование: Лукашенко ПОМИЛОВАЛ 16 человек"
    norm = normalize(text)
    for tok in norm.tokens:
        assert fold_term(text[tok.start:tok.end]) == tok.text


def test_forwarded_header_is_not_read():
    norm = normalize("Forwarded from Pul Pervogo\nПомилованы 5 человек")
    assert "forwarded" not in [t.text for t in norm.tokens]


def test_sentences_and_questions():
    norm = normalize("Ці памілуе? Не ведаем. U.S. officials said")
    assert norm.sentences[0].question
    assert len(norm.sentences) == 3  # "U.S." does not end a sentence


def test_hostile_text_is_fast_and_safe():
    det = load_detector()
    nasty = ("\x00\x07\ud800 \u202e\u200f помиловал \u2066" * 3) + "a" * 1_000_000
    start = time.perf_counter()
    out = det.detect(nasty)
    assert time.perf_counter() - start < 1.0
    assert out.label in ("pardon", "none")
    big = ("Лукашенко помиловал 16 человек. " + "слово " * 200_000)
    start = time.perf_counter()
    assert det.detect(big).label == "pardon"
    assert time.perf_counter() - start < 1.0


def test_non_string_and_empty_input():
    det = load_detector()
    assert det.detect("").label == "none"
    assert det.detect(None).label == "none"  # type: ignore[arg-type]


def test_unicode_digits_and_many_triggers_do_not_crash_or_stall():
    det = load_detector()
    assert det.detect("²<помиловал ٣ ⁵ 𝟗").label in ("pardon", "none")
    start = time.perf_counter()
    det.detect("Лукашенко помиловал 5 осуждённых. " + "слово " * 1500)
    det.detect("Пост 1. " + "Лукашенко помиловал осуждённых. " * 260)
    det.detect("помиловал " * 100_000)  # 1 MB of triggers: bounded by the character and hit caps
    assert time.perf_counter() - start < 1.0  # linear in the number of words and triggers
