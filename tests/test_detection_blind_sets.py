"""Twenty-eight blind sets (tests/data/blind_sets.jsonl, blind sets 7-34, 4,200 posts) as a guard on generalisation.

Each set was written by a separate author who read only /work/shared/corpus/README.md (the label
policy) and a few lines of dev.jsonl for style, never the detector's code, rules or tests. Each was
scored once before any rule changed for it (those first, honest scores are in the commit log and the
issue note); its misses were then fixed by category. They are now training data, so the scores here are
not an estimate of unseen text: this test only keeps what the rules learned from them, label by label,
and the facts in aggregate (a few fact readings of these authors are judgement calls we do not chase).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.detection import load_detector
from handlers.evaluate import evaluate

ITEMS = [json.loads(line) for line in (Path(__file__).parent / "data" / "blind_sets.jsonl")
         .read_text(encoding="utf-8").splitlines() if line.strip()]
# Label calls of these authors that the rules do not follow (reasons in the commit that added them).
LABEL_XFAIL = {
    "b11-0029": "history (1796, Paul I freeing Kościuszko): no year the rules can read as history",
    "b11-0032": "a German pardoned 'on Monday' then swapped in Abu Dhabi: Belarus is never named",
    "b20-0078": "'A former political prisoner was released from the colony': 'former' reads as background",
    "b29-0120": "a Czech pardoned 'on Monday' then freed in a swap with Prague: Belarus is never named",
}


@pytest.fixture(scope="module")
def results():
    det = load_detector()
    return [det.detect(item["text"], item.get("lang")) for item in ITEMS]


def test_every_label(results):
    wrong = [(item["id"], item["label"], got.label) for item, got in zip(ITEMS, results)
             if item["label"] != got.label and item["id"] not in LABEL_XFAIL]
    assert wrong == []


def test_facts_in_aggregate(results):
    scores = evaluate(ITEMS, results)
    assert scores["count_exact"] >= 0.93
    assert scores["names"]["recall"] >= 0.89 and scores["names"]["precision"] >= 0.96
    assert scores["countries"]["recall"] >= 0.90 and scores["countries"]["precision"] >= 0.96
