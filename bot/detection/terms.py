"""Watch-term matching (placeholder: case-insensitive, ё/е-insensitive substring).

The detector work replaces this with inflection- and transliteration-tolerant matching;
the signature stays.
"""

from __future__ import annotations


def _fold(s: str) -> str:
    return s.casefold().replace("ё", "е")


def text_matches_term(text: str, term: str) -> bool:
    term = _fold(term.strip())
    return bool(term) and term in _fold(text)
