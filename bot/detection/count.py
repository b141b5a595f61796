"""How many people the post's main (newest) event freed: picks one number near the triggers and
rejects ages, terms, dates, subsets, totals and other sides of a swap; vague counts give None.

Pure functions over normalize.Normalized and numbers.Number.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from bot.detection.normalize import Normalized, token_words
from bot.detection.numbers import Number, word_value
from bot.detection.rules import RuleSet
from bot.detection.scope import event_sentences, hit_sentences

MIN_SCORE = 3.0  # a number must be tied to a trigger or to a noun for people
COUNT_FOLLOW = {"amnesty": 3}  # sentences after the event read for the count, by label (default 0)


def count_sentences(norm: Normalized, hits: list, label: str, rs: RuleSet | None = None) -> list[int]:
    """Where the count is read: the event sentences (and, for an amnesty, three more)."""
    scope = event_sentences(norm, hits, follow=COUNT_FOLLOW.get(label, 0))
    return with_reach(rs, norm, hits, scope) if rs is not None else scope


def with_reach(rs: RuleSet, norm: Normalized, hits: list, scope: list[int]) -> list[int]:
    """The scope plus a sentence right after a trigger sentence that states the decree's reach:
    "Подписан указ о помиловании. Милость ... распространяется на 27 человек"."""
    sents, words = norm.sentences, None
    extra = []
    for s in hit_sentences(norm, hits):
        if s + 1 < len(sents) and s + 1 not in scope and sents[s + 1].last > sents[s + 1].first:
            words = words or token_words(norm)
            if rs.phrase_in("fact_reach", words, sents[s + 1].first, sents[s + 1].last):
                extra.append(s + 1)
    return sorted(set(scope) | set(extra)) if extra else scope


def choose_count(rs: RuleSet, norm: Normalized, numbers: list[Number], hits: list, label: str,
                 n_names: int, scope_sents: list[int] | None = None,
                 name_starts: tuple[int, ...] = ()) -> tuple[int | None, tuple[int, int] | None]:
    """(count, token span of the number) for the event; (None, None) when not stated exactly."""
    if not hits:
        return None, None
    toks = norm.tokens
    words = token_words(norm)
    scope = set(count_sentences(norm, hits, label, rs) if scope_sents is None else scope_sents)
    hit_sents = set(hit_sentences(norm, hits))
    first_hit_sent = min(hit_sents)
    best: tuple[float, Number, bool] | None = None
    memo: dict = {}
    groups = {toks[n.first].sent: n.first for n in reversed(numbers) if _whole_group(rs, words, n)}
    for num in numbers:
        sent = toks[num.first].sent
        if sent not in scope:
            continue
        scored = _score(rs, norm, words, num, hits, hit_sents, label, memo)
        if scored is None:
            continue
        score, approx = scored
        if groups.get(sent, num.first) < num.first:
            score -= 4.0  # "Из 30 помилованных 12 — женщины": parts of the group named first
        score -= 0.3 * max(0, sent - first_hit_sent)  # the lead states the main event
        if _more_after_names(rs, norm, words, num, name_starts):
            score += 2.0  # "помиловал Игоря Ильяша и ещё троих"
        if sent - 1 in hit_sents and norm.sentences[sent - 1].question and num.first - norm.sentences[sent].first <= 2:
            score += 3.5  # the answer to "Сколько человек помиловали?"
        if best is None or score > best[0]:
            best = (score, num, approx)
    if best is not None and best[0] >= MIN_SCORE:
        _, num, approx = best
        if approx or num.value is None:
            return None, (num.first, num.last)
        value = num.value
        value += _coordinated_people(rs, words, num)  # "двое литовцев и эстонец"
        named_before = _more_after_names(rs, norm, words, num, name_starts)
        if named_before:
            value += named_before  # "помиловал Игоря Ильяша и ещё троих", "X and three others"
        elif rs.in_lexicon("fact_more", words[num.first - 1]) and \
                _clause_has(rs, norm, words, num.first, "fact_plus_one", memo):
            value += 1  # "разам з ім вызвалілі яшчэ двух" — the named person plus two more
        return value, (num.first, num.last)
    among = any(rs.phrase_in("fact_among", words, max(0, h.first - 3), h.first) for h in hits) \
        or any(rs.in_lexicon("fact_names_of", words[k]) for h in hits
               for k in range(norm.sentences[toks[h.first].sent].first, h.first))
    if n_names and not among:
        return n_names + _described_people(rs, norm, words, hits, memo), None
    described = _described_pair(rs, norm, words, hits)
    if described:
        return described, None
    if _singular(rs, norm, words, hits):
        return 1, None
    return None, None


def _whole_group(rs: RuleSet, words: list[str], num: Number) -> bool:
    """"Из 30 помилованных", "З 25 памілаваных", "Of the 18 people pardoned": the whole group."""
    i, j = num.first, num.last
    prev = words[i - 1] if i > 0 else ""
    if prev == "the" and i > 1 and words[i - 2] == "of":
        prev = "of"
    if prev not in ("из", "з", "са", "of") or j >= len(words):
        return False
    return rs.in_lexicon("freed_ctx", words[j]) or _people_noun(rs, words[j])


def _score(rs: RuleSet, norm: Normalized, words: list[str], num: Number, hits: list,
           hit_sents: set[int], label: str, memo: dict) -> tuple[float, bool] | None:
    toks = norm.tokens
    lex = rs.in_lexicon
    i, j = num.first, num.last
    sent = toks[i].sent
    nxt = words[j] if j < len(words) and toks[j].sent == sent else ""
    nxt2 = words[j + 1] if j + 1 < len(words) and toks[j + 1].sent == sent else ""
    prev = words[i - 1] if i > 0 and toks[i - 1].sent == sent else ""
    text = norm.original
    if nxt and (lex("fact_unit", nxt) or lex("month", nxt)):
        return None
    if text[toks[j - 1].end:toks[j - 1].end + 1] in ("%", "-") and nxt and not lex("person", nxt):
        return None  # "5%", "80-летие"
    if num.value is not None and 1900 <= num.value <= 2099 and not num.word and j - i == 1:
        return None  # a year ("2 050 inmates", written with a thousands space, is a count)
    start = toks[i].start
    if not num.word and (text[start - 1:start] in ("-", "№", "#") or text[max(0, start - 2):start] in ("№ ", "# ")) \
            and (start < 2 or text[start - 2].isalpha() or text[start - 1] in "№#" or text[start - 2] in "№#"):
        return None  # an identifier: "ИК-3", "СИЗО №1"
    k = j
    while k < min(j + 4, len(words)) and words[k] in ("and", "a", "half", "с", "половиной", "з", "паловай", "і", "и"):
        k += 1
    if k > j and k < len(words) and lex("fact_unit", words[k]):
        return None  # "two and a half years", "два с половиной года"
    if prev in ("№", "no", "номер", "статья", "article", "ст", "part", "ч"):
        return None
    if i > 0 and toks[i - 1].cap and text[toks[i - 1].end:start].strip() in (",", "(") \
            and text[toks[j - 1].end:toks[j - 1].end + 2].strip(" \u00a0")[:1] in ("", "\n", ")", ";", ",") \
            and not (nxt and _people_noun(rs, nxt)):
        return None  # "• Aliaksandr Kavalchuk, 58", "freed Mark Holloway, 63, in exchange": an age after a name
    score = 0.0
    if any(toks[h.first].clause == toks[i].clause for h in hits):
        score += 1.0
    dist = min((max(h.first - j, i - h.last, 0) for h in hits if toks[h.first].sent == sent), default=99)
    inside = any(h.first <= i < h.last for h in hits)
    if inside or dist <= 1:
        score += 3.0
    elif dist <= 3:
        score += 2.0
    elif dist <= 6:
        score += 0.5
    # Collective numerals count people whatever noun follows: "Троих фигурантов дела отпустили", "траіх супрацоўнікаў".
    collective = num.word and words[i].startswith(_COLLECTIVE) and not words[i].startswith("четверг")
    if collective or any(lex("person", w) or lex("prisoner", w) or lex("demonym_all", w) for w in (nxt, nxt2) if w):
        score += 2.0
        if sent in hit_sents and not _clause_has(rs, norm, words, i, "other_event", memo):
            score += 1.0  # "Five foreigners, ..., left Belarus": the subject of the event sentence
    if prev and lex("fact_all", prev):
        score += 2.0
    if prev and lex("fact_more", prev):
        score += 1.0
    if nxt and lex("fact_subset", nxt) and nxt2 and not lex("fact_unit", nxt2):
        score -= 4.0  # "15 из них", "Nine of the 123"
    elif prev and lex("fact_subset", prev) and dist == 0:
        score += 1.5  # "Са 123 памілаваных 114 ..." — the whole group, not the part after it
    sent_lo = norm.sentences[sent].first  # the words before i in its sentence are [sent_lo, i)
    if prev and (lex("freed_ctx", prev) or lex("prisoner", prev)) and \
            rs.phrase_in("fact_among", words, max(i - 3, sent_lo), i - 1):
        score -= 3.0  # "Сярод памілаваных 11 жанчын" is part of the group ("Among the 15" is the group)
    if rs.phrase_in("fact_part", words, max(i - 3, sent_lo), i):
        score -= 4.0  # "в том числе трое граждан Литвы" is part of the group
    if any(lex("fact_names_of", words[k]) for k in range(max(i - 2, sent_lo), i)):
        score -= 4.0  # "установлены имена ещё двоих" counts names, not the freed
    if nxt and lex("freed_ctx", nxt):
        score += 1.0  # "52 освобождённых"
    if label == "amnesty" and any(lex("person", w) or lex("prisoner", w) for w in (nxt, nxt2) if w):
        score += 2.0  # the amnesty's reach, stated after the lead ("затронет 7 850 осуждённых")
    if _clause_has(rs, norm, words, i, "fact_total", memo):
        score -= 3.0
    if _clause_has(rs, norm, words, i, "fact_background", memo):
        return None  # "until all 1,100+ political prisoners are home": those still held
    if sent not in hit_sents and _clause_has(rs, norm, words, i, "fact_reach", memo):
        score += 3.0  # the decree's reach stated in the sentence after it
    if label == "exchange" and _after_other_side(rs, norm, words, i):
        score -= 5.0
    approx = any(rs.phrase_at("fact_approx", words, k) for k in range(max(0, i - 2), i)
                 if toks[k].clause == toks[i].clause
                 and not (words[k] == "over" and k > 0 and lex("phrasal_over", words[k - 1])))
    return score, approx


# Collective numerals (folded: ё→е, і→и) name people only: двое/троих/пятеро, дваіх/траіх/чацвёра/пяцярых.
_COLLECTIVE = ("двое", "двоих", "двоим", "трое", "троих", "троим", "четверо", "четвер", "пятер", "шестер",
               "семер", "восьмер", "девятер", "десятер", "дваих", "траих", "чацвер", "чацвяр", "пяцер", "пяцяр",
               "шасцер", "шасцяр", "сямер", "сямяр", "васьмер", "дзесяцер")


def _people_noun(rs: RuleSet, word: str) -> bool:
    return rs.in_lexicon("person", word) or rs.in_lexicon("prisoner", word) or rs.in_lexicon("demonym_all", word)


def _skip_geo(rs: RuleSet, words: list[str], k: int) -> int:
    while k < len(words) and rs.in_lexicon("geo_all", words[k]):
        k += 1  # "граждан Беларуси"
    return k


def _coordinated_people(rs: RuleSet, words: list[str], num: Number) -> int:
    """People added to the counted group by "и/and": "двое литовцев и эстонец", "трое мужчин и две
    женщины", "трох беларусаў і грамадзяніна Францыі", "four men and three women"."""
    k = _skip_geo(rs, words, num.last + 1)  # skip the counted noun (and its country)
    extra = 0
    while k + 1 < len(words) and words[k] in ("и", "and", "а", "также", "таксама"):
        k += 1
        value = int(words[k]) if words[k].isascii() and words[k].isdigit() and len(words[k]) < 6 \
            else word_value(words[k])
        if value and k + 1 < len(words) and _people_noun(rs, words[k + 1]):
            extra += value  # "и две женщины", "and three Latvians"
            k = _skip_geo(rs, words, k + 2)
            continue
        if words[k] in ("a", "an", "one", "один", "одна", "адзин", "адна"):
            k += 1
        if k < len(words) and (rs.in_lexicon("demonym_all", words[k]) or words[k] in _CITIZEN_ONE
                               or words[k] in ("иностранец", "иностранка", "замежник", "foreigner")):
            extra += 1
            k = _skip_geo(rs, words, k + 1)
        else:
            break
    k = num.first - 1  # "латвийку и двух литовцев", "a Japanese national and two Lithuanians"
    if k >= 1 and words[k] in ("и", "and") and any(
            (rs.in_lexicon("demonym_all", words[m]) or words[m] in _CITIZEN_ONE) and not words[m].endswith(_PLURAL_ENDS)
            for m in range(max(0, k - 2), k)):
        extra += 1
    elif k >= 2 and words[k] in ("и", "and") and _people_noun(rs, words[k - 1]):
        before = word_value(words[k - 2]) or (int(words[k - 2]) if words[k - 2].isascii() and words[k - 2].isdigit()
                                             and len(words[k - 2]) < 6 else None)
        extra += before or 0  # "двое мужчин и три женщины" read from the second group
    return extra


