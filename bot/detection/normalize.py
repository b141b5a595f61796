"""Text normalisation for the detector: folds case, spelling variants and scripts into tokens that
keep their offsets into the ORIGINAL text, so evidence spans can be highlighted in the post.

Pure functions; no I/O. The folding is applied identically to rule terms (see `fold_term`), so a
rule written as "памілаваў" matches "ПАМІЛАВАЎ", "памилавав" or Łacinka "pamiłavaŭ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, compress, repeat
from operator import contains
from typing import NamedTuple

# Characters that may hide inside a word (soft/hard signs, apostrophes, zero-width and bidi marks)
# become this marker and are dropped from the token, so "памілаваньне" == "памілаванне" and
# "поми\u200bловал" == "помиловал". Keeping a marker (not deleting) keeps offsets 1:1.
_GLUE = "\x01"
# Work cap per post: Telegram posts are at most 4,096 characters (captions 1,024); anything longer
# is hostile or an import artefact, and only its start is read.
MAX_CHARS = 8_192

_ONE_TO_ONE = {
    "ё": "е", "э": "е", "є": "е", "і": "и", "ї": "и", "ў": "в", "ґ": "г", "_": " ",
    "ь": _GLUE, "ъ": _GLUE, "'": _GLUE, "’": _GLUE, "ʼ": _GLUE, "`": _GLUE, "\u00ad": _GLUE,
}
for _cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x200E, 0x200F, 0x061C,
            *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    _ONE_TO_ONE[chr(_cp)] = _GLUE
for _cp in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)):
    _ONE_TO_ONE[chr(_cp)] = " "
_TABLE = str.maketrans(_ONE_TO_ONE)

_SPLIT_RX = re.compile(r"([\w\x01]+)")
_SURROGATE_RX = re.compile("[\ud800-\udfff]")
_FORWARD_RX = re.compile(
    r"\A\s*(?:forwarded from|переслано от|пересланное сообщение|пераслана ад|repost(?:ed)? from)[^\n]*\n",
    re.I,
)
_SENTENCE_END = set(".!?…\n•▪▫◾◽●■□➖")
_CLAUSE_MARK = set(",;:—–()«»\"“”„[]|")
_CYR = re.compile(r"[а-яёіўґєї]")
_HAS_LATIN = re.compile(r"[a-z]")
_DIGITS = frozenset("0123456789")
_INITIAL_U = re.compile(r"(?<![\w\x01'’ʼ])ў")
_ZW = "".join(k for k, v in _ONE_TO_ONE.items() if v == _GLUE and not k.isalpha())
_LAT = re.compile(r"[a-zćčłńśšźžŭľ]")
_LACINKA_MARKS = set("ŭćčłńśšźžľ")
# Latin letters that look like Cyrillic ones, for words that mix the two scripts.
_HOMOGLYPHS = str.maketrans("aeopcxykmti", "аеорсхукмті")


class Token(NamedTuple):
    """One word of the post: folded text plus its span in the original text (a tuple: fast to build)."""

    text: str  # folded form used for matching
    start: int
    end: int
    cap: bool  # first letter upper-case in the original
    upper: bool  # whole word upper-case in the original (abbreviation)
    sent: int  # sentence index
    clause: int  # clause index (global counter, increases at , ; : — and sentence ends)


class Sentence(NamedTuple):
    first: int  # index of its first token
    last: int  # index one past its last token
    question: bool


@dataclass(frozen=True, slots=True)
class Normalized:
    original: str
    tokens: tuple[Token, ...]
    sentences: tuple[Sentence, ...]
    # Columns of `tokens` (text, sent, clause) that the matcher and the fact passes read per word:
    # built once here instead of re-read from the tuples in every pass.
    words: tuple[str, ...] = ()
    sent_of: tuple[int, ...] = ()
    clause_of: tuple[int, ...] = ()


def token_words(norm: Normalized) -> tuple[str, ...] | list[str]:
    """The folded words of the tokens (the column normalize() built, or read from the tokens)."""
    return norm.words if len(norm.words) == len(norm.tokens) else [t.text for t in norm.tokens]


def clean(text: str) -> str:
    """Replace lone surrogates and cap the length; the result indexes the caller's text 1:1."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    if _SURROGATE_RX.search(text):
        text = _SURROGATE_RX.sub(" ", text)
    return text


_RARE_RX = re.compile("[" + re.escape("".join(k for k in _ONE_TO_ONE if len(_ONE_TO_ONE[k]) == 1
                                               and (ord(k) < 0x20 or 0x7F <= ord(k) < 0xA0 or k == "\u00ad"
                                                    or 0x2000 <= ord(k) < 0x2070 or k in "\ufeff\u061c"))) + "]")
