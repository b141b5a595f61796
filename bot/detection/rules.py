"""Loads the rules file (config/rules.toml plus an optional operator file) and compiles its token
patterns once into prefix/exact indexes (bot/detection/matcher.py runs them over a post).

Pattern language (documented for operators at the top of config/rules.toml):
  word      the folded token equals "word"          stem*   the token starts with "stem"
  a|b*|c    any of the alternatives                 @name   any entry of lexicon "name"
  #         any number (digits or number words)     ~N      up to N other tokens may stand here
  A && B    both A and B occur in the same sentence
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from bot.detection.normalize import fold_term
from bot.errors import ConfigError

NUM = -1  # element id matched by any number token
YEAR = -2  # element id matched by a 4-digit year 1900-2099
SCOPES = ("before", "after", "around", "clause", "sentence", "post")


@dataclass(frozen=True)
class Context:
    """A set of patterns (alternatives, each a conjunction of sequence ids) and where to look."""

    patterns: tuple[tuple[int, ...], ...]
    scope: str = "sentence"
    distance: int = 0
    # first sequence id -> the patterns starting with it; lets a post skip patterns that never matched
    by_first: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict, compare=False)
    firsts: frozenset[int] = frozenset()

    @classmethod
    def build(cls, patterns: tuple[tuple[int, ...], ...], scope: str = "sentence", distance: int = 0) -> Context:
        by_first: dict[int, list[tuple[int, ...]]] = {}
        for p in patterns:
            by_first.setdefault(p[0], []).append(p)
        return cls(patterns, scope, distance, {k: tuple(v) for k, v in by_first.items()}, frozenset(by_first))


@dataclass(frozen=True)
class Trigger:
    rule_id: str
    label: str
    weight: float
    patterns: tuple[tuple[int, ...], ...]
    requires: tuple[Context, ...] = ()
    or_name: bool = False  # `requires` also holds when a personal name stands next to the match
    needs_name: bool = False  # a personal name must stand next to the match (in addition to `requires`)


@dataclass(frozen=True)
class Block:
    rule_id: str
    labels: frozenset[str]  # "*" = every label
    context: Context
    unless: tuple[Context, ...] = ()
    requires: tuple[Context, ...] = ()  # the block applies only when all of these also hold


@dataclass
class RuleSet:
    triggers: list[Trigger]
    blocks: list[Block]
    lexicons: dict[str, list[str]]  # folded entries, for the fact extractors
    countries: dict[str, dict[str, list[str]]]
    builtin_labels: tuple[str, ...]
    digest: str
    question_blocks: bool = True  # a trigger inside a question ("Ці памілуе?") is not an event
    seqs: list[tuple[tuple[int, int], ...]] = field(default_factory=list)  # (element id, gap before)
    seq_rest: list[frozenset[int]] = field(default_factory=list)  # per sequence: elements after the first
    exact: dict[str, frozenset[int]] = field(default_factory=dict)
    prefix: dict[str, frozenset[int]] = field(default_factory=dict)
    prefix_lengths: tuple[int, ...] = ()
    starts: dict[int, tuple[int, ...]] = field(default_factory=dict)  # first element -> seq ids
    cache: dict = field(default_factory=dict)  # derived tables built lazily by fact extractors
    lexicon_memos: dict = field(default_factory=dict)  # lexicon name -> BoundedMemo (see in_lexicon)
    word_cache: dict = field(default_factory=dict)  # word -> element ids (bounded, see rules.py)
    # A regex that must match somewhere in a post for any trigger to match (None: always run).
    prefilter: re.Pattern | None = None
    trigger_seqs: frozenset[int] = frozenset()  # sequences used by trigger patterns
    post_seqs: frozenset[int] = frozenset()  # sequences used by contexts with scope "post"
    # Derived at load so a post only visits rules that can fire (see engine.find_hits):
    # first sequence id -> (trigger index, pattern index) of the trigger patterns starting with it,
    pattern_starts: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    # per trigger index, the indexes of the blocks that apply to it (file order),
    trigger_blocks: tuple[frozenset[int], ...] = ()
    # and sequence id -> indexes of the blocks whose context can start with it.
    block_firsts: dict[int, frozenset[int]] = field(default_factory=dict)
    # The keys of pattern_starts and of block_firsts, as sets to intersect with a post's matches.
    pattern_start_sids: frozenset[int] = frozenset()
    block_first_sids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        # One memo per lexicon, created on first use: in_lexicon is then two dict lookups.
        self.lexicon_memos = _LexiconMemos(self)

    def blocks_for(self, trig: Trigger) -> list[Block]:
        """The blocks that apply to a trigger, in file order (computed once per trigger)."""
        key = ("blocks_for", trig.rule_id)
        got = self.cache.get(key)
        if got is None:
            got = self.cache[key] = [b for b in self.blocks if targets(b.labels, trig.label, trig.rule_id)]
        return got

    def _lex_index(self, name: str) -> tuple[set[str], dict[str, list[list[str]]], dict[str, list[list[str]]], tuple[int, ...]]:
        """(one-word exact entries, phrases by exact first word, phrases by first-word stem, stem lengths)."""
        key = ("lex", name)
        idx = self.cache.get(key)
        if idx is None:
            exact: set[str] = set()
            by_word: dict[str, list[list[str]]] = {}
            by_stem: dict[str, list[list[str]]] = {}
            for entry in self.lexicons.get(name, ()):
                parts = entry.split()
                if not parts:
                    continue
                if len(parts) == 1 and not parts[0].endswith("*"):
                    exact.add(parts[0])
                if parts[0].endswith("*"):
                    by_stem.setdefault(parts[0][:-1], []).append(parts)
                else:
                    by_word.setdefault(parts[0], []).append(parts)
            idx = self.cache[key] = (exact, by_word, by_stem, tuple(sorted({len(k) for k in by_stem})))
        return idx

    def in_lexicon(self, name: str, word: str) -> bool:
        """Whether a folded word matches a one-word entry (exact or stem*) of a lexicon."""
        return self.lexicon_memos[name][word]

    def memo(self, name: str, fn: Callable[[Any], Any], cap: int) -> BoundedMemo:
        """The rule set's bounded memo `name` of fn (created on first use; see BoundedMemo)."""
        got = self.cache.get(name)
        if got is None:
            got = self.cache[name] = BoundedMemo(fn, cap)
        return got

    def _in_lexicon(self, name: str, word: str) -> bool:
        exact, _, by_stem, lengths = self._lex_index(name)
        if word in exact:
            return True
        for n in lengths:
            if n > len(word):
                break
            for parts in by_stem.get(word[:n], ()):
                if len(parts) == 1:
                    return True
        return False

    def phrase_in(self, name: str, words: list[str], lo: int, hi: int) -> bool:
        """Whether an entry of the lexicon matches at some position in [lo, hi): any(phrase_at(...)),
        skipping words already known to start no entry."""
        starts = self.cache.setdefault(("phrase_first", name), {})
        get = starts.get
        for k in range(lo, hi):
            if get(words[k]) is False:
                continue
            if self.phrase_at(name, words, k):
                return True
        return False

    def phrase_at(self, name: str, words: list[str], i: int) -> int:
        """Length of the longest lexicon entry (possibly several words) matching words[i:], or 0."""
        if i < 0 or i >= len(words):
            return 0
        w = words[i]
        starts = self.cache.setdefault(("phrase_first", name), {})
        ok = starts.get(w)
        if ok is None:
            _, by_word, by_stem, lengths = self._lex_index(name)
            ok = w in by_word or any(w[:n] in by_stem for n in lengths if n <= len(w))
            if len(starts) < 100_000:
                starts[w] = ok
        if not ok:
            return 0  # no entry starts with this word (the common case, memoised)
        _, by_word, by_stem, lengths = self._lex_index(name)
        cands = list(by_word.get(w, ()))
        for n in lengths:
            if n > len(w):
                break
            cands += by_stem.get(w[:n], ())
        best = 0
        for parts in cands:
            if i + len(parts) > len(words) or len(parts) <= best:
                continue
            if all(x == p or p.endswith("*") and x.startswith(p[:-1]) for x, p in zip(words[i + 1:], parts[1:])):
                best = len(parts)
        return best


