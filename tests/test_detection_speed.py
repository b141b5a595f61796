"""The detector's shortcuts (pre-filter, rule indexes, matcher fail-fast, memos) never change a
result: each is compared with the plain computation it replaces, on posts generated from the dev
corpus and fuzzed (cut, joined, re-cased, with noise characters inserted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.detection import load_detector
from bot.detection.engine import Hit, _Index, _wh_question, context_span, find_hits, hits_for
from bot.detection.matcher import match_patterns, word_table
from bot.detection.count import clause_bounds
from bot.detection.normalize import (_FORWARD_RX, _GAP_KINDS, _GLUE, _HAS_LATIN, _MIXED_RX, _SPLIT_RX, _ZW,
                                     Normalized, Sentence, Token, _fix_token, _gap_kind, normalize, prepare)
from bot.detection.scope import event_sentences, widen

CORPUS = Path(__file__).parent / "data" / "corpus_dev.jsonl"
TEXTS = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
NOISE = ["\u200b", "ё", "Ў", "'", ".", ",", "\n", ":", "—", "?", "!", "«", " ", "1", "2 000", "ь", "-", "•", "🔴",
         "i", "a", "o", "Помилован", "released", "не", "#", "ŭ", "\u00ad"]

DETECTOR = load_detector()
RULES = DETECTOR.rules


@st.composite
def posts(draw) -> tuple[str, str | None]:
    text = draw(st.sampled_from(TEXTS))
    shape = draw(st.sampled_from(["as is", "cut", "join", "shuffle", "upper", "swapcase"]))
    if shape == "cut":
        a = draw(st.integers(0, len(text)))
        text = text[a:draw(st.integers(a, len(text)))]
    elif shape == "join":
        text = text + draw(st.sampled_from(["\n\n", " ", ". ", ": "])) + draw(st.sampled_from(TEXTS))
    elif shape == "shuffle":
        words = text.split(" ")
        text = " ".join(draw(st.permutations(words))) if len(words) < 40 else text
    elif shape == "upper":
        text = text.upper()
    elif shape == "swapcase":
        text = text.swapcase()
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(NOISE)) + text[at:]
    return text, draw(st.sampled_from(["ru", "be", "en", None]))


def _generated(n: int) -> list[tuple[str, str | None]]:
    """A fixed sample of the same shapes (every dev text, cut, joined and re-cased)."""
    out: list[tuple[str, str | None]] = []
    for k, text in enumerate(TEXTS[:n]):
        out += [(text, None), (text[: len(text) // 2], "ru"), (text.upper(), "be"),
                (text + "\n\n" + TEXTS[(k * 7 + 3) % len(TEXTS)], "en")]
    return out


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _without_prefilter():
    detector = load_detector()
    detector.rules.prefilter = None
    return detector


NO_PREFILTER = _without_prefilter()


@pytest.mark.parametrize("text,lang", _generated(len(TEXTS)))
def test_prefilter_never_changes_a_detection_on_corpus_shapes(text, lang):
    assert DETECTOR.detect(text, lang) == NO_PREFILTER.detect(text, lang)


@FAST
@given(posts())
def test_prefilter_never_changes_a_detection_on_fuzzed_posts(post):
    text, lang = post
    assert DETECTOR.detect(text, lang) == NO_PREFILTER.detect(text, lang)


# ── references: the straightforward computations the shortcuts replace ──────────────────────
def _find_hits_reference(norm, matches) -> list[Hit]:
    """Every trigger pattern and every block tried in file order (no indexes)."""
    rs, hits, toks, sents = RULES, [], norm.tokens, norm.sentences
    index = _Index(norm, matches)
    for trig in rs.triggers:
        seen: set = set()
        for pattern in trig.patterns:
            for m in matches.get(pattern[0], ()):
                sent = toks[m[0]].sent
                if m[:2] in seen or not all(index.in_sentence(sid, sent) for sid in pattern[1:]):
                    continue
                if not all(context_span(c, norm, index, m[0], m[1]) for c in trig.requires) \
                        and not (trig.or_name and _name_near_ref(norm, m)):
                    continue
                if trig.needs_name and not _name_near_ref(norm, m):
                    continue
                seen.add(m[:2])
                hits.append(_check_blocks_reference(norm, index, trig, m, sents[sent].question))
                if len(hits) >= 120:
                    return hits
    return hits


def _name_near_ref(norm, m) -> bool:
    from bot.detection.engine import _name_near
    return _name_near(RULES, norm, m[0], m[1])


def _check_blocks_reference(norm, index, trig, m, question) -> Hit:
    if question and RULES.question_blocks and not _wh_question(norm, m[0]):
        return Hit(trig, m[0], m[1], "block.question", m[:2])
    for block in RULES.blocks_for(trig):
        span = context_span(block.context, norm, index, m[0], m[1], m[2])
        if span is None or any(context_span(u, norm, index, m[0], m[1], m[2]) for u in block.unless):
            continue
        if block.requires and not all(context_span(r, norm, index, m[0], m[1], m[2]) for r in block.requires):
            continue
        return Hit(trig, m[0], m[1], block.rule_id, span)
    return Hit(trig, m[0], m[1])


def _matches(norm, fail_fast: bool):
    """Trigger then context matches, as hits_for gathers them; without fail-fast every element
    counts as present, so every sequence is scanned."""
    table = word_table(RULES, norm)
    present = None if fail_fast else frozenset().union(*RULES.seq_rest)
    found = match_patterns(RULES, norm, "trigger", per_word=table, present=present)
    if found:
        sentences = {norm.tokens[m[0]].sent for ms in found.values() for m in ms}
        found.update(match_patterns(RULES, norm, "context", sentences, per_word=table, present=present))
    return found


def _context_span_reference(ctx, norm, index, first, last, own=()):
    """context_span without the per-sentence sequence sets: every matched first sequence, in order."""
    from bot.detection.engine import _in_scope
    toks = norm.tokens
    for sid in sorted(ctx.firsts & index.matched):
        for pattern in ctx.by_first[sid]:
            cands = index.matches.get(sid, ()) if ctx.scope == "post" else index.in_sentence(sid, toks[first].sent)
            for m in cands:
                if m[0] == first and m[1] - m[0] == 1 or not _in_scope(ctx, norm, m, first, last, own):
                    continue
                if all(index.in_sentence(s, toks[m[0]].sent) for s in pattern[1:]):
                    return m[0], m[1]
    return None


def _normalize_loop(prep, body_start: int) -> Normalized:
    """normalize() as it was written before its column pass: one token at a time."""
    text, folded, lacinka = prep.text, prep.folded, prep.lacinka
    tokens: list = []
    sentences: list = []
    sent_first, sent_idx, clause = 0, 0, 0
    # re.split with a capturing group alternates gap, word, gap, word ...: cheaper than finditer.
    parts = _SPLIT_RX.split(folded[body_start:] if body_start else folded)
    pos = body_start
    has_glue = _GLUE in folded
    mixed = prep.mixed  # some word mixes Latin and Cyrillic letters
    new_token = tuple.__new__  # builds the NamedTuple without its Python-level __new__
    append = tokens.append
    for k in range(1, len(parts), 2):
        gap, raw = parts[k - 1], parts[k]
        s = pos + len(gap)
        e = s + len(raw)
        pos = e
        if tokens and gap != " ":
            kind = _GAP_KINDS.get(gap)
            if kind is None:
                kind = _gap_kind(gap, folded, s - len(gap), s, text)
            if kind == 2:
                sentences.append(Sentence(sent_first, len(tokens), "?" in gap))
                sent_first, sent_idx = len(tokens), sent_idx + 1
                clause += 1
            elif kind == 1:
                clause += 1
        if (has_glue and _GLUE in raw) or lacinka or (mixed and not raw.isascii() and _HAS_LATIN.search(raw)):
            orig = text[s:e]
            word = _fix_token(raw, lacinka, orig)
            if not word:
                continue
            first = orig.lstrip(_ZW)[:1]
        else:
            word, first = raw, text[s]
        cap = first.isupper()
        append(new_token(Token, (word, s, e, cap, cap and e - s > 1 and text[s:e].isupper(), sent_idx, clause)))
    prev_end = pos
    tail = folded[prev_end:]
    sentences.append(Sentence(sent_first, len(tokens), "?" in tail[:3]))
    return Normalized(text, tuple(tokens), tuple(sentences), tuple(t.text for t in tokens),
                      tuple(t.sent for t in tokens), tuple(t.clause for t in tokens))


def _check_normalize(text: str, lang: str | None) -> None:
    """normalize()'s column pass against the token-by-token loop, and its derived columns."""
    prep = prepare(text, lang)
    forward = _FORWARD_RX.match(prep.text)
    norm = normalize(prep)
    assert norm == _normalize_loop(prep, forward.end() if forward else 0)
    assert norm.words == tuple(t.text for t in norm.tokens)
    assert norm.sent_of == tuple(t.sent for t in norm.tokens)
    assert norm.clause_of == tuple(t.clause for t in norm.tokens)
    assert prep.mixed == (re.search("[а-яеиг][a-z]|[a-z][а-яеиг]", prep.folded) is not None)
    assert (_MIXED_RX.search(prep.folded) is None) == (re.search("[а-яеиг][a-z]|[a-z][а-яеиг]", prep.folded) is None)
    toks = norm.tokens
    for i in range(len(toks)):
        lo, hi = i, i
        while lo > 0 and toks[lo - 1].clause == toks[i].clause:
            lo -= 1
        while hi < len(toks) and toks[hi].clause == toks[i].clause:
            hi += 1
        assert clause_bounds(norm, i) == (lo, hi)


