"""Placeholder rule engine: separates an obvious pardon/release announcement from ordinary news.

Replaced by the full rules engine (issue 4); the interface stays.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.models import Detection, Evidence

_POSITIVE = [
    ("pardon", "pardon.stem", re.compile(r"помил\w*|паміл\w*|pardon\w*|clemency", re.I)),
    ("release", "release.stem", re.compile(r"освобожд\w*|освобожд\w*|вызвал\w*|released|freed", re.I)),
]
_BLOCK = re.compile(r"от должност\w*|ад пасад\w*|освобождени\w* (?:Минска|Беларуси|Белоруссии)", re.I)


class Detector:
    version = "placeholder-0"

    def __init__(self, rules_path: str | Path | None = None):
        self.rules_path = rules_path

    def detect(self, text: str, lang: str | None = None) -> Detection:
        text = text or ""
        block = _BLOCK.search(text)
        for label, rule_id, rx in _POSITIVE:
            m = rx.search(text)
            if m and not block:
                ev = Evidence(rule_id, m.start(), m.end(), m.group(0))
                return Detection(label, 0.6, evidence=(ev,), detector_version=self.version)
        return Detection("none", 0.9, detector_version=self.version)


def load_detector(rules_path: str | Path | None = None) -> Detector:
    return Detector(rules_path)
