"""Runs the compiled token patterns of a RuleSet over one post: per-word element lookup (cached)
and greedy left-to-right sequence matching inside sentences. Pure apart from the bounded caches.
"""

from __future__ import annotations

from collections import defaultdict

from bot.detection.normalize import Normalized
from bot.detection.numbers import is_digits, word_value
from bot.detection.rules import NUM, YEAR, RuleSet

_WORD_CACHE_MAX = 200_000  # distinct words remembered per rule set (bounded memory)


def _word_elements(rs: RuleSet, t: str) -> tuple[frozenset[int], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(element ids the word satisfies, trigger sequences, context sequences and the context
    sequences used with scope "post" that can start at it), cached per word."""
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
    if len(cache) >= _WORD_CACHE_MAX:
        cache.clear()
    cache[t] = found
    return found


def token_elements(rs: RuleSet, norm: Normalized) -> list[frozenset[int]]:
    """For each token, the ids of the pattern elements it satisfies."""
    return [_word_elements(rs, tok.text)[0] for tok in norm.tokens]


def word_table(rs: RuleSet, norm: Normalized) -> list[tuple]:
    """Per token: (element ids, trigger sequence starts, context sequence starts, post-scope context
    sequence starts); share it across phases."""
    cache = rs.word_cache
    return [cache.get(tok.text) or _word_elements(rs, tok.text) for tok in norm.tokens]


Found = dict[int, list[tuple[int, int, tuple[int, ...]]]]


def match_patterns(rs: RuleSet, norm: Normalized, phase: str = "all", sentences: set[int] | None = None,
                   per_word: list | None = None, elems: list | None = None,
                   present: frozenset[int] | None = None) -> Found:
    """Matches of the compiled sequences: seq id -> [(first, last + 1, matched token positions)].

    phase "trigger" runs only trigger sequences; "context" only the others (blockers, requirements),
    limited to `sentences` except for sequences used with scope "post". Sequences never cross a
    sentence boundary. Greedy left-to-right: bounded work per token. `elems` (the per-token element
    sets of `per_word`) and `present` (their union) may be passed in when shared across phases.
    """
    toks = norm.tokens
    if per_word is None:
        per_word = word_table(rs, norm)
    if phase == "trigger":
        todo = [(i, w[1]) for i, w in enumerate(per_word) if w[1]]  # most words start no trigger
    elif phase == "context":
        if sentences is None:
            todo = [(i, w[2]) for i, w in enumerate(per_word) if w[2]]
        else:
            todo = [(i, w[2] if toks[i].sent in sentences else w[3]) for i, w in enumerate(per_word) if w[2]]
    else:
        todo = [(i, w[1] + w[2]) for i, w in enumerate(per_word) if w[1] or w[2]]
    if not todo:
        return defaultdict(list)
    if elems is None:
        elems = [w[0] for w in per_word]
    if present is None:
        present = frozenset().union(*elems)
    return _match(rs, toks, elems, present, todo)


def _match(rs: RuleSet, toks: tuple, elems: list, present: frozenset[int],
           todo: list[tuple[int, tuple[int, ...]]]) -> Found:
    found: Found = defaultdict(list)
    seqs, rest = rs.seqs, rs.seq_rest
    n_toks = len(toks)
    for i, starts in todo:
        if not starts:
            continue
        sent = toks[i].sent
        for sid in starts:
            seq = seqs[sid]
            if len(seq) == 1:
                found[sid].append((i, i + 1, (i,)))
                continue
            if not rest[sid] <= present:
                continue  # a later word of the sequence occurs nowhere in the post
            pos, ok, at = i + 1, True, [i]
            for el, gap in seq[1:]:
                limit = pos + gap + 1
                if limit > n_toks:
                    limit = n_toks
                k = pos
                while k < limit and toks[k].sent == sent and el not in elems[k]:
                    k += 1
                if k >= limit or toks[k].sent != sent:
                    ok = False
                    break
                pos = k + 1
                at.append(k)
            if ok:
                found[sid].append((i, pos, tuple(at)))
    return found
