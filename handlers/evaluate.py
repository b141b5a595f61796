"""Scores detections against a labelled corpus (the corpus schema of shared/corpus/README.md).

Pure: takes parsed items and Detection objects, returns plain dicts; `render_report` makes text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.detection.names import match_key
from bot.models import LABELS, Detection


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _f1(p: float | None, r: float | None) -> float | None:
    if not p or not r:
        return 0.0 if p is not None and r is not None else None
    return round(2 * p * r / (p + r), 4)


def names_match(a: str, b: str) -> bool:
    """Normalised, case- and inflection-tolerant: equal keys, or one name's words within the other's
    ("Тихановский" ~ "Сергей Тихановский")."""
    ka, kb = match_key(a).split(), match_key(b).split()
    if not ka or not kb:
        return False
    return ka == kb or set(ka) <= set(kb) or set(kb) <= set(ka)


def _match_count(gold: Sequence[str], pred: Sequence[str]) -> int:
    """Greedy one-to-one matching of predicted names to gold names."""
    left = list(gold)
    hits = 0
    for p in pred:
        for g in left:
            if names_match(g, p):
                left.remove(g)
                hits += 1
                break
    return hits


def evaluate(items: Iterable[dict[str, Any]], detections: Sequence[Detection]) -> dict[str, Any]:
    """Scores for detections[i] against items[i] (each item has id, label, count, names, countries)."""
    items = list(items)
    if len(items) != len(detections):
        raise ValueError("evaluate() needs one detection per item")
    tp = fp = fn = label_ok = 0
    count_ok = gold_pos = 0
    names_tp = names_gold = names_pred = 0
    c_tp = c_gold = c_pred = 0
    per_label = {lab: {"tp": 0, "fp": 0, "fn": 0} for lab in LABELS}
    misses, false_alarms, wrong_label, wrong_facts = [], [], [], []
    for item, det in zip(items, detections):
        gold, pred = item.get("label", "none"), det.label
        gpos, ppos = gold != "none", pred != "none"
        if gold in per_label and pred == gold:
            per_label[gold]["tp"] += 1
        else:
            if gold in per_label:
                per_label[gold]["fn"] += 1
            if pred in per_label:
                per_label[pred]["fp"] += 1
        if gpos and ppos:
            tp += 1
            if gold == pred:
                label_ok += 1
            else:
                wrong_label.append({"id": item["id"], "gold": gold, "pred": pred})
        elif gpos:
            fn += 1
            misses.append({"id": item["id"], "gold": gold})
        elif ppos:
            fp += 1
            false_alarms.append({"id": item["id"], "pred": pred})
        if not gpos:
            continue
        gold_pos += 1
        facts = []
        if ppos and det.count == item.get("count"):
            count_ok += 1
        elif ppos:
            facts.append(f"count {det.count} != {item.get('count')}")
        gnames, pnames = list(item.get("names", [])), list(det.names) if ppos else []
        hit = _match_count(gnames, pnames)
        names_tp, names_gold, names_pred = names_tp + hit, names_gold + len(gnames), names_pred + len(pnames)
        if hit != len(gnames) or hit != len(pnames):
            facts.append(f"names {pnames} != {gnames}")
        gc, pc = set(item.get("countries", [])), set(det.countries) if ppos else set()
        c_tp, c_gold, c_pred = c_tp + len(gc & pc), c_gold + len(gc), c_pred + len(pc)
        if gc != pc and ppos:
            facts.append(f"countries {sorted(pc)} != {sorted(gc)}")
        if facts and ppos:
            wrong_facts.append({"id": item["id"], "problems": facts})
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    labels = {}
    for lab, c in per_label.items():
        p, r = _ratio(c["tp"], c["tp"] + c["fp"]), _ratio(c["tp"], c["tp"] + c["fn"])
        labels[lab] = {"precision": p, "recall": r, "support": c["tp"] + c["fn"]}
    return {
        "items": len(items),
        "gold_positives": gold_pos,
        "detection": {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                      "tp": tp, "fp": fp, "fn": fn},
        "label_accuracy": _ratio(label_ok, tp),
        "per_label": labels,
        "count_exact": _ratio(count_ok, gold_pos),
        "names": {"precision": _ratio(names_tp, names_pred), "recall": _ratio(names_tp, names_gold)},
        "countries": {"precision": _ratio(c_tp, c_pred), "recall": _ratio(c_tp, c_gold)},
        "misses": misses,
        "false_alarms": false_alarms,
        "wrong_label": wrong_label,
        "wrong_facts": wrong_facts,
    }


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


def render_report(scores: dict[str, Any], title: str = "detector") -> str:
    """A readable multi-line report of `evaluate()` output."""
    d = scores["detection"]
    lines = [
        f"== {title}: {scores['items']} posts, {scores['gold_positives']} positive",
        f"detection  precision {_fmt(d['precision'])}  recall {_fmt(d['recall'])}  f1 {_fmt(d['f1'])}"
        f"  (tp {d['tp']}, fp {d['fp']}, fn {d['fn']})",
        f"label accuracy on detected positives {_fmt(scores['label_accuracy'])}",
        f"count exact {_fmt(scores['count_exact'])}",
        f"names      precision {_fmt(scores['names']['precision'])}  recall {_fmt(scores['names']['recall'])}",
        f"countries  precision {_fmt(scores['countries']['precision'])}  recall {_fmt(scores['countries']['recall'])}",
        "per label:",
    ]
    for lab, v in scores["per_label"].items():
        lines.append(f"  {lab:<9} precision {_fmt(v['precision'])}  recall {_fmt(v['recall'])}  n={v['support']}")
    for key, what in (("misses", "missed"), ("false_alarms", "false alarm"), ("wrong_label", "wrong label")):
        for row in scores[key]:
            extra = ", ".join(f"{k}={v}" for k, v in row.items() if k != "id")
            lines.append(f"  {what}: {row['id']} ({extra})")
    for row in scores["wrong_facts"]:
        lines.append(f"  facts: {row['id']}: {'; '.join(row['problems'])}")
    return "\n".join(lines)
