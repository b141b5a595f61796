"""The detector: pure functions from post text to a Detection. No I/O beyond reading the rules file once.

Interface used by the rest of tgwatch:

    detector = load_detector(rules_path=None)    # compile once (bundled config/rules.toml + operator file)
    detection = detector.detect(text, lang=None)  # -> bot.models.Detection
    detector.version                             # stored with every detection; changes with the rules

Watch terms (subscribers' names), tolerant of case, inflection, spelling and script:

    match_key("Тихановского") == match_key("Tsikhanouski")   # compare with Detection.names_normalized
    text_matches_term(post_text, "Ціханоўскі")               # True if the post mentions the person
"""

from bot.detection.engine import Detector, load_detector
from bot.detection.names import match_key
from bot.detection.terms import text_matches_term

__all__ = ["Detector", "load_detector", "match_key", "text_matches_term"]
