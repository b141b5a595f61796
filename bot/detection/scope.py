"""Which sentences of a post describe the detected event: where facts (names, counts, countries)
are read from. Pure functions over normalize.Normalized.
"""

from __future__ import annotations

from typing import Protocol

from bot.detection.normalize import Normalized

# A sentence opening with these continues the event sentence before it ("Среди них — ...").
# A sentence opening with a pronoun continues the person of the sentence before ("X дома! Он ...").
_PRONOUNS = {"он", "она", "ен", "яна", "he", "she", "они", "яны", "they"}
_AMONG = {"среди", "сярод", "among", "including", "это", "гета", "оба", "абодва", "both"}
# "Their names:", "Вось іх імёны:" — a list of the freed people follows even when this sentence has no trigger.
_NAMES_OF = {"имена", "имены", "имен", "фамилии", "прозвишчы", "names", "identities"}
_AMONG_PAIRS = {("в", "их"), ("в", "том"), ("у", "тым"), ("у", "их"), ("in", "their"), ("their", "names"),
                ("их", "имена"), ("их", "имёны"), ("they", "include"), ("they", "included"), ("those", "include"),
                ("these", "include"), ("one", "of"), ("одна", "из"), ("один", "из"), ("адна", "з"), ("адзин", "з")}


# A sentence opening with a bare noun for the person continues the named person before it:
# "Андрэй Шупень з Ліды — ужо дома. Палітвязень выйшаў на волю", "X is home. The political prisoner ...".
_ANAPHOR_STEMS = ("политзаключ", "палитвяз", "палитзек", "политзек", "заключен", "осужден", "асуджан", "prisoner",
                  "activist", "journalist", "blogger", "активист", "актывист", "журналист", "блогер", "анархист")
_DETERMINERS = {"the", "этот", "эта", "гэты", "гэтая", "наш", "наша", "our", "political", "former"}


def _names_intro(norm: Normalized, k: int) -> bool:
    """"Their names:" — a sentence ending in a colon that announces names."""
    sent, toks = norm.sentences[k], norm.tokens
    if sent.last <= sent.first:
        return False
    end = toks[sent.last - 1].end
    if ":" in norm.original[end:end + 4]:
        return any(toks[i].text in _NAMES_OF for i in range(sent.first, sent.last))
    # "удалось установить имена троих из них: A (Витебск), B (Пинск)" — the list inside the sentence
    i = next((i for i in range(sent.first, min(sent.first + 12, sent.last - 1)) if toks[i].text in _NAMES_OF), None)
    return i is not None and ":" in norm.original[toks[i].end:toks[min(i + 5, sent.last - 1)].start]


def _anaphor(norm: Normalized, first: int, last: int) -> bool:
    toks = norm.tokens
    k = first
    while k < min(first + 2, last - 1) and toks[k].text in _DETERMINERS:
        k += 1
    return toks[k].text.startswith(_ANAPHOR_STEMS)


# "Суд приговорил X к штрафу. Так как в СИЗО он провёл год, его освободили в зале суда": the freed
# person is the object pronoun right next to the trigger, named in the sentence before.
_OBJ_PRONOUNS = {"его", "ее", "яго", "яе", "him", "her"}


def _object_pronoun_near(norm: Normalized, hits: list, s: int) -> bool:
    toks = norm.tokens
    for h in hits:
        if toks[h.first].sent != s:
            continue
        lo, hi = max(norm.sentences[s].first, h.first - 2), min(norm.sentences[s].last, h.last + 2)
        if any(toks[k].text in _OBJ_PRONOUNS for k in range(lo, hi)):
            return True
    return False


