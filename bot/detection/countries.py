"""Citizenships of the freed people, as English country names, from citizenship phrases
("граждан Польши", "citizens of Poland and Australia", "By citizenship: ...") and nationality
nouns ("американец", "двух латвийцев", "Latvian smugglers"). Destinations are not citizenships.

Pure functions; the country table lives in config/rules.toml ([country.*]).
"""

from __future__ import annotations

from functools import partial

from bot.detection.normalize import Normalized, fold_term, token_words
from bot.detection.rules import RuleSet
from bot.detection.scope import event_sentences

_CUE_STEMS = ("граждан", "грамадзян", "citizen", "national", "подданн", "citizenship")
_NOT_CUE = ("гражданск", "грамадзянск", "nationalit", "nationalis", "nationwide", "national-")
_DEST = {"в", "во", "у", "ва", "to", "into", "in", "на", "до", "да", "через", "праз", "from", "из", "з", "across",
         "for", "at", "near", "towards", "пределы", "межы", "territory", "территорию", "тэрыторыю", "borders"}
FOLLOW = 2  # sentences after each event sentence also read for citizenships
_EN_AFTER_NOUN = {"and", "was", "were", "who", "has", "had", "is", "are", "on", "with", "from"}


def _forms(rs: RuleSet) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """(country, kind, folded words of one form, ends with *) for every name/demonym/adjective."""
    cached = rs.cache.get("country_forms")
    if cached is not None:
        return cached
    out = []
    for country, spec in rs.countries.items():
        if spec.get("not_citizenship"):
            continue
        for kind in ("names", "demonyms", "adjectives"):
            for entry in spec.get(kind, []):
                for alt in entry.split("|"):
                    alt = alt.strip()
                    star = alt.endswith("*")
                    words = tuple(fold_term(w) for w in alt.rstrip("*").split())
                    if words:
                        out.append((country, kind, words, star))
    # Nationality nouns and adjectives before names, longer forms first: "латвийцев" is a
    # demonym although it also starts with the name stem "латви".
    order = {"demonyms": 0, "adjectives": 1, "names": 2}
    out.sort(key=lambda f: (order[f[1]], -len(" ".join(f[2]))))
    rs.cache["country_forms"] = out
    return out


def _index(rs: RuleSet) -> tuple[dict, tuple[int, ...]]:
    """Forms indexed by their first word (exact) or its stem, so lookup is per word, not per form."""
    cached = rs.cache.get("country_index")
    if cached is None:
        idx: dict[tuple[str, bool], list] = {}
        for f in _forms(rs):
            key = (f[2][0], f[3] and len(f[2]) == 1)
            idx.setdefault(key, []).append(f)
        lengths = tuple(sorted({len(k[0]) for k in idx if k[1]}))
        cached = rs.cache["country_index"] = (idx, lengths)
    return cached


def _candidates(rs: RuleSet, word: str) -> list:
    return rs.memo("country_candidates", partial(_candidates_uncached, rs), 200_000)[word]


def _candidates_uncached(rs: RuleSet, word: str) -> list:
    idx, lengths = _index(rs)
    out = list(idx.get((word, False), ()))
    for n in lengths:
        if n > len(word):
            break
        out += idx.get((word[:n], True), ())
    order = {"demonyms": 0, "adjectives": 1, "names": 2}
    out.sort(key=lambda f: (order[f[1]], -len(" ".join(f[2]))))
    return out


def _form_at(rs: RuleSet, words: list[str], i: int) -> tuple[str, str, int] | None:
    if i < 0 or i >= len(words):
        return None
    for country, kind, form, star in _candidates(rs, words[i]):
        n = len(form)
        if i + n > len(words):
            continue
        ok = all(words[i + k] == form[k] for k in range(n - 1))
        last = words[i + n - 1]
        if ok and (last.startswith(form[-1]) if star else last == form[-1]):
            return country, kind, n
    return None