_COMMON = [(k, v) for k, v in _ONE_TO_ONE.items() if not _RARE_RX.match(k)]


def fold_chars(text: str) -> str:
    """Lower-case and fold spelling variants, preserving length (index i maps to index i)."""
    low = text.lower()
    if len(low) != len(text):  # e.g. "İ": lower-case char by char to keep offsets
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if _RARE_RX.search(low):  # control, zero-width and bidi characters: rare, so translate only then
        return low.translate(_TABLE)
    if "ў" in low:  # word-initial ў is only у after a vowel ("у Ўкраіне"), not the в-like ў
        low = _INITIAL_U.sub("у", low)
    # str.replace per letter is much faster than str.translate on non-ASCII text.
    for a, b in _COMMON:
        if a in low:
            low = low.replace(a, b)
    return low


def fold_term(term: str) -> str:
    """Fold a rule term or a single word exactly like post text is folded."""
    out = _keep_final_soft(fold_chars(term), term)
    if any(c in _LACINKA_MARKS for c in out):
        out = lacinka_to_cyrillic(out)
    return out


def is_lacinka(text: str, lang: str | None) -> bool:
    """True when a Belarusian post is written in Łacinka (Latin script with ŭ, ć, š ...)."""
    if lang == "en" or lang == "ru":
        return False
    low = text[:4000].lower()
    if not _LAT.search(low):
        return False  # no Latin letters at all: the common case, decided without counting
    lat = len(_LAT.findall(low))
    if lat <= len(_CYR.findall(low)):
        return False
    marks = sum(1 for c in low if c in _LACINKA_MARKS)
    return lang == "be" or (marks >= 3 and ("ŭ" in low or "ć" in low or "ś" in low or "ź" in low))


_L_CONS = {"b": "б", "c": "ц", "ć": "ць", "č": "ч", "d": "д", "f": "ф", "g": "г", "h": "г",
           "k": "к", "ł": "л", "m": "м", "n": "н", "ń": "нь", "p": "п", "r": "р", "s": "с",
           "ś": "сь", "š": "ш", "t": "т", "v": "в", "w": "в", "z": "з", "ź": "зь", "ž": "ж",
           "ŭ": "ў", "x": "кс", "q": "к"}
_L_VOW = {"a": "а", "e": "э", "i": "і", "o": "о", "u": "у", "y": "ы"}
_L_IOT = {"a": "я", "e": "е", "o": "ё", "u": "ю", "i": "і"}


def lacinka_to_cyrillic(word: str) -> str:
    """Transliterate one lower-case Łacinka word to (folded) Belarusian Cyrillic."""
    word = word.replace("ľ", "l")  # "voľu": a soft l written with a caron is the plain (soft) l
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        c = word[i]
        nxt = word[i + 1] if i + 1 < n else ""
        prev_vowel = i == 0 or word[i - 1] in _L_VOW
        if c == "c" and nxt == "h":
            out.append("х")
            i += 2
            continue
        if c == "l":
            # Soft "l": "la" = "ля", "lu" = "лю"; before a consonant "ль". Writers also mark the
            # softness with "i" as after other consonants: "voliu" = "волю", "lia" = "ля".
            if nxt == "i" and i + 2 < n and word[i + 2] in "aeou":
                out.append("л" + _L_IOT[word[i + 2]])
                i += 3
            elif nxt in _L_IOT:
                out.append("л" + _L_IOT[nxt])
                i += 2
            else:
                out.append("ль")
                i += 1
            continue
        if c == "j" and nxt in _L_IOT:
            out.append(_L_IOT[nxt])
            i += 2
            continue
        if c == "i" and nxt in "aeou" and nxt and not prev_vowel:
            out.append(_L_IOT[nxt])
            i += 2
            continue
        if c == "j":
            out.append("й")
        elif c in _L_VOW:
            out.append(_L_VOW[c])
        else:
            out.append(_L_CONS.get(c, c))
        i += 1
    cyr = "".join(out)
    return _keep_final_soft(fold_chars(cyr), cyr)


def _keep_final_soft(folded: str, orig: str) -> str:
    """Drop glue marks, but keep a word-final soft sign: "Беларусь" (country) != "беларус" (person)."""
    if folded.endswith(_GLUE) and orig[-1:] in ("ь", "Ь") and len(folded) > 3:  # not тарашкевіца "зь"
        return folded.replace(_GLUE, "") + "ь"
    return folded.replace(_GLUE, "")


def _fix_token(word: str, lacinka: bool, orig: str = "") -> str:
    word = _keep_final_soft(word, orig)
    if not word:
        return word
    if lacinka and _LAT.search(word):
        return lacinka_to_cyrillic(word)
    if _CYR.search(word) and _HAS_LATIN.search(word):  # compiled once: re.search("...") looks it up per call
        # Mixed scripts (obfuscation or OCR): read Latin look-alikes as Cyrillic.
        return fold_chars(word.translate(_HOMOGLYPHS)).replace(_GLUE, "")
    return word


