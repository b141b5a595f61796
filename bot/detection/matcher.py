"""Runs the compiled token patterns of a RuleSet over one post: per-word element lookup (cached)
and greedy left-to-right sequence matching inside sentences. Pure apart from the bounded caches.
"""

from __future__ import annotations

from collections import defaultdict

from bot.detection.normalize import Normalized
from bot.detection.numbers import is_digits, word_value
from bot.detection.rules import NUM, YEAR, RuleSet

_WORD_CACHE_MAX = 200_000  # distinct words remembered per rule set (bounded memory)


def _word_elements(rs: RuleSet, t: str) -> tuple[frozenset[int], tuple[int, ...], tuple[int, ...]]:
    """(element ids the word satisfies, trigger sequences and context sequences that can start at
    it), cached per word."""
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
    found = (frozenset(acc), tuple(x for x in starts if x in trig), tuple(x for x in starts if x not in trig))
    if len(cache) >= _WORD_CACHE_MAX:
        cache.clear()
    cache[t] = found
    return found


def token_elements(rs: RuleSet, norm: Normalized) -> list[frozenset[int]]:
    """For each token, the ids of the pattern elements it satisfies."""
    return [_word_elements(rs, tok.text)[0] for tok in norm.tokens]


def word_table(rs: RuleSet, norm: Normalized) -> list[tuple[frozenset[int], tuple[int, ...], tuple[int, ...]]]:
    """Per token: (element ids, trigger sequence starts, context sequence starts); share it across phases."""
    cache = rs.word_cache
    return [cache.get(tok.text) or _word_elements(rs, tok.text) for tok in norm.tokens]


def match_patterns(rs: RuleSet, norm: Normalized, phase: str = "all", sentences: set[int] | None = None,
                   per_word: list | None = None) -> dict[int, list[tuple[int, int, tuple[int, ...]]]]:
    """Matches of the compiled sequences: seq id -> [(first, last + 1, matched token positions)].

    phase "trigger" runs only trigger sequences; "context" only the others (blockers, requirements),
    limited to `sentences` except for sequences used with scope "post". Sequences never cross a
    sentence boundary. Greedy left-to-right: bounded work per token.
    """
    toks = norm.tokens
    if per_word is None:
        per_word = word_table(rs, norm)
    elems = [w[0] for w in per_word]
    found: dict[int, list[tuple[int, int, tuple[int, ...]]]] = defaultdict(list)
    seqs = rs.seqs
    post_seqs = rs.post_seqs
    n_toks = len(toks)
    if phase == "trigger":
        todo = [i for i, w in enumerate(per_word) if w[1]]  # most words start no trigger
    else:
        todo = [i for i, w in enumerate(per_word) if w[1] or w[2]]
    for i in todo:
        _, trig_starts, ctx_starts = per_word[i]
        if phase == "trigger":
            starts = trig_starts
        elif phase == "context":
            starts = ctx_starts
            if sentences is not None and toks[i].sent not in sentences:
                starts = tuple(x for x in starts if x in post_seqs)
        else:
            starts = trig_starts + ctx_starts
        if not starts:
            continue
        sent = toks[i].sent
        for sid in starts:
            seq = seqs[sid]
            if len(seq) == 1:
                found[sid].append((i, i + 1, (i,)))
                continue
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