class BoundedMemo(dict):
    """key -> fn(key), computed on first use and kept; cleared when it holds `cap` entries, so
    hostile text (endless distinct words) cannot grow it without bound. A hit is a plain dict lookup."""

    __slots__ = ("fn", "cap")

    def __init__(self, fn: Callable[[Any], Any], cap: int):
        super().__init__()
        self.fn, self.cap = fn, cap

    def __missing__(self, key: Any) -> Any:
        if len(self) >= self.cap:
            self.clear()
        value = self[key] = self.fn(key)
        return value


class _LexiconMemos(dict):
    """lexicon name -> BoundedMemo of RuleSet._in_lexicon for that lexicon, made on first use."""

    __slots__ = ("rules",)

    def __init__(self, rules: RuleSet):
        super().__init__()
        self.rules = rules

    def __missing__(self, name: str) -> BoundedMemo:
        memo = self[name] = BoundedMemo(partial(self.rules._in_lexicon, name), 50_000)
        return memo


def _err(message: str) -> ConfigError:
    return ConfigError([message])


def bundled_rules_path() -> Path:
    return Path(str(resources.files("config").joinpath("rules.toml")))


def load_rules(extra_path: str | Path | None = None) -> RuleSet:
    """Read the bundled rules and, if given, an operator file that extends or overrides them.

    Raises ConfigError naming the file and rule when something cannot be compiled.
    """
    sources = [bundled_rules_path()]
    if extra_path is not None:
        sources.append(Path(extra_path))
    docs, raw = [], b""
    for path in sources:
        try:
            data = path.read_bytes()
            docs.append((path, tomllib.loads(data.decode("utf-8"))))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise _err(f"Cannot read rules file {path}: {e}. Fix the file or pass another --rules path.") from e
        raw += data
    merged = _merge(docs)
    return _compile(merged, hashlib.sha256(raw).hexdigest()[:10])


