"""Runs the compiled token patterns of a RuleSet over one post: per-word element lookup (cached)
and greedy left-to-right sequence matching inside sentences. Pure apart from the bounded caches.
"""

from __future__ import annotations

from collections import defaultdict
from operator import itemgetter

from bot.detection.normalize import Normalized
from bot.detection.numbers import is_digits, word_value
from bot.detection.rules import NUM, YEAR, RuleSet

_WORD_CACHE_MAX = 200_000  # distinct words remembered per rule set (bounded memory)


def _word_elements(rs: RuleSet, t: str) -> tuple:
    """(element ids the word satisfies, trigger sequences, context sequences and the context
    sequences used with scope "post" that can start at it, then those three split by _split_starts,
    then the word's elements that some sequence needs after its first word), cached per word."""
    cache = rs.word_cache
    found = cache.get(t)
    if found is not None:
        return found
    acc = set(rs.exact.get(t, ()))
    prefix = rs.prefix
    for n in rs.prefix_lengths:
        if n > len(t):
            break
        hit = prefix.get(t[:n])
        if hit:
            acc |= hit
    if is_digits(t) or word_value(t) is not None:
        acc.add(NUM)
        if len(t) == 4 and is_digits(t) and 1900 <= int(t) <= 2099:
            acc.add(YEAR)
    starts = [sid for eid in acc for sid in rs.starts.get(eid, ())]
    trig = rs.trigger_seqs
    ctx = tuple(x for x in starts if x not in trig)
    found = (frozenset(acc), tuple(x for x in starts if x in trig), ctx, tuple(x for x in ctx if x in rs.post_seqs))
    found += tuple(_split_starts(rs, sids) for sids in found[1:])
    later = found[0] & _later_elements(rs)
    found += (later if later else _NO_ELEMENTS,)
    if len(cache) >= _WORD_CACHE_MAX:
        cache.clear()
    cache[t] = found
    return found


_NO_ELEMENTS: frozenset[int] = frozenset()
Multi = tuple[int, frozenset[int], tuple[tuple[int, int], ...]]  # (sid, elements after the first, steps)
Starts = tuple[tuple[int, ...], frozenset[int], dict[int, tuple[Multi, ...]]]


def _split_starts(rs: RuleSet, sids: tuple[int, ...]) -> Starts:
    """Sequence ids arranged for _match, once per word: (one-word sequences, the second elements
    of the longer ones, and those by their second element: (sid, elements after the first, the
    (element, gap) steps after the first)). A sequence whose second element is absent from the
    post cannot match, and one set intersection finds the others."""
    if not sids:
        return _NO_STARTS  # most words start nothing in some phase: one shared, never-mutated value
    seqs = rs.seqs
    by_next: dict[int, list[Multi]] = {}
    for sid in sids:
        if len(seqs[sid]) > 1:
            by_next.setdefault(seqs[sid][1][0], []).append((sid, rs.seq_rest[sid], seqs[sid][1:]))
    return (tuple(sid for sid in sids if len(seqs[sid]) == 1), frozenset(by_next),
            {el: tuple(group) for el, group in by_next.items()})


_NO_STARTS: Starts = ((), frozenset(), {})


def _later_elements(rs: RuleSet) -> frozenset[int]:
    """Elements some sequence needs after its first word (what fail-fast checks look for)."""
    got = rs.cache.get("later_elements")
    if got is None:
        got = rs.cache["later_elements"] = frozenset().union(*rs.seq_rest)
    return got


def token_elements(rs: RuleSet, norm: Normalized) -> list[frozenset[int]]:
    """For each token, the ids of the pattern elements it satisfies."""
    return [_word_elements(rs, tok.text)[0] for tok in norm.tokens]


def word_table(rs: RuleSet, norm: Normalized) -> list[tuple]:
    """Per token: (element ids, trigger sequence starts, context sequence starts, post-scope context
    sequence starts, then the three starts split by _split_starts); share it across phases."""
    get = rs.word_cache.get
    words = norm.words if len(norm.words) == len(norm.tokens) else [t.text for t in norm.tokens]
    return [get(w) or _word_elements(rs, w) for w in words]


Found = dict[int, list[tuple[int, int, tuple[int, ...]]]]


def match_patterns(rs: RuleSet, norm: Normalized, phase: str = "all", sentences: set[int] | None = None,
                   per_word: list | None = None, elems: list | None = None,
                   present: frozenset[int] | None = None) -> Found:
    """Matches of the compiled sequences: seq id -> [(first, last + 1, matched token positions)].

    phase "trigger" runs only trigger sequences; "context" only the others (blockers, requirements),
    limited to `sentences` except for sequences used with scope "post". Sequences never cross a
    sentence boundary. Greedy left-to-right: bounded work per token. `elems` (the per-token element
    sets of `per_word`) and `present` (the union of the elements sequences need after their first
    word, or a superset) may be passed in when shared across phases.
    """
    toks = norm.tokens
    if per_word is None:
        per_word = word_table(rs, norm)
    sents = norm.sent_of if len(norm.sent_of) == len(toks) else tuple(t.sent for t in toks)
    if phase == "trigger":
        todo = [(i, w[4]) for i, w in enumerate(per_word) if w[1]]  # most words start no trigger
    elif phase == "context":
        if sentences is None:
            todo = [(i, w[5]) for i, w in enumerate(per_word) if w[2]]
        else:
            # Outside `sentences` only post-scope sequences (w[3], a subset of w[2]) are run.
            todo = [(i, w[5] if sents[i] in sentences else w[6]) for i, w in enumerate(per_word)
                    if w[2] and (w[3] or sents[i] in sentences)]
    else:
        todo = [(i, _split_starts(rs, w[1] + w[2])) for i, w in enumerate(per_word) if w[1] or w[2]]
    if not todo:
        return defaultdict(list)
    if elems is None:
        elems = [w[0] for w in per_word]
    if present is None:
        present = frozenset().union(*filter(None, map(itemgetter(7), per_word)))
    return _match(sents, elems, present, todo)


def _match(sents: tuple[int, ...], elems: list, present: frozenset[int], todo: list[tuple[int, Starts]]) -> Found:
    found: Found = defaultdict(list)
    n_toks = len(sents)
    for i, (singles, nexts, by_next) in todo:
        if singles:
            m = (i, i + 1, (i,))  # one shared tuple: matches are never mutated
            for sid in singles:
                found[sid].append(m)
        if not nexts:
            continue
        sent = sents[i]
        for nxt in nexts & present:
            for sid, rest, tail in by_next[nxt]:
                if len(rest) > 1 and not rest <= present:
                    continue  # a later word of the sequence occurs nowhere in the post
                pos, at = i + 1, [i]
                for el, gap in tail:
                    limit = pos + gap + 1
                    if limit > n_toks:
                        limit = n_toks
                    k = pos
                    while k < limit and sents[k] == sent and el not in elems[k]:
                        k += 1
                    if k >= limit or sents[k] != sent:
                        break
                    pos = k + 1
                    at.append(k)
                else:
                    found[sid].append((i, pos, tuple(at)))
    return found