_PLURAL_ENDS = ("s", "цы", "цев", "цам", "цами", "ки", "ок", "ев", "ов", "ы", "ам", "ами", "ах", "ей", "ан")


def _more_after_names(rs: RuleSet, norm: Normalized, words: list[str], num: Number,
                      name_starts: tuple[int, ...]) -> int:
    """How many named people precede "ещё N" / "N others" in the same clause (0 if not that shape)."""
    toks = norm.tokens
    more = num.first > 0 and rs.in_lexicon("fact_more", words[num.first - 1]) or (
        num.last < len(words) and rs.in_lexicon("fact_others", words[num.last]))
    if not more:
        return 0
    return sum(1 for k in name_starts if k < num.first and toks[k].clause == toks[num.first].clause)


def _clause_has(rs: RuleSet, norm: Normalized, words: list[str], i: int, lexicon: str,
                memo: dict | None = None) -> bool:
    """Whether the clause of token i contains an entry of the lexicon (memoised per post)."""
    if memo is None:
        return _clause_has_uncached(rs, norm, words, i, lexicon)
    key = (lexicon, norm.tokens[i].clause)
    if key not in memo:
        memo[key] = _clause_has_uncached(rs, norm, words, i, lexicon)
    return memo[key]


def _clause_has_uncached(rs: RuleSet, norm: Normalized, words: list[str], i: int, lexicon: str) -> bool:
    lo, hi = clause_bounds(norm, i)
    return rs.phrase_in(lexicon, words, lo, hi)


