"""Watch terms: transliteration (BY/RU Cyrillic, Łacinka, English, Polish) and case endings."""

import time
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from bot.detection.terms import MAX_TERM_WORDS, normalize_term, term_words, text_matches_term

TSIKHANOUSKI_FORMS = [
    "Тихановский", "Тихановского", "Тихановскому", "Тихановским", "Тихановском",
    "Ціханоўскі", "Ціханоўскага", "Ціханоўскаму", "Ціханоўскім",
    "Tikhanovsky", "Tikhanovskiy", "Tsikhanouski", "Tsikhanouskaya", "Cichanoŭski", "Cichanouski",
    "Tsikhanovsky's", "ТИХАНОВСКИЙ",
]


@pytest.mark.parametrize("form", TSIKHANOUSKI_FORMS)
def test_tsikhanouski_matches_every_spelling_and_case(form):
    assert text_matches_term(f"Сегодня {form} был помилован.", "Tsikhanouski")


@pytest.mark.parametrize("term", ["Tsikhanouski", "Тихановский", "Ціханоўскі", "Tikhanovsky", "tikhanovskiy"])
def test_any_spelling_of_the_term_works(term):
    assert text_matches_term("Сяргей Ціханоўскі вызвалены", term)
    assert text_matches_term("Sergei Tikhanovsky was released", term)


@pytest.mark.parametrize(
    "term,text",
    [
        ("Bialiatski", "Алесь Бяляцкі"),
        ("Bialiatski", "освобождение Беляцкого"),
        ("Byalyatsky", "Ales Bialiatski"),
        ("Lukashenka", "указ Лукашенко"),
        ("Łukašenka", "Lukashenko signed"),
        ("Kalesnikava", "Марии Колесниковой"),
        ("Maria Kalesnikava", "о Марии Колесниковой сообщили"),
        ("Мария Колесникова", "Maryia Kalesnikava was seen"),
        ("Siarhei", "Сергея"),
        ("Babaryka", "Бабарико"),
        ("Protasevich", "Пратасевічу"),
        ("Ales", "Алеся"),
        ("Алесь", "Ales"),
        ("статья 411", "по статье 411 УК"),
        ("Aliaksandr", "Александра"),
        # official lists write the surname first
        ("Maria Kalesnikava", "Колесникова Мария"),
        ("Мария Александровна Колесникова", "8. Колесникова Мария Александровна, 1982 г.р."),
    ],
)
def test_cross_script_and_case_forms(term, text):
    assert text_matches_term(text, term)


@pytest.mark.parametrize(
    "term,text",
    [
        ("Tsikhanouski", "Тихонов"),
        ("Tsikhanouski", "Tsikhanouskiyevich"),  # a longer word is not a case form
        ("Bialiatski", "Белый"),
        ("Ivan", "Иванов"),
        ("Maria Kalesnikava", "Мария вышла. Колесникова"),  # words must be adjacent
        ("Мария Александровна Колесникова", "Александровна Колесникова Мария"),  # only two orders
        ("Maria Kalesnikava", "Колесникова и Мария"),  # reversed words must be adjacent too
        ("Article 411", "статья 412"),
        ("Ales", "Alesund"),
        ("Lukashenka", "Лука"),
    ],
)
def test_does_not_overmatch(term, text):
    assert not text_matches_term(text, term)


def test_empty_and_punctuation_terms_never_match():
    for term in ["", "   ", "!!!", "<b>", "*", "\x00"]:
        assert not text_matches_term("anything at all", term)
    assert not text_matches_term("", "Tsikhanouski")


def test_word_boundaries():
    assert not text_matches_term("абвТихановский", "Tsikhanouski")
    assert text_matches_term("(Тихановский)", "Tsikhanouski")
    assert not text_matches_term("сверхТихановский", "Tsikhanouski")


def test_terms_are_bounded():
    assert len(term_words(" ".join(["слово"] * 100))) == MAX_TERM_WORDS
    assert normalize_term("  Maria   Kalesnikava!! ") == "Maria Kalesnikava"
    assert normalize_term("<>") == ""


