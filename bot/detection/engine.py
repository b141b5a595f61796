"""The rule engine: finds trigger matches, vetoes look-alikes by context, applies the label
precedence, scores confidence and gathers the facts. Pure; the rules are compiled once at load.

    detector = load_detector(rules_path=None)   # bundled config/rules.toml (+ operator file)
    detection = detector.detect(text, lang=None)
"""

from __future__ import annotations

import bisect
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from bot.detection import countries as countries_mod
from bot.detection import count as count_mod
from bot.detection import names as names_mod
from bot.detection.normalize import Normalized, normalize, prepare
from bot.detection.numbers import parse_numbers
from bot.detection.matcher import match_patterns, word_table
from bot.detection.rules import Context, RuleSet, Trigger, load_rules
from bot.detection.scope import event_sentences, widen
from bot.models import Detection, Evidence

CODE_VERSION = "det-1.0"
MAX_HITS = 120  # trigger matches examined per post: real posts have a handful; this bounds hostile ones
Matches = dict[int, list[tuple[int, int, tuple[int, ...]]]]


class Hit(NamedTuple):
    """One trigger match (a tuple: several are built per post, and tuples build fastest)."""

    trigger: Trigger
    first: int  # token range [first, last)
    last: int
    blocked_by: str | None = None
    block_span: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        return self.trigger.label


_new_hit = partial(tuple.__new__, Hit)  # skips the NamedTuple's Python-level __new__


def _in_scope(ctx: Context, norm: Normalized, m: tuple, first: int, last: int, own: tuple[int, ...]) -> bool:
    toks = norm.tokens
    mf, ml = m[0], m[1]
    if ctx.scope == "post":
        return True
    if toks[mf].sent != toks[first].sent:
        return False
    if ctx.scope == "sentence":
        return True
    if ctx.scope == "clause":
        return toks[mf].clause <= toks[last - 1].clause and toks[ml - 1].clause >= toks[first].clause
    # Words inside a gapped trigger ("выпустил облигации для лиц", "people will be released")
    # count as next to it, on either side.
    inside = mf > first and ml <= last and not any(mf <= k < ml for k in own)
    before = inside or ml <= first and first - ml <= ctx.distance and toks[ml - 1].clause == toks[first].clause
    after = inside or mf >= last and mf - last <= ctx.distance and toks[mf].clause == toks[last - 1].clause
    if ctx.scope == "before":
        return before
    if ctx.scope == "after":
        return after
    return before or after  # around


_NONE: frozenset[int] = frozenset()


class _Index:
    """Matches of one post grouped by sentence, so scope checks do not scan the whole post."""

    __slots__ = ("matches", "matched", "by_sent", "toks", "sents", "live_blocks", "sent_sids")

    def __init__(self, norm: Normalized, matches: Matches):
        self.matches = matches
        self.matched = frozenset(matches)
        self.toks = norm.tokens
        self.sents = norm.sent_of if len(norm.sent_of) == len(norm.tokens) else tuple(t.sent for t in norm.tokens)
        self.by_sent: dict[int, dict[int, list]] = {}
        self.live_blocks: frozenset[int] | None = None  # blocks with a pattern start in this post
        self.sent_sids: dict[int, set[int]] | None = None  # sentence -> sequences matched in it

    def blocks(self, rs: RuleSet) -> frozenset[int]:
        """Indexes of the blocks that can match this post (one of their patterns' first sequences occurs)."""
        live = self.live_blocks
        if live is None:
            firsts = rs.block_firsts
            live = self.live_blocks = frozenset().union(*map(firsts.__getitem__, self.matched & rs.block_first_sids))
        return live

    def sids_in(self, sent: int) -> set[int]:
        """The sequences with a match in sentence `sent` (all sentences indexed on first use)."""
        table = self.sent_sids
        if table is None:
            table = self.sent_sids = {}
            sents = self.sents
            for sid, found in self.matches.items():
                for m in found:
                    got = table.get(sents[m[0]])
                    if got is None:
                        table[sents[m[0]]] = {sid}
                    else:
                        got.add(sid)
        return table.get(sent, _NONE)

    def sentence_table(self, sid: int) -> dict[int, list]:
        """Matches of sequence `sid` by sentence (built on first use)."""
        per = self.by_sent.get(sid)
        if per is None:
            per = {}
            sents = self.sents
            for m in self.matches.get(sid, ()):
                per.setdefault(sents[m[0]], []).append(m)
            self.by_sent[sid] = per
        return per

    def in_sentence(self, sid: int, sent: int) -> list:
        per = self.by_sent.get(sid)
        if per is None:
            per = self.sentence_table(sid)
        return per.get(sent, [])