def _merge(docs: list[tuple[Path, dict]]) -> dict:
    """Later files replace rules with the same id, replace or extend lexicons, and may disable ids."""
    out: dict = {"lexicon": {}, "trigger": {}, "block": {}, "country": {}, "builtin_labels": []}
    for path, doc in docs:
        out["lexicon"].update(doc.get("lexicon", {}))
        for name, entries in doc.get("lexicon_add", {}).items():
            out["lexicon"].setdefault(name, [])
            out["lexicon"][name] = list(out["lexicon"][name]) + list(entries)
        for kind in ("trigger", "block"):
            for rule in doc.get(kind, []):
                if "id" not in rule:
                    raise _err(f"{path}: a [[{kind}]] entry has no id; give every rule an id.")
                out[kind][rule["id"]] = rule
        out["country"].update(doc.get("country", {}))
        out["builtin_labels"] = doc.get("builtin_labels", out["builtin_labels"])
        out["question_blocks"] = doc.get("question_blocks", out.get("question_blocks", True))
        for rule_id in doc.get("disable", []):
            out["trigger"].pop(rule_id, None)
            out["block"].pop(rule_id, None)
    return out


class _Compiler:
    def __init__(self, lexicons: dict[str, list[str]]):
        self.lexicons = lexicons
        self.elements: list[tuple[frozenset[str], tuple[str, ...]]] = []
        self.element_ids: dict[tuple, int] = {}
        self.seqs: list[tuple[tuple[int, int], ...]] = []
        self.seq_ids: dict[tuple, int] = {}

    def expand(self, name: str, where: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Entries of a lexicon, with entries that are "@other" lexicons expanded in place."""
        entries = self.lexicons.get(name)
        if entries is None:
            raise _err(f"{where}: unknown lexicon @{name}; define it under [lexicon].")
        if name in seen:
            raise _err(f"{where}: lexicon @{name} includes itself.")
        out: list[str] = []
        for e in entries:
            e = e.strip()
            if e.startswith("@") and " " not in e:
                out += self.expand(e[1:], where, seen | {name})
            else:
                out.append(e)
        return out

    def element(self, spec: str, where: str) -> int:
        if spec == "#":
            return NUM
        if spec == "#year":
            return YEAR
        exact, prefixes = set(), set()
        for alt in spec.split("|"):
            if alt.startswith("@"):
                for entry in self.expand(alt[1:], where):
                    if " " in entry.strip():
                        raise _err(f"{where}: lexicon {alt} has a multi-word entry '{entry}' and can "
                                          "only be used as a whole pattern.")
                    for sub in entry.strip().split("|"):
                        self._alt(sub, exact, prefixes, where)
            else:
                self._alt(alt, exact, prefixes, where)
        key = (frozenset(exact), tuple(sorted(prefixes)))
        if key not in self.element_ids:
            self.element_ids[key] = len(self.elements)
            self.elements.append(key)
        return self.element_ids[key]

    @staticmethod
    def _alt(alt: str, exact: set, prefixes: set, where: str) -> None:
        if alt.endswith("*"):
            stem = fold_term(alt[:-1]).rstrip("ь")  # a stem's last letter is word-internal
            if len(stem) < 2:
                raise _err(f"{where}: stem '{alt}' is too short; use at least two letters.")
            prefixes.add(stem)
        elif alt:
            exact.add(fold_term(alt))

    def sequence(self, text: str, where: str) -> int:
        parts, gap = [], 0
        for spec in text.split():
            if spec.startswith("~") and spec[1:].isdigit():
                gap = int(spec[1:])
                continue
            parts.append((self.element(spec, where), gap))
            gap = 0
        if not parts:
            raise _err(f"{where}: empty pattern.")
        key = tuple(parts)
        if key not in self.seq_ids:
            self.seq_ids[key] = len(self.seqs)
            self.seqs.append(key)
        return self.seq_ids[key]

    def patterns(self, items: list[str], where: str) -> tuple[tuple[int, ...], ...]:
        out = []
        for item in items:
            item = item.strip()
            if item.startswith("@") and " " not in item and "&&" not in item and "|" not in item:
                # A whole-lexicon pattern: each entry (possibly multi-word) is an alternative.
                out.extend((self.sequence(e, where),) for e in self.expand(item[1:], where))
                continue
            out.append(tuple(self.sequence(part, where) for part in item.split("&&")))
        return tuple(out)

    def context(self, spec: dict, where: str, default_scope: str = "sentence") -> Context:
        scope = str(spec.get("scope", default_scope))
        name, _, dist = scope.partition(":")
        if name not in SCOPES or (name in ("before", "after", "around")) != dist.isdigit():
            raise _err(f"{where}: bad scope '{scope}'; use before:N, after:N, around:N, clause, sentence or post.")
        return Context.build(self.patterns(list(spec.get("patterns", [])), where), name, int(dist or 0))


def _compile(doc: dict, digest: str) -> RuleSet:
    lexicons = {k: [str(x) for x in v] for k, v in doc["lexicon"].items()}
    lexicons.update(_country_lexicons(doc["country"]))
    comp = _Compiler(lexicons)
    triggers, blocks = [], []
    for rule_id, r in doc["trigger"].items():
        where = f"trigger {rule_id}"
        if "label" not in r or "patterns" not in r:
            raise _err(f"{where}: needs a label and patterns.")
        requires = tuple(comp.context(c, where) for c in r.get("requires", []))
        triggers.append(Trigger(rule_id, str(r["label"]), float(r.get("weight", 0.8)),
                                comp.patterns(list(r["patterns"]), where), requires,
                                bool(r.get("requires_or_name", False)), bool(r.get("requires_name", False))))
    for rule_id, r in doc["block"].items():
        where = f"block {rule_id}"
        unless = tuple(comp.context(c, where) for c in r.get("unless", []))
        requires = tuple(comp.context(c, where) for c in r.get("requires", []))
        blocks.append(Block(rule_id, frozenset(r.get("labels", ["*"])), comp.context(r, where), unless, requires))
    folded_lex = {k: [_fold_entry(a) for e in v for a in e.split("|")] for k, v in lexicons.items()}
    rs = RuleSet(triggers, blocks, folded_lex, doc["country"], tuple(doc["builtin_labels"]), digest,
                 bool(doc.get("question_blocks", True)))
    _index(rs, comp)
    return rs


def _fold_entry(entry: str) -> str:
    entry = entry.strip()
    if entry.endswith("*"):
        return fold_term(entry[:-1]).rstrip("ь") + "*"
    return " ".join(fold_term(w) for w in entry.split())


def _country_lexicons(countries: dict) -> dict[str, list[str]]:
    """Lexicons generated from [country.*]: single-word entries only (see rules.toml header)."""
    out: dict[str, list[str]] = {"country_foreign": [], "demonym_all": [], "demonym_foreign": [],
                                 "country_adj_foreign": [], "geo_all": []}
    for spec in countries.values():
        home = bool(spec.get("home"))
        for key, target in (("names", "country_foreign"), ("adjectives", "country_adj_foreign")):
            if not home:
                out[target] += [e for e in spec.get(key, []) if " " not in e.strip()]
        for key in ("names", "adjectives", "demonyms"):
            out["geo_all"] += [e for alt in spec.get(key, []) for e in alt.split("|") if " " not in e.strip()]
        for alt in spec.get("demonyms", []):
            for e in alt.split("|"):
                if " " in e.strip():
                    continue  # "south african": the country extractor reads it from the table itself
                out["demonym_all"].append(e)
                if not home:
                    out["demonym_foreign"].append(e)
    return out


def targets(labels: frozenset[str], label: str, rule_id: str) -> bool:
    """Whether a block listing `labels` (labels, rule ids, "id.*" prefixes, "*") applies to a trigger."""
    if "*" in labels or label in labels or rule_id in labels:
        return True
    return any(e.endswith("*") and rule_id.startswith(e[:-1]) for e in labels)


def _trie_regex(words: set[str]) -> str:
    """A regex alternation shaped as a trie: re tries one branch per letter, not every word."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(trie)


def _build_prefilter(rs: RuleSet, comp: _Compiler) -> re.Pattern | None:
    """Every trigger needs one of its words to occur: collect one word-spec per trigger pattern."""
    prefixes: set[str] = set()
    exact: set[str] = set()
    for trig in rs.triggers:
        for pattern in trig.patterns:
            seq = comp.seqs[pattern[0]]
            options = [e for e, _ in seq if e >= 0]
            if not options:
                return None  # a pattern made only of numbers: cannot pre-filter
            # The most selective word of the pattern is the one to look for: fewest alternatives, but
            # never a short function word ("a", "on", "из") when the pattern has a longer one.
            eid = min(options, key=lambda e: (any(len(w) < 4 for w in (*comp.elements[e][0], *comp.elements[e][1])),
                                              len(comp.elements[e][0]) + len(comp.elements[e][1])))
            ex, pre = comp.elements[eid]
            for w in ex:
                (prefixes if w.endswith("ь") else exact).add(w.rstrip("ь"))
            prefixes.update(p.rstrip("ь") for p in pre)
    parts = []
    if prefixes:
        parts.append(_trie_regex(prefixes))
    if exact:
        parts.append(_trie_regex(exact) + r"(?!\w)")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")") if parts else None


