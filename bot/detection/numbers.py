"""Numbers written as digits ("14", "1 250", "8,000") or words in Russian, Belarusian and English,
in any case and gender ("четырнадцати", "чатырнаццаць", "двое", "Twenty-five").

Works on folded tokens from normalize.py (ё→е, і→и, ў→в, soft signs dropped). Pure functions.
"""

from __future__ import annotations

import re
from functools import partial
from typing import NamedTuple

from bot.detection.normalize import Normalized, fold_term

_DIGITS = re.compile(r"\d+")


def _forms(value: int, *stems_and_endings: str) -> dict[str, int]:
    """'пят|и|ю' → {пят: v, пяти: v, пятю: v}; the first part is the stem."""
    out: dict[str, int] = {}
    for spec in stems_and_endings:
        stem, *ends = spec.split("|")
        for end in ends or [""]:
            out[fold_term(stem + end)] = value
        out[fold_term(stem)] = value
    return out


def _build_words() -> tuple[dict[str, int], dict[str, int]]:
    units: dict[str, int] = {}
    add = units.update
    # Russian
    add(_forms(1, "один", "одна", "одно", "одного", "одной", "одному", "одним", "одну", "одном"))
    add(_forms(2, "два", "две", "двух", "двум", "двумя", "двое", "двоих", "двоим", "двоими"))
    add(_forms(3, "три", "трех", "трем", "тремя", "трое", "троих", "троим", "троими"))
    add(_forms(4, "четыре", "четырех", "четырем", "четырьмя", "четверо", "четверых", "четверым"))
    for v, stem in ((5, "пять"), (6, "шесть"), (8, "восемь"), (9, "девять"), (10, "десять"),
                    (11, "одиннадцать"), (12, "двенадцать"), (13, "тринадцать"), (14, "четырнадцать"),
                    (15, "пятнадцать"), (16, "шестнадцать"), (17, "семнадцать"), (18, "восемнадцать"),
                    (19, "девятнадцать"), (20, "двадцать"), (30, "тридцать")):
        base = fold_term(stem)
        root = base.rstrip("ь")
        add({base: v, root + "и": v, root + "ю": v})
    add(_forms(7, "семь", "семи"))
    add(_forms(8, "восьми", "восьмью"))
    add(_forms(5, "пятеро", "пятерых", "пятерым"))
    add(_forms(6, "шестеро", "шестерых", "шестерым"))
    add(_forms(7, "семеро", "семерых", "семерым"))
    add(_forms(8, "восьмеро", "восьмерых"))
    add(_forms(9, "девятеро", "девятерых"))
    add(_forms(10, "десятеро", "десятерых"))
    add(_forms(40, "сорок", "сорока"))
    for v, stem, obl in ((50, "пятьдесят", "пятидесяти"), (60, "шестьдесят", "шестидесяти"),
                         (70, "семьдесят", "семидесяти"), (80, "восемьдесят", "восьмидесяти")):
        add(_forms(v, stem, obl))
    add(_forms(90, "девяносто", "девяноста"))
    add(_forms(100, "сто", "ста"))
    add(_forms(200, "двести", "двухсот", "двумстам", "двумястами", "двухстах"))
    add(_forms(300, "триста", "трехсот", "тремстам"))
    add(_forms(400, "четыреста", "четырехсот", "четыремстам", "четырьмястами"))
    for v, stem, gen, dat in ((500, "пятьсот", "пятисот", "пятистам"), (600, "шестьсот", "шестисот", "шестистам"),
                              (700, "семьсот", "семисот", "семистам"), (800, "восемьсот", "восьмисот", "восьмистам"),
                              (900, "девятьсот", "девятисот", "девятистам")):
        add(_forms(v, stem, gen, dat))
    # Belarusian (folded: і→и, ў→в, ь dropped)
    add(_forms(1, "адзін", "адна", "адно", "аднаго", "адной", "аднаму", "адным", "адну"))
    add(_forms(2, "дзве", "дваіх", "дваім"))
    add(_forms(3, "тры", "трох", "тром", "траіх"))
    add(_forms(4, "чатыры", "чатырох", "чатыром", "чацвёра", "чацвярых"))
    for v, stem in ((5, "пяць"), (6, "шэсць"), (7, "сем"), (8, "восем"), (9, "дзевяць"), (10, "дзесяць"),
                    (11, "адзінаццаць"), (12, "дванаццаць"), (13, "трынаццаць"), (14, "чатырнаццаць"),
                    (15, "пятнаццаць"), (16, "шаснаццаць"), (17, "сямнаццаць"), (18, "васямнаццаць"),
                    (19, "дзевятнаццаць"), (20, "дваццаць"), (30, "трыццаць")):
        base = fold_term(stem)
        root = base.rstrip("ь")
        add({base: v, root + "и": v, root + "ю": v})
    add(_forms(6, "шасці", "шасцю", "шасцёра", "шасцярых"))
    add(_forms(7, "сямі", "сямю", "сямёра", "сямярых"))
    add(_forms(8, "васьмі", "васьмю", "васьмёра"))
    add(_forms(5, "пяцёра", "пяцярых", "пяцёх"))
    add(_forms(6, "шасцёх"))
    add(_forms(7, "сямёх"))
    add(_forms(8, "васьмёх"))
    add(_forms(9, "дзевяцёх", "дзевяцярых", "дзевяцёра"))
    add(_forms(10, "дзесяцёх", "дзесяцярых", "дзесяцёра"))
    add(_forms(7, "сямёра"))
    add(_forms(8, "васьмёра"))
    add(_forms(2, "абодва", "абедзве", "оба", "обе", "обоих", "абодвух", "both"))
    add(_forms(40, "сорак", "сарака"))
    add(_forms(50, "пяцьдзесят", "пяцідзесяці"))
    add(_forms(60, "шэсцьдзесят", "шасцідзесяці"))
    add(_forms(70, "семдзесят", "сямідзесяці"))
    add(_forms(80, "восемдзесят", "васьмідзесяці"))
    add(_forms(90, "дзевяноста"))
    add(_forms(200, "дзвесце", "двухсот"))
    add(_forms(300, "трыста", "трохсот"))
    add(_forms(400, "чатырыста", "чатырохсот"))
    add(_forms(500, "пяцьсот", "пяцісот"))
    # English
    for v, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                          "fourteen fifteen sixteen seventeen eighteen nineteen".split(), 1):
        units[w] = v
    for v, w in zip(range(20, 100, 10), "twenty thirty forty fifty sixty seventy eighty ninety".split()):
        units[w] = v
    units["hundred"] = 100
    scales = {"тысяча": 1000, "тысячи": 1000, "тысяч": 1000, "тысячу": 1000, "тысячам": 1000,
              "тысячы": 1000, "thousand": 1000, "thousands": 0, "миллион": 10**6, "million": 10**6}
    return units, {fold_term(k): v for k, v in scales.items()}