def context_span(ctx: Context, norm: Normalized, index: _Index, first: int, last: int,
                 own: tuple[int, ...] = ()) -> tuple[int, int] | None:
    """Span of the first pattern of `ctx` found in its scope around tokens [first, last), else None.

    `own` are the trigger's matched words; other words inside a gapped trigger count as adjacent."""
    sents = index.sents
    here = sents[first]
    post = ctx.scope == "post"
    # Only sequences matched in the trigger's sentence can be in scope (except for scope "post").
    live = ctx.firsts & (index.matched if post else index.sids_in(here))
    if not live:
        return None
    by_first, matches, by_sent = ctx.by_first, index.matches, index.by_sent
    for sid in sorted(live) if len(live) > 1 else live:
        if post:
            cands = matches.get(sid, ())
        else:
            per = by_sent.get(sid)
            cands = (per if per is not None else index.sentence_table(sid)).get(here, ())
        if not cands:
            continue
        for pattern in by_first[sid]:  # each starts with sequence `sid`
            for m in cands:
                if m[0] == first and m[1] - m[0] == 1:
                    continue  # the trigger word itself
                if not _in_scope(ctx, norm, m, first, last, own):
                    continue
                if len(pattern) == 1 or all(index.in_sentence(sid2, sents[m[0]]) for sid2 in pattern[1:]):
                    return m[0], m[1]
    return None


def find_hits(rs: RuleSet, norm: Normalized, matches: Matches) -> list[Hit]:
    """Every trigger match with the first block that vetoes it (if any)."""
    hits: list[Hit] = []
    sents = norm.sentences
    index = _Index(norm, matches)
    sent_of = index.sents
    starts = rs.pattern_starts
    # Only patterns whose first sequence matched can fire: visit those, in rule-file order
    # (trigger, then pattern), which is the order of the hits and of MAX_HITS's cut.
    todo = sorted(tp for sid in index.matched & rs.pattern_start_sids for tp in starts[sid])
    triggers = rs.triggers
    current, seen = -1, set()
    for t_idx, p_idx in todo:
        trig = triggers[t_idx]
        if t_idx != current:
            current, seen = t_idx, set()  # a match may count once per trigger
        pattern = trig.patterns[p_idx]
        for m in matches[pattern[0]]:
            if m[:2] in seen:
                continue
            sent = sent_of[m[0]]
            if len(pattern) > 1 and not all(index.in_sentence(sid, sent) for sid in pattern[1:]):
                continue
            if trig.requires and not all(context_span(c, norm, index, m[0], m[1]) for c in trig.requires) \
                    and not (trig.or_name and _name_near(rs, norm, m[0], m[1])):
                continue
            if trig.needs_name and not _name_near(rs, norm, m[0], m[1]):
                continue
            seen.add(m[:2])
            hits.append(_check_blocks(rs, norm, index, t_idx, trig, m, sents[sent].question))
            if len(hits) >= MAX_HITS:
                return hits
    return hits


def _name_near(rs: RuleSet, norm: Normalized, first: int, last: int) -> bool:
    """A personal name within three words of [first, last) in its clause: "Освобождена Мария
    Колесникова", "Марыю Калеснікаву вызвалілі" (two capitalised words, or a known first name)."""
    toks = norm.tokens
    lo, hi = max(0, first - 3), min(len(toks), last + 3)
    if last < len(toks) and toks[last].sent != toks[last - 1].sent \
            and ":" in norm.original[toks[last - 1].end:toks[last].start]:
        # "Освобождены:\n• Тамара Ковш (Речица)": the list right after the trigger
        a, b = toks[last], toks[last + 1] if last + 1 < len(toks) else None
        return bool(b and a.cap and b.cap and a.sent == b.sent and not a.upper and not b.upper
                    and not rs.in_lexicon("geo_all", a.text) and not rs.in_lexicon("name_official", a.text))
    for k in range(lo, hi):
        t = toks[k]
        if first <= k < last or t.clause != toks[first].clause or not t.cap or t.upper:
            continue
        w = t.text
        if rs.in_lexicon("geo_all", w) or rs.in_lexicon("place", w) or rs.in_lexicon("name_official", w) \
                or rs.in_lexicon("month", w):
            continue
        if rs.in_lexicon("first_name", w):
            return True
        n = toks[k + 1] if k + 1 < hi else None
        if n and n.cap and not n.upper and n.clause == t.clause and not (first <= k + 1 < last) \
                and not rs.in_lexicon("geo_all", n.text) and not rs.in_lexicon("name_official", n.text):
            return True
    return False


_QUOTES_OPEN = "«\"„“'‘"
_QUOTES_CLOSE = "»\"“”'’"


