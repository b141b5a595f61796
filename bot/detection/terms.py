"""Watch-term matching across transliteration and inflection. Pure; no regex from users.

A term ("Tsikhanouski", "Мария Колесникова") matches a post when its words appear in a row
(in the term's order, or surname-first as official lists write them),
each word compared by a *sound skeleton* that is the same for Russian and Belarusian
Cyrillic, Łacinka and the common English/Polish spellings:

    Tsikhanouski, Tikhanovsky, Тихановский, Ціханоўскі, Cichanoŭski  ->  t*h*n*sk*

(kh/h/x/g/г/х -> h; ts/c/ц -> t; dz/дз -> d; ou/ov/ow/ў before a consonant are a vowel;
every run of vowels, including y/j/й, becomes one `*`; doubled consonants collapse.)
The term's trailing vowel is its ending: a text word matches when it starts with the term's
stem and what follows is a case ending (`-а`, `-ому`, `-ым`, `-ах`, `-ага`, `-'s`...).
Short stems (fewer than three consonants) use a finer key that keeps the vowels, so "Ales"
does not match every word shaped V-l-V-s.

Work is bounded: terms are cut at MAX_TERM_CHARS / MAX_TERM_WORDS; a text is tokenised and
indexed once (cached) by every stem its words can have, so each term word is a dictionary lookup
and a thousand subscribers' terms cost little more than one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MAX_TERM_CHARS = 200
MAX_TERM_WORDS = 8
# Text beyond this is not searched for terms (a post is at most ~4 kB; imports may be larger).
MAX_TEXT_CHARS = 200_000

_WORD = re.compile(r"[^\W_]+(?:['’ʼ`][^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]+")
_VOWELS = frozenset("aeiouyj")

# Cyrillic (Russian, Belarusian, Ukrainian) to a phonemic Latin: upper-case C/S/Z are ч/ш/ж.
_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "h", "д": "d", "е": "e", "ё": "e", "є": "je",
    "ж": "Z", "з": "z", "и": "i", "і": "i", "ї": "ji", "й": "j", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f",
    "х": "h", "ц": "t", "ч": "C", "ш": "S", "щ": "S", "ъ": "", "ы": "y", "ь": "", "э": "e",
    "ю": "ju", "я": "ja",
}
# Latin letters with diacritics used by Łacinka, Polish and Czech-style transliteration.
_LAT = {
    "č": "C", "ć": "t", "š": "S", "ś": "s", "ž": "Z", "ź": "z", "ż": "Z", "ł": "l", "ŭ": "u",
    "ń": "n", "ó": "o", "ř": "rZ", "ß": "ss", "æ": "ae", "ø": "o", "đ": "d",
}
# Applied in order to plain Latin; "ch" is ambiguous (English ч, Łacinka х) and handled apart.
_DIGRAPHS = (
    ("shch", "S"), ("sch", "S"), ("tsch", "C"), ("tch", "C"), ("cz", "C"), ("dzh", "dZ"), ("zh", "Z"),
    ("sz", "S"), ("sh", "S"), ("kh", "h"), ("gh", "h"), ("ph", "f"), ("th", "t"),
)
_SINGLE = (("ts", "t"), ("tz", "t"), ("dz", "d"), ("ck", "k"), ("x", "ks"), ("q", "k"), ("c", "t"),
           ("g", "h"), ("w", "v"))

_COARSE_ENDING = re.compile(r"^\*?(?:[mhs]\*?)?$")
_FINE_ENDING = re.compile(r"^[aeiu]{0,3}(?:[mhs][aeiu]{0,2})?$")


def _latin_run(s: str) -> list[str]:
    """Plain lower-case Latin (after diacritics) -> phonemic variants (two when 'ch' is present)."""
    for a, b in _DIGRAPHS:
        s = s.replace(a, b)
    variants = [s.replace("ch", "C"), s.replace("ch", "h")] if "ch" in s else [s]
    out = []
    for v in variants:
        for a, b in _SINGLE:
            v = v.replace(a, b)
        out.append(v)
    return out


def _strip_marks(ch: str) -> str:
    if ch in _LAT:
        return _LAT[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c.isascii() and c.isalnum())


_CYR_LOOKALIKE = "АВЕКМНОРСТХУаеорсхуі"
_LAT_LOOKALIKE = "ABEKMHOPCTXYaeopcxyi"
_TO_LATIN = str.maketrans(_CYR_LOOKALIKE, _LAT_LOOKALIKE)
_TO_CYRILLIC = str.maketrans(_LAT_LOOKALIKE, _CYR_LOOKALIKE)


def _one_script(word: str) -> str:
    """A word mixing scripts ('Тsikhanouski' with a Cyrillic Т) is read in its majority script."""
    cyr = sum(1 for c in word if "\u0400" <= c <= "\u04ff")
    lat = sum(1 for c in word if c.isascii() and c.isalpha())
    if not cyr or not lat:
        return word
    return word.translate(_TO_CYRILLIC if cyr > lat else _TO_LATIN)


def _phonemic(word: str) -> list[str]:
    """One word -> its phonemic spellings (usually one). Cyrillic and Latin runs may be mixed."""
    w = _one_script(word).casefold().replace("дз", "d").replace("дж", "dZ")
    pieces: list[list[str]] = []
    pos = 0
    for m in _CYRILLIC.finditer(w):
        if m.start() > pos:
            pieces.append(_latin_run("".join(_strip_marks(c) for c in w[pos:m.start()])))
        pieces.append(["".join(_CYR.get(c, "") for c in m.group(0))])
        pos = m.end()
    if pos < len(w):
        pieces.append(_latin_run("".join(_strip_marks(c) for c in w[pos:])))
    results = [""]
    for alts in pieces:
        results = [r + a for r in results for a in alts][:4]
    return results


def _coarse(p: str) -> str:
    out: list[str] = []
    n = len(p)
    for i, c in enumerate(p):
        if c == "v" and i > 0 and p[i - 1] in _VOWELS and (i + 1 == n or p[i + 1] not in _VOWELS):
            c = "u"  # -ov-/-ow-/-ou- before a consonant or at the end: a vowel (Belarusian ў)
        sym = "*" if c in _VOWELS else c
        if out and out[-1] == sym:
            continue
        out.append(sym)
    return "".join(out)


def _fine(p: str) -> str:
    table = {"o": "a", "y": "i", "j": "i"}
    out: list[str] = []
    for c in p:
        c = table.get(c, c)
        if out and out[-1] == c:
            continue
        out.append(c)
    return "".join(out)


@lru_cache(maxsize=4096)
def word_keys(word: str) -> tuple[tuple[str, str], ...]:
    """(coarse, fine) keys of one word, one pair per spelling variant."""
    if word.isdigit():
        return ((word, word),)
    return tuple({(_coarse(p), _fine(p)) for p in _phonemic(word) if p})


_COARSE_ENDING_MAX = 4  # longest string _COARSE_ENDING accepts ("*m*" plus slack)
_FINE_ENDING_MAX = 6


@dataclass(frozen=True)
class _TextIndex:
    """Where each stem occurs in a text: a term word is then a dictionary lookup, not a scan."""

    coarse_stems: dict[str, frozenset[int]]  # coarse key minus any allowed ending -> word positions
    fine_stems: dict[str, frozenset[int]]
    exact: dict[str, frozenset[int]]  # fine key -> positions (identity and numbers)
    size: int


def _add(index: dict[str, set[int]], key: str, pos: int) -> None:
    index.setdefault(key, set()).add(pos)


@lru_cache(maxsize=256)
def _text_index(text: str) -> _TextIndex:
    coarse: dict[str, set[int]] = {}
    fine: dict[str, set[int]] = {}
    exact: dict[str, set[int]] = {}
    n = 0
    for n, m in enumerate(_WORD.finditer(unicodedata.normalize("NFC", text[:MAX_TEXT_CHARS])), start=1):
        pos = n - 1
        for w_coarse, w_fine in word_keys(m.group(0)):
            _add(exact, w_fine, pos)
            for k in range(min(_COARSE_ENDING_MAX, len(w_coarse)) + 1):
                if _COARSE_ENDING.match(w_coarse[len(w_coarse) - k:]):
                    _add(coarse, w_coarse[:len(w_coarse) - k], pos)
            for k in range(min(_FINE_ENDING_MAX, len(w_fine)) + 1):
                if _FINE_ENDING.match(w_fine[len(w_fine) - k:]):
                    _add(fine, w_fine[:len(w_fine) - k], pos)

    def freeze(d: dict[str, set[int]]) -> dict[str, frozenset[int]]:
        return {k: frozenset(v) for k, v in d.items()}

    return _TextIndex(freeze(coarse), freeze(fine), freeze(exact), n)


def term_words(term: str) -> list[str]:
    """The words of a term, bounded (what a subscriber's term is cut to)."""
    text = unicodedata.normalize("NFC", (term or "")[:MAX_TERM_CHARS])
    return [m.group(0) for m in _WORD.finditer(text)][:MAX_TERM_WORDS]


_EMPTY: frozenset[int] = frozenset()


@lru_cache(maxsize=8192)
def _lookups(term_keys: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """(which index, key) pairs to look up for one term word, one or two per spelling variant."""
    out: list[tuple[str, str]] = []
    for t_coarse, t_fine in term_keys:
        out.append(("exact", t_fine))
        if t_coarse.isdigit():
            continue
        stem = t_coarse[:-1] if t_coarse.endswith("*") else t_coarse
        if sum(1 for c in stem if c != "*") < 3:  # short stem: the finer, vowel-keeping key
            out.append(("fine_stems", t_fine.rstrip("aeiu") or t_fine))
        else:
            out.append(("coarse_stems", stem))
    return tuple(out)


def _positions(term_keys: tuple[tuple[str, str], ...], ix: _TextIndex) -> frozenset[int]:
    """Positions of text words that match one term word (any spelling variant)."""
    found: set[int] = set()
    for table, key in _lookups(term_keys):
        found |= getattr(ix, table).get(key, _EMPTY)
    return frozenset(found)


def _occurs(term_keys: tuple[tuple[str, str], ...], ix: _TextIndex) -> bool:
    return any(key in getattr(ix, table) for table, key in _lookups(term_keys))


@lru_cache(maxsize=8192)
def _term_keys(term: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    keys = tuple(word_keys(w) for w in term_words(term))
    return keys if keys and all(keys) else ()


def text_matches_term(text: str, term: str) -> bool:
    """True when every word of `term` appears, adjacent, in `text` (see module doc).

    The words match in the term's order, or with its last word first: official lists write the
    surname first ("Колесникова Мария Александровна"), so a subscriber's "Maria Kalesnikava"
    must find it. No other order matches ("Мария вышла. Колесникова" does not).
    """
    if not text or not term:
        return False
    tkeys = _term_keys(term[:MAX_TERM_CHARS])
    if not tkeys:
        return False
    ix = _text_index(text)
    if len(tkeys) == 1:
        return _occurs(tkeys[0], ix)
    found = {i: _positions(k, ix) for i, k in enumerate(tkeys)}
    if not all(found.values()):
        return False
    n = len(tkeys)
    orders = (range(n), (n - 1, *range(n - 1)))
    return any(
        all(p + j in found[w] for j, w in enumerate(order))
        for order in orders for p in found[order[0]]
    )


def normalize_term(term: str) -> str:
    """How a term is stored: its words joined by single spaces (bounded). Empty when unusable."""
    return " ".join(term_words(term))