_WORDS, _SCALES = _build_words()
# Vague quantities: a count exists but is not exact, so the detection's count is null.
_VAGUE = {fold_term(w) for w in (
    "несколько нескольких нескольким десятки десятков сотни сотен тысячи некалькі некалькіх "
    "дзясяткі дзясяткаў сотні соцень several few dozens dozen hundreds scores many многие многих "
    "шматлікія").split()}


_DOZEN = {fold_term(w) for w in "dozen дюжина дюжину дюжины дюжиной тузин тузін".split()}


class Number(NamedTuple):
    value: int | None  # None for vague quantities ("several", "dozens")
    first: int  # token index range [first, last)
    last: int
    word: bool  # written as words


_new_number = partial(tuple.__new__, Number)  # skips the NamedTuple's Python-level __new__


def parse_numbers(norm: Normalized, sentences: list[int] | None = None) -> list[Number]:
    """Every number in the post (or in the given sentences), merging "1 250", "8,000",
    "двадцать пять", "8 тысяч"."""
    if sentences is None:
        return _parse_range(norm, 0, len(norm.tokens))
    out: list[Number] = []
    for s in sentences:
        sent = norm.sentences[s]
        out += _parse_range(norm, sent.first, sent.last)
    return out


def _parse_range(norm: Normalized, first: int, last: int) -> list[Number]:
    toks = norm.tokens
    text = norm.original
    out: list[Number] = []
    i, n = first, last
    while i < n:
        t = toks[i].text
        if is_digits(t):
            j, value = i + 1, int(t) if len(t) < 10 else None
            if value is None:
                i += 1
                continue
            # Decimal or time ("2,5 года", "12:00") is not a head count.
            if j < n and is_digits(toks[j].text) and text[toks[i].end:toks[j].start] in (".", ",", ":") \
                    and len(toks[j].text) != 3:
                i = j + 1
                continue
            while (j < n and len(toks[j].text) == 3 and is_digits(toks[j].text) and value < 1000
                   and text[toks[j - 1].end:toks[j].start] in (" ", "\u00a0", "\u202f", ",", "\u2009")):
                value = value * 1000 + int(toks[j].text)
                j += 1
            if j < n and toks[j].text in _SCALES and toks[j].sent == toks[i].sent:
                value = value * _SCALES[toks[j].text] or None
                j += 1
                if value and j < n and is_digits(toks[j].text) and len(toks[j].text) <= 3 \
                        and _SCALES.get(toks[j - 1].text) == 1000 and text[toks[j - 1].end:toks[j].start] == " ":
                    value += int(toks[j].text)  # "5 тысяч 430"
                    j += 1
            out.append(_new_number((value, i, j, False)))
            i = j
        elif t in _DOZEN and (t != "dozen" or i > first and toks[i - 1].text in ("a", "one")):
            # "a dozen inmates", "дюжина осуждённых" = 12; "half a dozen" = 6; "dozens" stays vague
            half = t == "dozen" and i - 1 > first and toks[i - 2].text == "half"
            out.append(Number(6 if half else 12, i, i + 1, True))
            i += 1
        elif t in _WORDS or t in _VAGUE:
            j, total, current = i, 0, 0
            while j < n and toks[j].sent == toks[i].sent:
                w = toks[j].text
                if w in _WORDS:
                    v = _WORDS[w]
                    if j > i and text[toks[j - 1].end:toks[j].start].strip(" \u00a0-"):
                        break  # "четверых — троих", "two, three": punctuation parts two numbers
                    if v == 100 and w == "hundred":
                        current = max(current, 1) * 100
                    elif current and (v >= current or not (current % 100 == 0 and v < 100 or current % 10 == 0 and v < 10)):
                        break  # "three two", "четверых троих" are two numbers; "двадцать три" is one
                    else:
                        current += v
                elif w == "and" and current >= 100 and j + 1 < n and toks[j + 1].text in _WORDS:
                    pass
                elif w in _SCALES and (current or total):
                    total += max(current, 1) * (_SCALES[w] or 1)
                    current = 0
                else:
                    break
                j += 1
            value = total + current
            if j == i:  # a vague word on its own
                out.append(_new_number((None, i, i + 1, True)))
                i += 1
                continue
            out.append(_new_number((value or None, i, j, True)))
            i = j
        else:
            i += 1
    return out


def is_digits(word: str) -> bool:
    """ASCII digits only: str.isdigit() is also true for "²" or "٣", which int() may reject."""
    return word.isascii() and word.isdigit()


def word_value(word: str) -> int | None:
    """Value of a single folded number word, or None."""
    return _WORDS.get(word)