def _index(rs: RuleSet, comp: _Compiler) -> None:
    exact: dict[str, set[int]] = defaultdict(set)
    prefix: dict[str, set[int]] = defaultdict(set)
    for eid, (ex, pre) in enumerate(comp.elements):
        for w in ex:
            exact[w].add(eid)
        for p in pre:
            prefix[p].add(eid)
    starts: dict[int, list[int]] = defaultdict(list)
    for sid, seq in enumerate(comp.seqs):
        starts[seq[0][0]].append(sid)
    rs.seqs = comp.seqs
    rs.seq_rest = [frozenset(el for el, _ in seq[1:]) for seq in comp.seqs]
    rs.exact = {k: frozenset(v) for k, v in exact.items()}
    rs.prefix = {k: frozenset(v) for k, v in prefix.items()}
    rs.prefix_lengths = tuple(sorted({len(k) for k in prefix}))
    rs.starts = {k: tuple(v) for k, v in starts.items()}
    rs.prefilter = _build_prefilter(rs, comp)
    rs.trigger_seqs = frozenset(sid for t in rs.triggers for p in t.patterns for sid in p)
    contexts = [c for t in rs.triggers for c in t.requires]
    for b in rs.blocks:
        contexts += [b.context, *b.unless, *b.requires]
    rs.post_seqs = frozenset(sid for c in contexts if c.scope == "post" for p in c.patterns for sid in p)
    pattern_starts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for t_idx, trig in enumerate(rs.triggers):
        for p_idx, pattern in enumerate(trig.patterns):
            pattern_starts[pattern[0]].append((t_idx, p_idx))
    rs.pattern_starts = {k: tuple(v) for k, v in pattern_starts.items()}
    rs.trigger_blocks = tuple(frozenset(b_idx for b_idx, b in enumerate(rs.blocks)
                                        if targets(b.labels, t.label, t.rule_id)) for t in rs.triggers)
    block_firsts: dict[int, set[int]] = defaultdict(set)
    for b_idx, b in enumerate(rs.blocks):
        for sid in b.context.firsts:
            block_firsts[sid].add(b_idx)
    rs.block_firsts = {k: frozenset(v) for k, v in block_firsts.items()}
    rs.pattern_start_sids = frozenset(rs.pattern_starts)
    rs.block_first_sids = frozenset(rs.block_firsts)
