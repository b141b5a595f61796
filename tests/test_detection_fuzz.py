"""Property test: detect() returns a well-formed Detection for any text and never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detection import load_detector

DETECTOR = load_detector()
WORDS = st.sampled_from(["помиловал", "освобождён", "не", "вышел на свободу", "12", "двух", "Лукашенко",
                         "Литву", "вывезли", "pardoned", "released", "обмен", "амнистии", "²", "\u200b", "?",
                         ".", ",", "\n", "Сергей Тихановский", "граждан Польши", "около", "ad", "ŭ"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.lists(WORDS, max_size=60).map(" ".join)),
       st.sampled_from([None, "ru", "be", "en"]))
def test_detect_never_raises(text, lang):
    det = DETECTOR.detect(text, lang)
    assert det.label in ("pardon", "release", "amnesty", "transfer", "exchange", "none")
    assert 0.0 <= det.confidence <= 1.0
    for ev in det.evidence:
        assert 0 <= ev.start <= ev.end <= len(text)
    for name in det.names:
        assert name in text