def clause_bounds(norm: Normalized, i: int) -> tuple[int, int]:
    """Token range [lo, hi) of the clause of token i (clause numbers never decrease along the post)."""
    clauses = norm.clause_of
    if len(clauses) != len(norm.tokens):
        clauses = [t.clause for t in norm.tokens]
    clause = clauses[i]
    return bisect_left(clauses, clause, 0, i), bisect_right(clauses, clause, i)


def _after_other_side(rs: RuleSet, norm: Normalized, words: list[str], i: int) -> bool:
    # Any "other side" phrase earlier in the sentence (the sentence's tokens are contiguous).
    return rs.phrase_in("fact_other_side", words, norm.sentences[norm.tokens[i].sent].first, i)


def _described_people(rs: RuleSet, norm: Normalized, words: list[str], hits: list, memo: dict) -> int:
    """Unnamed people freed alongside named ones ("along with an American citizen and X")."""
    toks = norm.tokens
    extra = 0
    for s in hit_sentences(norm, hits):
        sent = norm.sentences[s]
        for k in range(sent.first, sent.last):
            if not rs.in_lexicon("demonym_all", words[k]) or not _clause_has(rs, norm, words, k, "fact_plus_one", memo):
                continue
            near_name = any(toks[m].cap for m in range(k + 1, min(k + 3, sent.last)) if m != k)
            if not near_name:
                extra += 1
    return extra


