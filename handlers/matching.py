"""Which subscribers a post concerns: labels, channels, confidence and watch terms. Pure."""

from __future__ import annotations

from bot.models import Detection, Post, Subscription
from bot.detection.terms import text_matches_term


def match_reason(post: Post, detection: Detection, sub: Subscription,
                 term_hits: frozenset[str] | None = None) -> str | None:
    """Why this subscription wants this post ("label" or "term:<term>"), or None. `term_hits`: the
    terms already known to occur in post.text (handlers/analysis_pool.py), instead of matching here."""
    if sub.channel_ids and post.channel_id not in sub.channel_ids:
        return None
    if detection.is_positive and detection.confidence >= sub.min_confidence:
        labels = {detection.label, *detection.extra_labels}
        if not sub.labels or labels & set(sub.labels):
            return "label"
    for term in sub.terms:
        if (term in term_hits) if term_hits is not None else text_matches_term(post.text, term):
            return f"term:{term}"
    return None
