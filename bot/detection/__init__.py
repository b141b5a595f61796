"""The detector: pure functions from post text to a Detection. No I/O beyond reading the rules file once.

Interface used by the rest of tgwatch:

    detector = load_detector(rules_path=None)   # compile once
    detection = detector.detect(text, lang=None) # -> bot.models.Detection
    detector.version                            # stored with every detection
"""

from bot.detection.engine import Detector, load_detector

__all__ = ["Detector", "load_detector"]