def _quoted_word(norm: Normalized, m: tuple) -> bool:
    """A one-word trigger standing alone in quotes is a word mentioned, not used: "говорят «помиловал»"."""
    if m[1] - m[0] != 1:
        return False
    t, text = norm.tokens[m[0]], norm.original
    return text[t.start - 1:t.start] in _QUOTES_OPEN and t.start > 0 and text[t.end:t.end + 1] in _QUOTES_CLOSE \
        and t.end < len(text)


def _check_blocks(rs: RuleSet, norm: Normalized, matches: _Index, t_idx: int, trig: Trigger,
                  m: tuple, question: bool) -> Hit:
    if question and rs.question_blocks and not _wh_question(norm, m[0]):
        return Hit(trig, m[0], m[1], "block.question", m[:2])
    if _quoted_word(norm, m):
        return Hit(trig, m[0], m[1], "block.quoted_word", m[:2])
    blocks = rs.blocks
    # The blocks of this trigger that can match here, in file order (the first that vetoes wins).
    for b_idx in sorted(matches.blocks(rs) & rs.trigger_blocks[t_idx]):
        block = blocks[b_idx]
        span = context_span(block.context, norm, matches, m[0], m[1], m[2])
        if span is None:
            continue
        if any(context_span(u, norm, matches, m[0], m[1], m[2]) for u in block.unless):
            continue
        if block.requires and not all(context_span(r, norm, matches, m[0], m[1], m[2]) for r in block.requires):
            continue
        return _new_hit((trig, m[0], m[1], block.rule_id, span))
    return _new_hit((trig, m[0], m[1], None, None))


_WH = {"сколко", "колки", "куда", "куды", "где", "дзе", "кого", "каго", "кто", "хто", "когда", "how", "who",
       "where", "when", "which", "whom", "откуда", "адкул"}  # folded forms (soft signs dropped)


def _wh_question(norm: Normalized, i: int) -> bool:
    """"Сколько человек помиловали?" asks about a fact (answered below); "Ці памілуе?" does not."""
    sent = norm.sentences[norm.tokens[i].sent]
    return any(norm.tokens[k].text in _WH for k in range(sent.first, min(sent.first + 3, sent.last)))


def hits_for(rs: RuleSet, norm: Normalized) -> list[Hit]:
    """Trigger matches first; contexts (blockers, requirements) only in sentences that have one."""
    table = word_table(rs, norm)
    elems = list(map(itemgetter(0), table))
    # Every element in the post that a sequence needs after its first word: sequences needing
    # others fail fast.
    present = frozenset().union(*filter(None, map(itemgetter(7), table)))
    matches = match_patterns(rs, norm, "trigger", per_word=table, elems=elems, present=present)
    if not matches:
        return []
    sent_of = norm.sent_of if len(norm.sent_of) == len(norm.tokens) else tuple(t.sent for t in norm.tokens)
    sentences = {sent_of[m[0]] for found in matches.values() for m in found}
    matches.update(match_patterns(rs, norm, "context", sentences, per_word=table, elems=elems, present=present))
    return find_hits(rs, norm, matches)