# A Latin letter next to a Cyrillic one: "[а-яеиг][a-z]|[a-z][а-яеиг]", written to start with the
# Latin class so the regex engine skips ahead to Latin letters instead of trying every position.
_MIXED_RX = re.compile(r"[a-z](?:(?<=[а-яеиг].)|(?=[а-яеиг]))")


class Prepared(NamedTuple):
    """A post cleaned and folded once, shared by the pre-filter and the token pass."""

    text: str
    folded: str
    lacinka: bool
    mixed: bool

    @property
    def quick(self) -> str | None:
        """Folded text without glue marks for a cheap "could anything match?" test; None when
        only the token pass can read the post (Łacinka, words mixing scripts)."""
        if self.lacinka or self.mixed:
            return None
        return self.folded.replace(_GLUE, "")


def prepare(text: str, lang: str | None = None) -> Prepared:
    text = clean(text or "")
    folded = fold_chars(text)
    return tuple.__new__(Prepared, (text, folded, is_lacinka(text, lang), _MIXED_RX.search(folded) is not None))


def quick_text(text: str, lang: str | None) -> str | None:
    return prepare(text, lang).quick


def normalize(text: str | Prepared, lang: str | None = None) -> Normalized:
    """Tokenise a post into folded tokens with sentence/clause structure and original offsets."""
    prep = text if isinstance(text, Prepared) else prepare(text, lang)
    text, folded = prep.text, prep.folded
    body_start = 0
    m = _FORWARD_RX.match(text)
    if m:  # a forwarded-from header names a channel, not an event
        body_start = m.end()
    # re.split with a capturing group alternates gap, word, gap, word ... gap: cheaper than finditer.
    # Columns are built with C-level passes (map, zip, slices); tests/test_detection_speed.py holds
    # the token-by-token loop this replaces, as the reference.
    parts = _SPLIT_RX.split(folded[body_start:] if body_start else folded)
    words = parts[1::2]
    n = len(words)
    offs = list(accumulate(map(len, parts), initial=body_start))  # offs[j]: where parts[j] starts
    starts, ends = offs[1:2 * n:2], offs[2:2 * n + 1:2]
    firsts = list(map(text.__getitem__, starts))
    lacinka = prep.lacinka
    fix = range(n) if lacinka else _words_to_fix(words, _GLUE in folded, prep.mixed)
    dropped = []
    for k in fix:
        orig = text[starts[k]:ends[k]]
        key = (words[k], orig, lacinka)
        got = _FIXED.get(key)
        if got is None:
            word = _fix_token(words[k], lacinka, orig)
            got = (word, orig.lstrip(_ZW)[:1])
            if len(_FIXED) >= 50_000:
                _FIXED.clear()
            _FIXED[key] = got
        words[k], firsts[k] = got
        if not got[0]:
            dropped.append(k)  # a word of glue marks only ("\u200b"): no token
    caps = list(map(str.isupper, firsts))
    uppers = [False] * n
    for k in compress(range(n), caps):
        s, e = starts[k], ends[k]
        uppers[k] = e - s > 1 and text[s:e].isupper()
    gaps = parts[0:2 * n:2]  # gaps[k]: the text before word k
    first_kept = 0
    if dropped:
        first_kept = next((k for k in range(n) if words[k]), n)
    sent_of: list[int] = []
    clause_of: list[int] = []
    breaks: list[tuple[int, bool]] = []  # (word index a sentence starts at, previous one ends in "?")
    sent_idx = clause = 0
    for k in compress(range(n), map(" ".__ne__, gaps)):
        if k <= first_kept:
            continue  # nothing before the first token to part from
        gap = gaps[k]
        kind = _GAP_KINDS.get(gap)
        if kind is None:
            kind = _gap_kind_at(gap, folded, starts[k], text)
        if kind:
            run = k - len(sent_of)
            sent_of += [sent_idx] * run
            clause_of += [clause] * run
            clause += 1
            if kind == 2:
                breaks.append((k, "?" in gap))
                sent_idx += 1
    run = n - len(sent_of)
    sent_of += [sent_idx] * run
    clause_of += [clause] * run
    cols = [words, starts, ends, caps, uppers, sent_of, clause_of]
    if dropped:
        kept_before = list(accumulate(map(bool, words), initial=0))
        breaks = [(kept_before[k], q) for k, q in breaks]
        keep = list(map(bool, words))
        cols = [list(compress(c, keep)) for c in cols]
        n = kept_before[-1]
    sentences, sent_first = [], 0
    for k, question in breaks:
        sentences.append(_new_sentence((sent_first, k, question)))
        sent_first = k
    pos = offs[-1] - len(parts[-1])  # end of the last word
    sentences.append(Sentence(sent_first, n, "?" in folded[pos:pos + 3]))
    tokens = tuple(map(_new_token, zip(*cols)))
    return Normalized(text, tokens, tuple(sentences), tuple(cols[0]), tuple(cols[5]), tuple(cols[6]))


