"""The naive keyword baseline: a stem anywhere in the post gives its label (same interface as the
real detector). It exists so `tgwatch eval` and the benchmark can show what the rules add.
"""

from __future__ import annotations

import re

from bot.models import PRECEDENCE, Detection, Evidence

VERSION = "naive-1"

_STEMS = {
    "exchange": r"обмен|обменя|абмен|абмяня|swap|exchang",
    "transfer": r"депорт|выдвор|вывез|deport|expel",
    "pardon": r"помилов|памілав|pardon|clemency",
    "amnesty": r"амнист|амніст|amnesty",
    "release": r"освобожд|освобод|вызвал|released|freed|на свободу|на волю|на свабоду",
}
_RX = {label: re.compile(rf"(?i)(?:{stems})\w*") for label, stems in _STEMS.items()}
_NUMBER = re.compile(r"\b[0-9]+\b")


class NaiveDetector:
    """Keyword matcher with the built-in precedence; count = first number in the post."""

    version = VERSION

    def detect(self, text: str, lang: str | None = None) -> Detection:
        text = text if isinstance(text, str) else ""
        for label in PRECEDENCE:
            m = _RX[label].search(text)
            if m:
                num = _NUMBER.search(text)
                ev = (Evidence(f"naive.{label}", m.start(), m.end(), m.group(0)),)
                return Detection(label, 0.5, int(num.group(0)) if num else None, evidence=ev,
                                 detector_version=VERSION)
        return Detection("none", 0.5, detector_version=VERSION)


def load_naive() -> NaiveDetector:
    return NaiveDetector()