class Detector:
    """Compiled rules plus the detect() entry point; safe to share between threads (immutable)."""

    def __init__(self, rules: RuleSet, rules_path: str | Path | None = None):
        self.rules = rules
        self.rules_path = rules_path
        self.version = f"{CODE_VERSION}+{rules.digest}"

    def detect(self, text: str, lang: str | None = None) -> Detection:
        text = text if isinstance(text, str) else ""
        rs = self.rules
        prep = prepare(text, lang)
        if rs.prefilter is not None:
            quick = prep.quick
            if quick is not None and not rs.prefilter.search(quick):
                # No trigger word anywhere: the full pass would find no hit either.
                return Detection("none", _none_confidence([]), detector_version=self.version)
        norm = normalize(prep)
        hits = hits_for(rs, norm)
        active = [h for h in hits if h.blocked_by is None]
        builtin = rs.builtin_labels
        found = {h.label for h in active}
        label = next((lab for lab in builtin if lab in found), "none")
        extra = _operator_labels(active, builtin)
        if label == "none" and extra:
            label = extra[0]
        evidence: list[Evidence] = []
        if label == "none":
            return Detection("none", _none_confidence(hits), evidence=_block_evidence(norm, hits),
                             detector_version=self.version, extra_labels=tuple(extra))
        chosen = [h for h in active if h.label == label]
        for h in chosen:
            evidence.append(_evidence(norm, h.trigger.rule_id, h.first, h.last, "trigger"))
        if label not in builtin:
            conf = max(h.trigger.weight for h in chosen)
            return Detection(label, round(conf, 3), evidence=tuple(evidence), detector_version=self.version,
                             extra_labels=tuple(extra))
        event = [h for h in active if h.label in builtin]
        # The event sentences are worked out once; each fact reads them with its own follow-up.
        event_sents = event_sentences(norm, event)
        count_scope = count_mod.with_reach(rs, norm, event,
                                           widen(norm, event, event_sents, count_mod.COUNT_FOLLOW.get(label, 0)))
        numbers = parse_numbers(norm, count_scope)
        names = names_mod.extract_names(rs, norm, event, event_sents)
        hit_sents = {norm.tokens[h.first].sent for h in event}
        # Names listed after "Среди них" are a subset of a group: they do not give the count.
        ends = [t.end for t in norm.tokens] if names else []
        name_starts = tuple(_token_at(norm, n.start, ends) for n in names)
        own = sum(1 for k in name_starts if norm.tokens[k].sent in hit_sents | _list_sents(norm, hit_sents))
        count, count_span = count_mod.choose_count(rs, norm, numbers, event, label, own, count_scope, name_starts)
        cties = countries_mod.extract_countries(rs, norm, event, label,
                                                widen(norm, event, event_sents, countries_mod.FOLLOW))
        if count_span:
            evidence.append(_evidence(norm, "fact.count", count_span[0], count_span[1], "fact"))
        for n in names:
            evidence.append(Evidence("fact.name", n.start, n.end, n.text, "fact"))
        for country, (s, e) in cties:
            evidence.append(_evidence(norm, f"fact.country.{country}", s, e, "fact"))
        conf = _confidence(chosen, hits)
        texts = tuple(dict.fromkeys(n.text for n in names))
        return Detection(label, conf, count, texts, tuple(names_mod.name_key(t) for t in texts),
                         tuple(dict.fromkeys(c for c, _ in cties)), tuple(evidence), self.version, tuple(extra))


def _list_sents(norm: Normalized, hit_sents: set[int]) -> set[int]:
    """Sentences of a list introduced by a trigger sentence ending in ':' ("Вызвалены:\n• A\n• B")."""
    out: set[int] = set()
    text, sents = norm.original, norm.sentences
    for s in hit_sents:
        end = norm.tokens[sents[s].last - 1].end
        nxt = text[end:end + 3]
        if not nxt.lstrip(" ").startswith(":"):
            continue
        k = s + 1
        while k < len(sents) and k - s <= 30:
            start = norm.tokens[sents[k].first].start
            line = text.rfind("\n", 0, start)
            if line < 0 or any(c.isalpha() for c in text[line:start]):
                break  # not a line of its own any more
            out.add(k)
            k += 1
    return out


def _token_at(norm: Normalized, offset: int, ends: list[int] | None = None) -> int:
    """Index of the token containing (or first after) a character offset (`ends`: the tokens' ends)."""
    if ends is None:
        ends = [t.end for t in norm.tokens]
    return min(bisect.bisect_right(ends, offset), len(ends) - 1)


def _operator_labels(active: list[Hit], builtin: tuple[str, ...]) -> list[str]:
    best: dict[str, float] = {}
    for h in active:
        if h.label not in builtin:
            best[h.label] = max(best.get(h.label, 0.0), h.trigger.weight)
    return sorted(best, key=lambda lab: -best[lab])


def _confidence(chosen: list[Hit], hits: list[Hit]) -> float:
    conf = max(h.trigger.weight for h in chosen)
    conf += 0.03 * min(len(chosen) - 1, 3)
    if any(h.blocked_by for h in hits):
        conf -= 0.08  # the post also has look-alike wording
    return round(max(0.05, min(conf, 0.99)), 3)


def _none_confidence(hits: list[Hit]) -> float:
    if not hits:
        return 0.97
    return round(max(0.5, 0.95 - 0.3 * max(h.trigger.weight for h in hits)), 3)


def _evidence(norm: Normalized, rule_id: str, first: int, last: int, role: str) -> Evidence:
    s, e = norm.tokens[first].start, norm.tokens[last - 1].end
    return Evidence(rule_id, s, e, norm.original[s:e], role)


def _block_evidence(norm: Normalized, hits: list[Hit]) -> tuple[Evidence, ...]:
    out = []
    for h in hits:
        if h.blocked_by and h.block_span:
            out.append(_evidence(norm, h.blocked_by, h.block_span[0], h.block_span[1], "block"))
    return tuple(out)


def load_detector(rules_path: str | Path | None = None) -> Detector:
    """Compile the bundled rules (plus an operator file that extends/overrides them) once.

    Raises bot.errors.ConfigError when a rules file cannot be read or compiled.
    """
    return Detector(load_rules(rules_path), rules_path)