def _words_to_fix(words: list[str], has_glue: bool, mixed: bool) -> list[int]:
    """Indexes of the words _fix_token must see: with glue marks, or mixing Latin and Cyrillic."""
    fix: list[int] = []
    if has_glue:
        fix = list(compress(range(len(words)), map(contains, words, repeat(_GLUE))))
    if mixed:
        more = [k for k, raw in enumerate(words) if not raw.isascii() and _HAS_LATIN.search(raw)]
        fix = sorted(set(fix).union(more))
    return fix


_FIXED: dict[tuple[str, str, bool], tuple[str, str]] = {}  # (folded, original, Łacinka) -> (fixed word, first char)
_GAP_AT: dict[tuple, int] = {}


def _gap_kind_at(gap: str, folded: str, b: int, text: str) -> int:
    """_gap_kind of a gap ending at b, memoised on everything it reads: the gap, the two folded
    characters before it, and the folded and original characters after it."""
    a = b - len(gap)
    key = (gap, folded[a - 2:a] if a >= 2 else folded[:a] + "\x00", folded[b:b + 1], text[b:b + 1])
    kind = _GAP_AT.get(key)
    if kind is None:
        kind = _gap_kind(gap, folded, a, b, text)
        if len(_GAP_AT) >= 50_000:
            _GAP_AT.clear()
        _GAP_AT[key] = kind
    return kind


_new_token = partial(tuple.__new__, Token)  # builds the NamedTuple without its Python-level __new__
_new_sentence = partial(tuple.__new__, Sentence)


_GAP_KINDS: dict[str, int] = {}


def _gap_kind(gap: str, folded: str, a: int, b: int, text: str) -> int:
    """0 = same clause, 1 = new clause, 2 = new sentence (memoised: gaps repeat a lot)."""
    if gap.lstrip()[:1] in (".", ","):  # depends on the neighbours: "2.5", "U.S.", "К. вышла"
        if not any(c in _SENTENCE_END for c in gap):
            # ", " and the like: no sentence-end mark, so _is_sentence_break reads only the gap
            # (bullet emoji) and the kind can be remembered like any other gap's.
            kind = 2 if _is_sentence_break(gap, folded, a, b, False) else \
                1 if any(c in _CLAUSE_MARK for c in gap) else 0
            if len(_GAP_KINDS) < 50_000:
                _GAP_KINDS[gap] = kind
            return kind
        if _is_sentence_break(gap, folded, a, b, text[b:b + 1].isupper()):
            return 2
        return 1 if any(c in _CLAUSE_MARK for c in gap) else 0
    kind = _GAP_KINDS.get(gap)
    if kind is None:
        if _is_sentence_break(gap, folded, a, b, False):
            kind = 2
        elif any(c in _CLAUSE_MARK for c in gap) or " - " in gap:
            kind = 1
        else:
            kind = 0
        if len(_GAP_KINDS) < 50_000:
            _GAP_KINDS[gap] = kind
    return kind


def _is_sentence_break(gap: str, folded: str, a: int, b: int, folded_next_is_upper: bool) -> bool:
    if gap.isspace():
        return "\n" in gap
    if not any(c in _SENTENCE_END for c in gap):
        # Emoji used as bullets also start a new statement (not "№", "©" and other symbols).
        return any(ord(c) >= 0x1F000 or 0x2600 <= ord(c) <= 0x27BF or 0x2B00 <= ord(c) <= 0x2BFF for c in gap)
    if gap.startswith(".,") and "\n" not in gap:
        return False  # "Yury Ts., have been released": an abbreviation inside the sentence
    if gap in (".", ",") and folded[a - 1:a] in _DIGITS and folded[b:b + 1] in _DIGITS and a > 0:
        return False  # decimal point: "2.5"
    if gap.lstrip().startswith(".") and folded[a - 1:a].isalpha() and (a < 2 or not folded[a - 2].isalnum()):
        # A one-letter word before the dot is an initial or abbreviation ("U.S.", "Вадим Р., Нелли Л.",
        # "Людмила К. вышла"), unless a capitalised word follows a space ("Ефима К. Исключительная").
        rest = gap[1:]
        if rest == "" or rest.lstrip()[:1] in (",", ";") or (rest.isspace() and "\n" not in rest
                                                             and not folded_next_is_upper):
            return False
    return True