def test_pathological_inputs_finish_quickly():
    term = "a" * 10_000 + " " + "ab" * 5000
    text = ("aaaa " * 20_000) + ("ab" * 50_000)
    start = time.perf_counter()
    text_matches_term(text, term)
    text_matches_term(text, "(a+)+$" * 100)
    text_matches_term("x" * 200_000, "x" * 200)
    assert time.perf_counter() - start < 5  # generous: regex-free, linear


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=60))
def test_never_raises(text, term):
    assert text_matches_term(text, term) in (True, False)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="абвгдежзийклмнопрстуфхцчшщыэюяўі", min_size=3, max_size=20))
def test_a_word_always_matches_itself(word):
    assert text_matches_term(f"x {word} y", word)


def _naive(text, term):
    """The definition the index implements: scan every word (kept here as the reference)."""

    from bot.detection import terms as T

    words = T.term_words(term)
    if not words or not text:
        return False
    tkeys = [T.word_keys(w) for w in words]
    if not all(tkeys):
        return False
    keys = [T.word_keys(m.group(0)) for m in T._WORD.finditer(unicodedata.normalize("NFC", text))]

    def one(term_keys, text_keys):
        for t_coarse, t_fine in term_keys:
            stem = t_coarse[:-1] if t_coarse.endswith("*") else t_coarse
            short = sum(1 for c in stem if c != "*") < 3
            fine_stem = t_fine.rstrip("aeiu") or t_fine
            for w_coarse, w_fine in text_keys:
                if w_fine == t_fine:
                    return True
                if t_coarse.isdigit():
                    continue
                if short:
                    if w_fine.startswith(fine_stem) and T._FINE_ENDING.match(w_fine[len(fine_stem):]):
                        return True
                elif w_coarse.startswith(stem) and T._COARSE_ENDING.match(w_coarse[len(stem):]):
                    return True
        return False

    k = len(tkeys)
    orders = [list(tkeys)] + ([[tkeys[-1], *tkeys[:-1]]] if k > 1 else [])  # surname first
    return any(all(one(order[j], keys[i + j]) for j in range(k))
               for order in orders for i in range(len(keys) - k + 1))


_WORDS = st.sampled_from(["Тихановский", "Ціханоўскага", "Tsikhanouski", "Ales", "Алеся", "Ivan", "Иванов",
                          "411", "Мария", "Колесниковой", "Kalesnikava", "бюю", "a", "аб", "Лука", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=12).map(" ".join), st.lists(_WORDS, min_size=1, max_size=3).map(" ".join))
def test_index_agrees_with_the_naive_definition(text, term):
    assert text_matches_term(text, term) == _naive(text, term)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.text(max_size=30))
def test_index_agrees_on_arbitrary_text(text, term):
    assert text_matches_term(text, term) == _naive(text, term)


@pytest.mark.parametrize(
    "term,text",
    [
        ("Tsikhanouski", "Tichanowski"),  # German
        ("Tsikhanouski", "Cichanouski"),  # Polish
        ("Lukashenka", "Łukaszenka"),
        ("Lukashenka", "Lukaschenko"),
        ("Tsikhanouski", "Тихановський"),  # Ukrainian
        ("Piotr", "Пётр"),
        ("Pyotr", "Пётр"),
        ("Tsikhanouski", "«Тихановский»,"),
        ("Tsikhanouski", "Тsikhanouski"),  # a Cyrillic Т inside a Latin word
        ("Ціханоўскі", unicodedata.normalize("NFD", "Ціханоўскі")),  # decomposed ў
        ("Тихановский", "TIKHANOVSKY"),
    ],
)
def test_more_spellings(term, text):
    assert text_matches_term(text, term)


def test_term_order_of_words_in_text_with_punctuation():
    assert text_matches_term("Марыя, Калеснікава — на волі", "Maria Kalesnikava")
    assert text_matches_term("...Марии-Колесниковой...", "Maria Kalesnikava")