_CITIZEN_ONE = ("гражданин", "гражданина", "гражданку", "гражданка", "грамадзянин", "грамадзянина", "грамадзянку",
                "грамадзянка", "citizen", "national")


def _described_pair(rs: RuleSet, norm: Normalized, words: list[str], hits: list) -> int:
    """Single described people joined by "и/and" right after a trigger: "помиловал казахстанку и
    гражданина Киргизии" gives 2. 0 when the clause is not that shape."""
    toks = norm.tokens
    for h in hits:
        k, people, joined = h.last, 0, False
        while k < len(words) and toks[k].clause == toks[h.last - 1].clause and k < h.last + 12:
            w = words[k]
            if w in _CITIZEN_ONE or rs.in_lexicon("demonym_all", w) and not w.isascii() \
                    and not w.endswith(_PLURAL_ENDS):
                people += 1
                if k + 1 < len(words) and rs.in_lexicon("geo_all", words[k + 1]):
                    k += 1  # "гражданина Киргизии"
            elif w in ("и", "and"):
                joined = True
            elif w in ("a", "an", "one"):
                pass  # "a Nigerian national and a Brazilian citizen"
            elif not rs.in_lexicon("geo_all", w):
                break
            k += 1
        if people >= 2 and joined:
            return people
    return 0


