"""FROM THE LEAD — do not commit this file. Read /work/wt-detector/LEAD_NOTE_DO_NOT_COMMIT.md first.

Scores the detector on an independently written blind tuning set (/work/heldout/tune.jsonl) and on
two crash/performance cases found on main. Delete this file (and the note) before your final commit.
"""

import json
from pathlib import Path

import pytest

from bot.detection import load_detector
from handlers.evaluate import evaluate

TUNE = Path("/work/heldout/tune.jsonl")


@pytest.mark.skipif(not TUNE.exists(), reason="lead's blind set not present")
def test_blind_tuning_set_meets_targets():
    items = [json.loads(line) for line in TUNE.open(encoding="utf-8")]
    d = load_detector()
    r = evaluate(items, [d.detect(i["text"], i.get("lang")) for i in items])
    got = (r["detection"]["precision"], r["detection"]["recall"], r["label_accuracy"], r["count_exact"],
           r["names"]["recall"], r["countries"]["recall"])
    assert got[0] >= 0.97 and got[1] >= 0.95 and got[2] >= 0.92 and got[3] >= 0.90 and got[4] >= 0.85 \
        and got[5] >= 0.85, (
        f"BLIND SET (written by someone else, never seen by your rules): P={got[0]:.2f} R={got[1]:.2f} "
        f"label_acc={got[2]:.2f} count={got[3]:.2f} names_R={got[4]:.2f} countries_R={got[5]:.2f}. "
        "Read /work/wt-detector/LEAD_NOTE_DO_NOT_COMMIT.md. Run `tgwatch eval /work/heldout/tune.jsonl` for the misses.")


def test_unicode_digits_do_not_crash():
    load_detector().detect("²<помиловал")


def test_many_triggers_stay_linear():
    import time

    t = time.perf_counter()
    load_detector().detect("Пост 1. " + "Лукашенко помиловал осуждённых. " * 260)
    assert time.perf_counter() - t < 0.5, "quadratic behaviour: see the note (performance bug)"
