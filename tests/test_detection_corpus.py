"""Every labelled post as a regression case: label, count, names (normalised) and countries.

tests/data/corpus_dev.jsonl is a verbatim copy of /work/shared/corpus/dev.jsonl (161 posts, see
shared/corpus/README.md for the schema and label policy), copied so the tests are self-contained.
tests/data/self_heldout.jsonl and self_blind2..20.jsonl hold posts written and labelled by the detector's
author with new wording, new invented people and new distractors, to guard against fitting dev.jsonl.
Each was scored blind (before any rule was changed for it); the first-pass scores are in the commit log.
self_blind19 covers the error categories of blind set 5 (categories only, sentences never seen),
written anew in ru/be/en with near-miss negatives; it grows with each fix. self_blind20 goes beyond
those categories: name shapes (initials, inflection, Łacinka, lists, 'including') and other look-alikes.
self_blind21 covers the error categories of blind set 6 (names, counts, precision), written anew.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.detection import load_detector
from bot.detection.names import match_key

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


DEV = _load("corpus_dev.jsonl")
SELF = [item for name in ("self_heldout", "self_blind2", "self_blind3", "self_blind4", "self_blind5", "self_blind6",
                     "self_blind7", "self_blind8", "self_blind9",
                     "self_blind10", "self_blind11", "self_blind12", "self_blind13", "self_blind14", "self_blind15", "self_blind16", "self_blind17", "self_blind18",
                     "self_blind19", "self_blind20", "self_blind21")
        for item in _load(f"{name}.jsonl")]
# Judgement calls in my own labels that the rules deliberately do not chase.
SELF_XFAIL: dict[str, str] = {}


@pytest.fixture(scope="module")
def detector():
    return load_detector()


def _check(detector, item):
    det = detector.detect(item["text"], item.get("lang"))
    assert det.label == item["label"], det.evidence
    if item["label"] == "none":
        return
    assert det.count == item["count"]
    assert sorted(match_key(n) for n in det.names) == sorted(match_key(n) for n in item["names"])
    assert sorted(det.countries) == sorted(item["countries"])
    for n in det.names:
        assert n in item["text"]  # verbatim substrings


@pytest.mark.parametrize("item", DEV, ids=[r["id"] for r in DEV])
def test_dev_corpus(detector, item):
    _check(detector, item)


@pytest.mark.parametrize(
    "item",
    [pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=SELF_XFAIL[r["id"]])) if r["id"] in SELF_XFAIL else r
     for r in SELF],
    ids=[r["id"] for r in SELF],
)
def test_self_heldout(detector, item):
    _check(detector, item)


def test_evidence_spans_index_the_original_text(detector):
    for item in DEV:
        det = detector.detect(item["text"], item["lang"])
        for ev in det.evidence:
            assert item["text"][ev.start:ev.end] == ev.text
            assert ev.role in ("trigger", "block", "fact")


def test_confidence_in_unit_interval_and_version_set(detector):
    for item in DEV[:40]:
        det = detector.detect(item["text"], item["lang"])
        assert 0.0 <= det.confidence <= 1.0
        assert det.detector_version == detector.version