def _singular(rs: RuleSet, norm: Normalized, words: list[str], hits: list) -> bool:
    """A trigger in a singular form or about one described person ("Помилован гражданин Эстонии")."""
    toks = norm.tokens
    for h in hits:
        if _plural_people_after(rs, norm, words, h):
            continue  # "Памілаваны грамадзяне Швецыі": the be participle form is not singular here
        k = h.last + 1 if h.last < len(words) and words[h.last] == "to" else h.last
        if k < len(words) and words[k] in ("a", "an") and toks[k].sent == toks[h.first].sent:
            return True  # "pardoned a 72-year-old Polish priest", "granted clemency to a Latvian citizen"
        lo, hi = max(0, h.first - 2), min(len(words), h.last + 3)
        for k in range(lo, hi):
            if toks[k].sent == toks[h.first].sent and rs.in_lexicon("singular", words[k]):
                return True
    return False


_PLURAL_PEOPLE_ENDS = ("ане", "яне", "ы", "и", "ия", "ыя", "s")


def _plural_people_after(rs: RuleSet, norm: Normalized, words: list[str], h) -> bool:
    """The trigger is followed by a plural noun for people ("памілаваны грамадзяне", "вызвалены палітвязні")."""
    k = h.last
    if k >= len(words) or norm.tokens[k].sent != norm.tokens[h.first].sent:
        return False
    w = words[k]
    return w.endswith(_PLURAL_PEOPLE_ENDS) and (rs.in_lexicon("person", w) or rs.in_lexicon("prisoner", w)) \
        and not rs.in_lexicon("singular", w)
