"""Scoring maths of handlers/evaluate.py on a tiny hand-made set."""

from __future__ import annotations

from bot.models import Detection
from handlers.evaluate import evaluate, names_match, render_report

ITEMS = [
    {"id": "a", "label": "pardon", "count": 5, "names": ["Сергей Тихановский"], "countries": ["Poland"]},
    {"id": "b", "label": "none", "count": None, "names": [], "countries": []},
    {"id": "c", "label": "release", "count": 1, "names": ["Олег Рыбак"], "countries": []},
    {"id": "d", "label": "none", "count": None, "names": [], "countries": []},
]
DETS = [
    Detection("pardon", 0.9, 5, ("Сергея Тихановского",), countries=("Poland", "Latvia")),
    Detection("release", 0.6),
    Detection("none", 0.9),
    Detection("none", 0.9),
]


def test_scores():
    s = evaluate(ITEMS, DETS)
    assert s["detection"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1}
    assert s["label_accuracy"] == 1.0
    assert s["count_exact"] == 0.5
    assert s["names"] == {"precision": 1.0, "recall": 0.5}
    assert s["countries"] == {"precision": 0.5, "recall": 1.0}
    assert [m["id"] for m in s["misses"]] == ["c"]
    assert [m["id"] for m in s["false_alarms"]] == ["b"]
    assert s["per_label"]["release"]["precision"] == 0.0
    text = render_report(s)
    assert "missed: c" in text and "false alarm: b" in text


def test_names_match_is_inflection_tolerant():
    assert names_match("Сергея Тихановского", "Siarhei Tsikhanouski")
    assert names_match("Тихановский", "Сергей Тихановский")
    assert not names_match("Бабарико", "Тихановский")