def _check_shortcuts(text: str, lang: str | None) -> None:
    _check_normalize(text, lang)
    norm = normalize(text, lang)
    fast = _matches(norm, fail_fast=True)
    assert fast == _matches(norm, fail_fast=False)
    hits = find_hits(RULES, norm, fast) if fast else []
    assert hits == (_find_hits_reference(norm, fast) if fast else [])
    assert hits == hits_for(RULES, norm)
    if fast:
        index = _Index(norm, fast)
        contexts = [c for t in RULES.triggers for c in t.requires]
        for b in RULES.blocks:
            contexts += [b.context, *b.unless, *b.requires]
        for sid, found in fast.items():
            if sid not in RULES.pattern_starts:
                continue
            for m in found:
                for ctx in contexts:
                    assert context_span(ctx, norm, index, m[0], m[1], m[2]) == \
                        _context_span_reference(ctx, norm, index, m[0], m[1], m[2])
    event = [h for h in hits if h.blocked_by is None]
    if event:
        base = event_sentences(norm, event)
        hit_sents = {norm.tokens[h.first].sent for h in event}
        for follow in (0, 1, 2, 3):
            got, ref = set(widen(norm, event, base, follow)), set(event_sentences(norm, event, follow))
            assert got <= ref
            # Known gap, kept so the detector's output does not change (reported on issue 4):
            # event_sentences(follow) also follows a names-intro sentence after the trigger one
            # ("... вызвалены. Іх прозвішчы: ..."); widen follows the trigger sentences only.
            intros = {s for s in base if s not in hit_sents}
            assert all(any(0 < k - s <= follow for s in intros) for k in ref - got)
    words = [t.text for t in norm.tokens]
    for lexicon in ("fact_total", "fact_part", "fact_among", "fact_other_side", "name_affiliation"):
        for lo in range(0, len(words), 3):
            hi = min(len(words), lo + 5)
            assert RULES.phrase_in(lexicon, words, lo, hi) == any(
                RULES.phrase_at(lexicon, words, k) for k in range(lo, hi))


@pytest.mark.parametrize("text,lang", _generated(60))
def test_shortcuts_match_references_on_corpus_shapes(text, lang):
    _check_shortcuts(text, lang)


@FAST
@given(posts())
def test_shortcuts_match_references_on_fuzzed_posts(post):
    _check_shortcuts(*post)


def test_lexicon_memo_answers_like_the_uncached_test():
    for name in ("person", "prisoner", "first_name", "geo_all", "month"):
        for word in ["человек", "людей", "prisoners", "мария", "беларусь", "минск", "января", "x", ""] + \
                [w.lower() for w in TEXTS[0].split()[:30]]:
            assert RULES.in_lexicon(name, word) == RULES._in_lexicon(name, word)


@pytest.mark.parametrize("text", ["", "ь", "\u200b Помилован", "a ь b", "Forwarded from X\nОсвобождён", "İstanbul. A. B",
                                  "U.S. citizen. 2.5 года… Вадим Р., Нелли Л. вышли", "pamiłavaŭ ŭ Minsku", "Пoмилoван"])
def test_normalize_columns_match_the_token_loop_on_edge_cases(text):
    for lang in ("ru", "be", "en", None):
        _check_normalize(text, lang)