def extract_countries(rs: RuleSet, norm: Normalized, hits: list, label: str,
                      sentences: list[int] | None = None) -> list[tuple[str, tuple[int, int]]]:
    """[(English country name, token span)] in order of first mention, without duplicates.

    `sentences` defaults to the event sentences plus the two after each."""
    toks = norm.tokens
    words = token_words(norm)
    out: dict[str, tuple[int, int]] = {}
    home = next((c for c, spec in rs.countries.items() if spec.get("home")), None)
    skip = rs.memo("country_skip", partial(_skippable, rs), 100_000)
    for s in event_sentences(norm, hits, follow=FOLLOW) if sentences is None else sentences:
        sent = norm.sentences[s]
        cue_at = None
        chain_end = -99
        i = sent.first
        while i < sent.last:
            w = words[i]
            if skip[w]:
                i += 1  # fast path: a word that is no cue and starts no country form
                continue
            is_cue = w.startswith(_CUE_STEMS) and not w.startswith(_NOT_CUE)
            if is_cue:
                cue_at = i if cue_at is None else cue_at
                chain_end = i + 1
                prev = _form_at(rs, words, i - 1) if i > sent.first else None
                # "Polish citizen", "US citizens", "польский гражданин"
                if prev and (prev[1] == "adjectives" or prev[1] != "demonyms" and words[i - 1].isascii()):
                    _add(out, prev[0], (i - 1, i + 1))
                i += 1
                continue
            found = _form_at(rs, words, i)
            if not found:
                i += 1
                continue
            country, kind, n = found
            if label == "exchange" and _after_other_side(rs, words, sent.first, i):
                i += n
                continue
            if kind == "demonyms" and _demonym_counts(rs, norm, words, i, n):
                _add(out, country, (i, i + n))
            elif kind == "adjectives" and _adjective_is_person(rs, norm, words, i, n) and (
                    country != home or _before_citizen_cue(words, i + n)):
                # Belarus only when stated as citizenship: "Belarusian citizen", not "Belarusian activist".
                _add(out, country, (i, i + n))
            elif kind == "names" and cue_at is not None and cue_at < i and i - chain_end <= 3 \
                    and not _dest_before(words, i, sent.first) \
                    and not (i > sent.first and rs.in_lexicon("move_verb", words[i - 1])):
                # ("... граждан Армении покинули Беларусь": the country after a verb of moving is a destination)
                # Country names continue a citizenship phrase only while they follow each other
                # closely: "граждан Польши, двое — Японии ... Эстонии и Швеции".
                _add(out, country, (i, i + n))
                chain_end = i + n
            i += n
    if label == "exchange" and home in out and not _home_freed_by_belarus(rs, norm, words, out[home][0]):
        del out[home]  # Belarusians in a swap are freed by the other side, unless Belarus frees them
    return [(c, span) for c, span in out.items()]


def _skippable(rs: RuleSet, w: str) -> bool:
    """Neither a citizenship cue nor the start of any country form (memoised per word)."""
    return not (w.startswith(_CUE_STEMS) and not w.startswith(_NOT_CUE)) and _candidates(rs, w) == []


def _add(out: dict, country: str, span: tuple[int, int]) -> None:
    out.setdefault(country, span)


def _before_citizen_cue(words: list[str], j: int) -> bool:
    return j < len(words) and words[j].startswith(_CUE_STEMS) and not words[j].startswith(_NOT_CUE)


def _dest_before(words: list[str], i: int, first: int) -> bool:
    return i > first and words[i - 1] in _DEST


def _demonym_counts(rs: RuleSet, norm: Normalized, words: list[str], i: int, n: int) -> bool:
    w = words[i]
    if not w.isascii():
        return True  # Russian/Belarusian nationality nouns name people
    if w.endswith("s"):
        return True  # "Belarusians", "Americans"
    return _adjective_is_person(rs, norm, words, i, n, bare_ok=True)


def _adjective_is_person(rs: RuleSet, norm: Normalized, words: list[str], i: int, n: int,
                         bare_ok: bool = False) -> bool:
    """English nationality adjective counts only before a word for people ("Latvian smugglers")."""
    if not words[i].isascii():
        return False
    toks = norm.tokens
    j = i + n
    if j >= len(words) or toks[j].clause != toks[i].clause:
        return bare_ok
    nxt = words[j]
    if rs.in_lexicon("person", nxt) or rs.in_lexicon("prisoner", nxt) or rs.in_lexicon("name_descriptor", nxt):
        return True
    return bare_ok and nxt in _EN_AFTER_NOUN


def _after_other_side(rs: RuleSet, words: list[str], first: int, i: int) -> bool:
    return rs.phrase_in("fact_other_side", words, first, i)


def _home_freed_by_belarus(rs: RuleSet, norm: Normalized, words: list[str], i: int) -> bool:
    """"Minsk freed three Lithuanian nationals and one Belarusian": Belarus is named freeing, then a freeing
    verb, then the Belarusians in the verb's clause ("Минск отпустил пятерых литовцев, Вильнюс — двоих
    граждан Беларуси" is the other side's), with no "in return"/"взамен" between."""
    toks = norm.tokens
    lo = norm.sentences[toks[i].sent].first
    actor = next((k for k in range(lo, i) if rs.in_lexicon("fact_swap_belarus", words[k])), None)
    if actor is None:
        return False
    verb = next((k for k in range(actor + 1, min(actor + 3, i)) if rs.in_lexicon("fact_swap_frees", words[k])), None)
    return verb is not None and toks[verb].clause == toks[i].clause and not rs.phrase_in("fact_other_side", words, verb, i)