def _take_list(norm: Normalized, s: int, out: set[int], names_line: bool = False) -> None:
    """Add the lines of a list that sentence s introduces, up to the next blank line: s ends in ':'
    or a dash, or (names_line) s says whose names follow and the next line is a bullet
    ("Стали известны имена некоторых из помилованных.\n\n— Ирина Шилович, 47 лет ...")."""
    sents, toks, text = norm.sentences, norm.tokens, norm.original
    sent = sents[s]
    if sent.last <= sent.first:
        return
    tail = text[toks[sent.last - 1].end:toks[sent.last - 1].end + 4]
    if not (":" in tail or _dash_line_end(tail)):
        if not (names_line and s + 1 < len(sents) and sents[s + 1].first < len(toks)
                and any(toks[i].text in _NAMES_OF for i in range(sent.first, sent.last))
                and opens_bullet_line(text, toks[sents[s + 1].first].start)):
            return
    for k in range(s + 1, min(s + 25, len(sents))):
        first = sents[k].first
        if k > s + 1 and first < len(toks) and "\n\n" in text[toks[first - 1].end:toks[first].start]:
            break
        out.add(k)


def opens_bullet_line(text: str, start: int) -> bool:
    """The word at `start` opens a line after a bullet or a number ("— ", "▪️ ", "1) ")."""
    line_start = text.rfind("\n", 0, start) + 1
    lead = text[line_start:start]
    return bool(lead.strip()) and not any(c.isalpha() for c in lead)


def _dash_line_end(tail: str) -> bool:
    """"... identified four of the 21 people pardoned —\n1) ...": a dash ending the line announces a list."""
    stripped = tail.lstrip(" \u00a0")
    return stripped[:1] in ("—", "–") and stripped[1:].lstrip(" \u00a0")[:1] == "\n"


class _HitLike(Protocol):
    first: int


def hit_sentences(norm: Normalized, hits: list[_HitLike]) -> list[int]:
    return sorted({norm.tokens[h.first].sent for h in hits})


def event_sentences(norm: Normalized, hits: list[_HitLike], follow: int = 0) -> list[int]:
    """Sentences with an event trigger, plus lists they introduce (":" then bullet lines), plus
    "Среди них/Among them" sentences right after them, plus `follow` sentences after each."""
    base = hit_sentences(norm, hits)
    out = set(base)
    sents, toks, text = norm.sentences, norm.tokens, norm.original
    # Only the sentence right after an event sentence can announce its names ("... freed. Their names:").
    intros = [k for k in {s + 1 for s in base} if k < len(sents) and k not in out and _names_intro(norm, k)] \
        if ":" in text else []
    out.update(intros)
    for s in base + intros:
        sent = sents[s]
        if sent.last <= sent.first:
            continue
        if s > 0 and (toks[sent.first].text in _PRONOUNS or _anaphor(norm, sent.first, sent.last)
                      or _object_pronoun_near(norm, hits, s)):
            out.add(s - 1)
        if sent.question and s + 1 < len(sents):
            out.add(s + 1)  # "Сколько человек помиловали? Семерых." — the answer follows
        _take_list(norm, s, out, names_line=True)
        for k in range(s + 1, min(s + 3, len(sents))):
            first = sents[k].first
            if first >= len(toks) or first >= sents[k].last:
                continue
            pair = (toks[first].text, toks[first + 1].text if first + 1 < sents[k].last else "")
            if pair[0] in _AMONG or pair in _AMONG_PAIRS:
                out.add(k)
                _take_list(norm, k, out)  # "Среди них:\n— A;\n— B"
        for k in range(s + 1, min(s + 1 + follow, len(sents))):
            out.add(k)
    return sorted(out)


def widen(norm: Normalized, hits: list[_HitLike], sentences: list[int], follow: int) -> list[int]:
    """event_sentences(norm, hits, follow) given event_sentences(norm, hits): only the `follow`
    sentences after each hit sentence depend on `follow`, so the rest is not computed again."""
    if follow <= 0:
        return sentences
    sents = norm.sentences
    out = set(sentences)
    for s in hit_sentences(norm, hits):
        if sents[s].last > sents[s].first:
            out.update(range(s + 1, min(s + 1 + follow, len(sents))))
    return sorted(out)
