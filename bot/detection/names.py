"""Names of the freed people (verbatim substrings of the post) and name keys that compare equal
across grammatical case, spelling and script: "Тихановского" ~ "Ціханоўскі" ~ "Tsikhanouski".

Other parts of tgwatch use `match_key(term)` and `text_matches_term(text, term)` for
subscribers' watch terms. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple
from functools import lru_cache, partial

from bot.detection.normalize import Normalized, token_words
from bot.detection.numbers import word_value
from bot.detection.rules import RuleSet
from bot.detection.scope import event_sentences, opens_bullet_line


class Name(NamedTuple):
    text: str  # verbatim from the post
    start: int
    end: int


# ── keys ───────────────────────────────────────────────────────────────────────────────────
_CYR2LAT = {"а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ё": "e", "ж": "Z", "з": "z",
            "и": "i", "і": "i", "ї": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
            "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f", "х": "h", "ц": "c", "ч": "C", "ш": "S",
            "щ": "S", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "ju", "я": "ja", "є": "je"}
_LAT_FOLDS = (("sch", "S"), ("shch", "S"), ("kh", "h"), ("zh", "Z"), ("ch", "C"), ("sh", "S"), ("ts", "c"),
              ("tz", "c"), ("cz", "C"), ("sz", "S"), ("ck", "k"), ("ph", "f"), ("w", "v"), ("x", "ks"),
              ("q", "k"), ("g", "h"))
_LAT_DIACRITICS = {"ł": "l", "ŭ": "u", "č": "C", "š": "S", "ž": "Z", "ć": "c", "ś": "s", "ź": "z", "ń": "n",
                   "ø": "o", "ß": "ss", "đ": "d"}
# Case endings that carry a consonant (vowels vanish from the key anyway). "-им/-ым" only after
# -ск/-цк, so first names like "Вадим", "Максим" keep their final consonant.
_ENDINGS = ("ого", "ому", "ему", "его", "ага", "аму", "ами", "ями", "ом", "ем", "ах", "ях", "их", "ых")
_ADJ_INSTR = ("ским", "цким", "ским", "скім", "цкім")


def _to_latin(word: str) -> str:
    out = []
    for c in word:
        if c in _CYR2LAT:
            out.append(_CYR2LAT[c])
        elif c in _LAT_DIACRITICS:
            out.append(_LAT_DIACRITICS[c])
        else:
            d = unicodedata.normalize("NFKD", c)
            out.append("".join(x for x in d if not unicodedata.combining(x)))
    return "".join(out)


@lru_cache(maxsize=65536)
def word_key(word: str) -> str:
    """Key of one name word: case-, script- and inflection-tolerant consonant skeleton."""
    w = word.lower().replace("ё", "е")
    if re.search("[а-яіўєїґ]", w):
        if w.endswith(_ADJ_INSTR):
            w = w[:-2]
        for end in _ENDINGS:  # Cyrillic case endings (Тихановского → тихановск)
            if w.endswith(end) and len(w) - len(end) >= 4:
                w = w[: -len(end)]
                break
    w = _to_latin(w)
    for a, b in _LAT_FOLDS:
        w = w.replace(a, b)
    w = re.sub(r"(?<=[aeiouy])u(?=[^aeiouy]|$)", "v", w)  # Belarusian ў after a vowel: Tsikhanouski
    w = re.sub(r"dz(?=[ieyj])", "d", w)  # дзеканне: Дзянісенка ~ Денисенко
    w = re.sub(r"c(?=[ieyj])", "t", w)  # цеканне: Ціханоўскі ~ Тихановский
    w = re.sub(r"(ogo|omu|om|em)$", "", w) if len(w) > 6 else w
    w = re.sub(r"[^a-zA-Z]", "", w)
    skeleton = re.sub(r"[aeiouyj]", "", w)
    skeleton = re.sub(r"(.)\1+", r"\1", skeleton)
    return skeleton.lower() if len(skeleton) >= 2 else w.lower()


def match_key(term: str) -> str:
    """Normalised key of a name or watch term: words keyed by `word_key`, joined by spaces."""
    words = re.findall(r"[^\W\d_]+", term or "")
    return " ".join(k for k in (word_key(w) for w in words) if k)


@lru_cache(maxsize=16384)
def name_key(text: str) -> str:
    """match_key() of an extracted name, cached: the same names recur across posts and passes."""
    return match_key(text)


# ── extraction ─────────────────────────────────────────────────────────────────────────────
def _surnamish(rs: RuleSet, word: str) -> bool:
    return rs.memo("surnamish", partial(_surnamish_uncached, rs), 100_000)[word]


def _surnamish_uncached(rs: RuleSet, word: str) -> bool:
    base = word
    for end in _ENDINGS + ("ой", "ей", "ую", "ая", "ий", "ый", "ым", "им", "а", "у", "е", "ы", "и", "a", "e", "u"):
        if base.endswith(end) and len(base) - len(end) >= 3:
            base = base[: -len(end)]
            break
    return any(base.endswith(s) or word.endswith(s) for s in rs.lexicons.get("surname_suffix", ()))


def _runs(norm: Normalized, first: int, last: int) -> list[tuple[int, int]]:
    """Maximal runs of capitalised words separated only by spaces (initials may end with '.')."""
    toks, text = norm.tokens, norm.original
    runs, i = [], first
    while i < last:
        if toks[i].cap and not toks[i].upper or (toks[i].cap and len(toks[i].text) == 1):
            j = i + 1
            while j < last and toks[j].cap and text[toks[j - 1].end:toks[j].start] in (" ", "\u00a0", "-", "\u2011") \
                    and (not toks[j].upper or len(toks[j].text) == 1):
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def extract_names(rs: RuleSet, norm: Normalized, hits: list, sentences: list[int] | None = None) -> list[Name]:
    """People freed in the event: capitalised names in the event sentences, minus officials,
    relatives, speakers and places."""
    toks = norm.tokens
    words = token_words(norm)
    out: list[Name] = []
    if sentences is None:
        sentences = event_sentences(norm, hits)
    for s in sentences:
        sent = norm.sentences[s]
        last_end = -10
        failed = (-10, -10)
        for a, b in _runs(norm, sent.first, sent.last):
            if b - a == 1 and _list_detail(rs, norm, words, a, b):
                continue  # "▪️ Ганна Раманчук, Баранавічы": the town after the name in a list line
            coordinated = a == last_end + 1 and words[last_end] in _AND or \
                (a == last_end and "," in norm.original[toks[a - 1].end:toks[a].start])
            name = _validate(rs, norm, words, a, b, sent.first, coordinated)
            pair = not coordinated and 2 <= b - a <= 3 and a == failed[1] + 1 and words[failed[1]] in _AND
            if pair and not name and _surnamish(rs, words[b - 1]) and _surnamish(rs, words[failed[1] - 1]):
                name = _validate(rs, norm, words, a, b, sent.first, True)  # "Зміцера Шаўчука і Надзею Ражкову"
            if name and pair:
                # "Ярослава Мельникова и Ольгу Гринкевич": the first of a pair of names, each of
                # two or three words, when the second is a name
                first = _validate(rs, norm, words, failed[0], failed[1], sent.first, True)
                if first:
                    out.append(first)
            if name:
                out.append(name)
                last_end = b
            elif 2 <= b - a <= 3:
                failed = (a, b)
    if not out and hits:
        out = _next_sentence_names(rs, norm, words, sentences)
    if not out and hits:
        out = _nearby_full_names(rs, norm, words, hits, sentences)
    if not out and hits:
        out = _lone_first_names(rs, norm, words, hits)
    return _dedupe(out)


def _nearby_full_names(rs: RuleSet, norm: Normalized, words: list[str], hits: list,
                       sentences: list[int]) -> list[Name]:
    """A post about one event that names nobody in its event sentences: full names (a known first
    name and a surname) in the sentence before or the two after ("Мой отец X помилован!!! ... ему
    объявили об указе и отпустили"), minus officials, speakers and relatives as _validate drops them."""
    toks = norm.tokens
    hit_sents = sorted({toks[h.first].sent for h in hits})
    near = set(range(max(0, hit_sents[0] - 1), min(len(norm.sentences), hit_sents[-1] + 3))) - set(sentences)
    out: list[Name] = []
    for s in sorted(near):
        sent = norm.sentences[s]
        for a, b in _runs(norm, sent.first, sent.last):
            if 2 <= b - a <= 3 and rs.in_lexicon("first_name", words[a]):
                name = _validate(rs, norm, words, a, b, sent.first)
                if name:
                    out.append(name)
    return out


def _validate(rs: RuleSet, norm: Normalized, words: list[str], a: int, b: int, sent_first: int,
              coordinated: bool = False) -> Name | None:
    toks, text = norm.tokens, norm.original
    lex = rs.in_lexicon
    while a < b and (word_value(words[a]) is not None
                     or not words[a].isalpha() and any(c.isdigit() for c in words[a])):  # letters only: no digit
        a += 1
    if a >= b:
        return None  # the run was only numbers: no name (and no token at `a` to look at)
    if b < len(words) and toks[b].sent == toks[b - 1].sent and (
            lex("name_geo_noun", words[b]) or lex("custody_place", words[b]) and not words[b].isascii()
            and text[toks[b - 1].end:toks[b].start] == " "):
        b -= 1  # "Лидского района", "Івацэвіцкую калёнію": a place adjective, not a surname
    if a > 0 and toks[a - 1].sent == toks[a].sent and lex("name_settlement", words[a - 1]) \
            and not lex("first_name", words[a]):
        if b - a <= 2:
            return None  # "деревни Большие Ляды": the place
        # "деревни Большие Ляды Прокоп Жук": the place, then the person, described before the place
        coordinated = coordinated or _described(rs, norm, words, a - 1)
        a = b - 2
    bullet = 2 <= b - a <= 3 and (_list_item(norm, a, b) or _apposed(norm, b))
    # A capitalised sentence opener is an ordinary word unless it is a known first name, the
    # lone surname of a coordinated pair ("Кузнечик и Мовшук ...") or opens a list item.
    if a < b and _opens_sentence(norm, a) and not lex("first_name", words[a]) and not bullet:
        lone_pair = b - a == 1 and b + 1 < len(words) and words[b] in ("и", "and") and toks[b + 1].cap \
            and toks[b + 1].sent == toks[a].sent
        if not lone_pair:
            a += 1
        coordinated = coordinated or lone_pair
    skipped_geo = lookalike = False
    while a < b and (_is_geo(rs, words[a]) or lex("name_official", words[a]) or lex("name_role", words[a])):
        if skipped_geo and b - a <= 2 and not lex("name_official", words[a]) and not lex("name_role", words[a]):
            lookalike = True  # "Жыхарка Ліды Францішка Бялевіч": after the place, a first name like one
            break
        skipped_geo = skipped_geo or _is_geo(rs, words[a])
        a += 1  # "гражданку Польши Анжелику ..." — the country is not part of the name
    if a >= b:
        return None
    # The name opens at the first known first name; otherwise the run must be 1-2 surname-like words.
    start = next((k for k in range(a, b) if lex("first_name", words[k])), None)
    if start is not None and start > a and b - a <= 3:
        # "Катерину Андрееву", "Донатас Пятраускас": a surname can start like a first name
        # ("андре*", "пятр*"); a short run of capitalised words is one name.
        start = a
    if start is None:
        if b - a > 3:
            return None
        start = a
        described = 2 <= b - a <= 3 and (bullet or _described(rs, norm, words, a))
        if coordinated and b - a == 2:
            described = True  # "Роман Гурин и Алла Шарко": the second of a pair of names
        if not described and (b - a > 2 or not all(_surnamish(rs, words[k]) or len(words[k]) == 1
                                                       for k in range(a, b))):
            return None
        if b - a == 1 and len(words[a]) == 1:
            return None
    end = min(b, start + 3)
    span = range(start, end)
    if any(lex("name_official", words[k]) or _is_geo(rs, words[k]) and not (lookalike and k == a)
           or lex("month", words[k]) or lex("name_org", words[k]) for k in span):
        return None
    if not lex("first_name", words[start]) and _ADJ_GEN.search(words[start]) and not _surname_adj(words[start]):
        return None  # "Каардынацыйнага штаба", "Народного Антикризисного": an organisation's adjective
    if start == b - 1 and _before_day(norm, start):
        return None  # "Jan. 30", "Sept 5": an abbreviated month before a day
    if start == b - 1 and not lex("first_name", words[start]):
        # A lone surname: not after a place preposition, not sentence-initial unless coordinated.
        if start > 0 and toks[start - 1].sent == toks[start].sent and lex("name_place_prep", words[start - 1]):
            return None
    for k in range(max(sent_first, start - 3), start):
        if lex("name_role", words[k]) and toks[k].clause == toks[start].clause:
            return None
    if end < len(words) and rs.phrase_in("name_affiliation", words, end, min(end + 2, len(words))):
        return None  # "Кристофера Смита из Госдепа"
    if end < len(words) and toks[end].clause == toks[start].clause and lex("name_speech", words[end]):
        return None  # "Наталья Эйсмонт сообщила" — the speaker
    for k in range(max(sent_first, start - 3), start):
        if lex("name_speech", words[k]) and toks[k].clause == toks[start].clause:
            return None  # "паведаміла прэс-сакратарка Наталля Эйсмант"
    s, e = toks[start].start, toks[end - 1].end
    if text[e - 2:e] in ("'s", "’s", "ʼs"):
        return None  # "Olga Karach's brother": a relative of the freed person
    if len(words[end - 1]) == 1 and text[e:e + 1] == ".":
        e += 1
    return Name(text[s:e], s, e)


_AND = ("и", "і", "and")
_DESCRIPTORS = ("person", "prisoner", "demonym_all", "name_descriptor")
# Relational adjectives in an oblique case (-ного, -нага, -ной, -ных, -ального...): organisation names.
# A vowel before the н is a possessive surname (Бабарикиной, Пушкиным), not an adjective.
_ADJ_GEN = re.compile(r"[^аеёиоуыэюяіўa-z]н(ого|ага|ому|аму|ой|ай|ых|ым|ыми|ая|ую|ое|ае|ые|ыя)$")


def _surname_adj(word: str) -> bool:
    """-ский/-цкий/-ной surnames keep their adjective endings: "Гурского", "Лапицкая"."""
    return bool(re.search(r"(ск|цк|зк)(ого|ага|ому|аму|ой|ай|ая|ую|и|ий|ы|ый)$", word))


def _list_detail(rs: RuleSet, norm: Normalized, words: list[str], a: int, b: int) -> bool:
    """A one-word run after a comma on a bullet line that opens with a name: a town or a detail."""
    toks, text = norm.tokens, norm.original
    if b - a != 1 or a == 0 or "," not in text[toks[a - 1].end:toks[a].start] or rs.in_lexicon("first_name", words[a]):
        return False
    line_start = text.rfind("\n", 0, toks[a].start) + 1
    before = text[line_start:toks[a].start]
    if "," not in before:
        return False
    lead = before[:len(before) - len(before.lstrip(" \u00a0•▪️-—–*·●◦▫️🔹🔸"))] if before else ""
    body = before[len(lead):]
    return bool(lead.strip()) and body[:1].isupper()


def _described(rs: RuleSet, norm: Normalized, words: list[str], a: int) -> bool:
    """A word for a person shortly before the run, in its clause ("фермера", "казахстанца",
    "гражданку Польши", "житель Лидского района", "the teacher identified only as")."""
    toks, text = norm.tokens, norm.original
    for k in range(a - 1, max(-1, a - 5), -1):
        if toks[k].sent != toks[a].sent:
            return False
        if toks[k].clause != toks[k + 1].clause:
            gap = text[toks[k].end:toks[k + 1].start]
            # Quotes around an organisation do not end the phrase ("активистка «Европейской Беларуси»
            # Зоя Кравец"); a comma or dash does, except in apposition ("an Estonian national, Toomas
            # Kask", "двух граждан Японии — Кэнту Судзуки").
            if gap.strip(" \u00a0«»\"„“”'") and not (k == a - 1 and gap.strip() in (",", "—", "–", ":")):
                return False
        if any(rs.in_lexicon(lx, words[k]) for lx in _DESCRIPTORS):
            return True
    return False


_ITEM_END = ("(", ",", ";", "—", "–", "-", "\n", ":")


def _list_item(norm: Normalized, a: int, b: int) -> bool:
    """The run opens a bullet or numbered line and ends at its details: "• Галина Ридевская (Бобруйск), 58 лет"."""
    toks, text = norm.tokens, norm.original
    if not opens_bullet_line(text, toks[a].start):
        return False
    tail = text[toks[b - 1].end:toks[b - 1].end + 3].lstrip(" \u00a0")
    return not tail or tail.startswith(_ITEM_END)


_APPOSED = re.compile(r"\s*(,\s*\d{1,2}\s*,|\(\s*[^\W\d_][^()\n]{0,40}\))")


def _apposed(norm: Normalized, b: int) -> bool:
    """A person's details right after the run: an age ("Kenji Morimoto, 56, was detained") or a home
    town in parentheses ("Олега Бардина (Пинск)")."""
    end = norm.tokens[b - 1].end
    return bool(_APPOSED.match(norm.original, end, end + 48))


def _opens_sentence(norm: Normalized, i: int) -> bool:
    """First word of its sentence, possibly after quotes, bullets or emoji."""
    toks = norm.tokens
    return i == 0 or toks[i - 1].sent != toks[i].sent


def _is_geo(rs: RuleSet, word: str) -> bool:
    return rs.in_lexicon("geo_all", word) or rs.in_lexicon("place", word)


def _next_sentence_names(rs: RuleSet, norm: Normalized, words: list[str], sentences: list[int]) -> list[Name]:
    """"Помилован гражданин Японии. ... это 48-летний Хироси Ямада": a described name in the sentence
    right after the event, when the event sentence names nobody."""
    out, shaped = [], []
    for s in sorted({s + 1 for s in sentences} - set(sentences)):
        if s >= len(norm.sentences):
            continue
        sent = norm.sentences[s]
        for a, b in _runs(norm, sent.first, sent.last):
            if 2 <= b - a <= 3 and _apposed(norm, b):
                # "... has been pardoned. Kenji Morimoto, 56, was detained ...": an age or a town
                # marks the person the sentence is about
                name = _validate(rs, norm, words, a, b, sent.first)
                if name:
                    shaped.append(name)
            elif 2 <= b - a <= 3 and _described(rs, norm, words, a):
                name = _validate(rs, norm, words, a, b, sent.first)
                if name:
                    out.append(name)
    return shaped or out[:1]


def _before_day(norm: Normalized, k: int) -> bool:
    end = norm.tokens[k].end
    return bool(_DAY_AFTER.match(norm.original, end, end + 4))


_DAY_AFTER = re.compile(r"\.?\s?\d{1,2}\b")


def _lone_first_names(rs: RuleSet, norm: Normalized, words: list[str], hits: list) -> list[Name]:
    """A post that names the person only by first name, near the trigger sentence ("Алеся вышла!")."""
    out = []
    sents = {norm.tokens[h.first].sent for h in hits}
    lo = norm.sentences[max(0, min(sents) - 2)].first
    hi = norm.sentences[min(len(norm.sentences) - 1, max(sents) + 1)].last
    for i in range(lo, hi):
        t = norm.tokens[i]
        if t.cap and not t.upper and rs.in_lexicon("first_name", words[i]):
            nxt = norm.tokens[i + 1] if i + 1 < len(words) else None
            if nxt and nxt.cap and nxt.sent == t.sent:
                continue
            if i > 0 and rs.in_lexicon("name_role", words[i - 1]) or _is_geo(rs, words[i]) \
                    or rs.in_lexicon("name_official", words[i]) or _before_day(norm, i):
                continue
            out.append(Name(norm.original[t.start:t.end], t.start, t.end))
            break
    return out


def _dedupe(names: list[Name]) -> list[Name]:
    """One entry per person: a later bare surname of an already named person is dropped."""
    out: list[Name] = []
    seen_words: set[str] = set()
    for n in sorted(names, key=lambda n: -len(name_key(n.text).split())):
        key = name_key(n.text)
        parts = key.split()
        if not parts or key in {name_key(o.text) for o in out}:
            continue
        if len(parts) == 1 and parts[0] in seen_words:
            continue
        seen_words.update(parts)
        out.append(n)
    return sorted(out, key=lambda n: n.start)
