"""EDGE: the only module that imports datasette (an optional extra: pip install 'tgwatch[browse]').

`tgwatch browse` serves a PUBLIC COPY of the archive (handlers.backup.public_copy): the private
tables (subscribers, subscriptions, outbox, events and anything not on the public list) do not
exist in the served file, so neither table pages nor arbitrary SQL can reach them. The copy is
opened immutable (read-only) and reflects the archive at the moment browse started.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from bot.errors import UserError

DB_NAME = "archive"

_POST_COLUMNS = {
    "channel_id": "Telegram's id of the channel (bare, without -100).",
    "channel_username": "The channel's public @username (without @), if it has one.",
    "channel_title": "The channel's display name when last seen.",
    "message_id": "The post's id within its channel; for an album, the smallest id of its items.",
    "permalink": "Link to the post on t.me (t.me/c/... links work only for members of private channels).",
    "posted_at": "When the channel published the post (UTC, ISO-8601).",
    "edited_at": "When the channel last edited the post, per Telegram (UTC); empty if never edited.",
    "captured_at": "When tgwatch first stored the post (UTC).",
    "updated_at": "When tgwatch last stored a change of the post (UTC).",
    "deleted_at": "When tgwatch saw the post deleted (UTC); the text stays archived.",
    "version": "Version number: 1 is the original text, each edit adds one.",
    "text": "The post text (caption for media) as captured; for views of versions, that version's text.",
    "text_sha256": "SHA-256 (hex) of the version's text encoded as UTF-8.",
    "views": "View counter when last seen (none for imports).",
    "forwards": "Forward counter when last seen (none for imports).",
    "grouped_id": "Telegram's album id (the post stands for the whole album); empty for imports.",
    "media": "Short media summary, e.g. 'photo', 'video x2', 'document: a.pdf'.",
    "forwarded_from": "The original author's name when the post is a forward.",
    "source": "How it was captured: live, history, replay or import.",
    "label": "Detector verdict: pardon, release, amnesty, transfer, exchange, an operator category, or none.",
    "confidence": "Detector confidence, 0 to 1.",
    "count": "Number of people the post says are concerned, when stated.",
    "names": "JSON array of person names found in the post.",
    "countries": "JSON array of countries mentioned (ISO codes or names).",
    "extra_labels": "JSON array of further operator categories that matched.",
    "detector_version": "Version of the detector that produced the verdict.",
    "detected_at": "When that verdict was computed (UTC).",
    "search_id": "Key of the post in the full-text index posts_fts.",
}
_FACETS = ["channel_username", "label", {"date": "posted_at"}]
_SEARCH_SQL = (
    "select permalink, posted_at, channel_username, label, confidence, text from posts_latest "
    "where search_id in (select rowid from posts_fts where posts_fts match :q) order by posted_at desc limit 200"
)


def metadata() -> dict[str, Any]:
    """Descriptions of every public table and column, facets, and full-text search settings."""

    def cols(names: list[str]) -> dict[str, str]:
        return {n: _POST_COLUMNS[n] for n in names if n in _POST_COLUMNS}

    view_cols = list(_POST_COLUMNS)
    latest_cols = [c for c in view_cols if c != "text_sha256"]
    version_cols = [c for c in view_cols if c not in ("channel_title", "updated_at", "search_id")]
    return {
        "title": "tgwatch archive",
        "description": "Posts captured from watched Telegram channels, every edit, deletions and detector verdicts. "
        "Read-only copy; subscriber and delivery data are not included.",
        "databases": {
            DB_NAME: {
                "tables": {
                    "posts_latest": {
                        "description": "One row per post: its current text with its latest detection. Start here.",
                        "columns": cols(latest_cols),
                        "facets": _FACETS,
                        "sort_desc": "posted_at",
                        "fts_table": "posts_fts",
                        "fts_pk": "search_id",
                    },
                    "post_versions_view": {
                        "description": "One row per captured version of each post, with that version's detection.",
                        "columns": cols(version_cols),
                        "facets": _FACETS,
                        "sort_desc": "posted_at",
                    },
                    "posts": {"description": "Captured posts (current text); see posts_latest for a friendlier view.",
                              "columns": {**cols(view_cols), "latest_detection_id": "detection_id of the post's "
                                          "latest verdict (kept up to date by triggers)."}},
                    "post_versions": {"description": "Every captured version of every post.", "columns": cols(view_cols)},
                    "detections": {"description": "Every detector verdict, per post version and detector version.",
                                   "columns": {**cols(view_cols), "evidence": "JSON array of the matched text spans "
                                               "and rules.", "names_normalized": "JSON array of names normalised "
                                               "for matching.", "detection_id": "Row id of the verdict."}},
                    "channels": {"description": "Channels tgwatch watches or has archived.",
                                 "columns": {**cols(view_cols), "username": "Public @username (without @).",
                                             "title": "Display name.", "status": "active, private, banned, deleted, "
                                             "removed (no longer watched) ...", "last_seen_message_id":
                                             "Highest message id captured."}},
                    "post_search": {"hidden": True, "description": "Stable keys of the full-text index."},
                    "posts_fts": {"hidden": True, "description": "Full-text index: text (ё read as е) and stems."},
                    "schema_migrations": {"hidden": True},
                },
                "queries": {
                    "search": {
                        "title": "Full-text search (FTS5 syntax; a light stem such as помилов finds every form)",
                        "sql": _SEARCH_SQL,
                    }
                },
            }
        },
    }


def require_datasette() -> None:
    """Raise UserError early when the optional extra is not installed."""
    try:
        import datasette  # noqa: F401
    except ImportError as e:
        raise UserError("browse needs Datasette: pip install 'tgwatch[browse]'") from e


def make_datasette(copy_path: str | Path) -> Any:
    """A Datasette instance over an already-filtered public copy."""
    require_datasette()
    from datasette.app import Datasette

    path = Path(copy_path)
    if path.stem != DB_NAME:
        raise UserError(f"the public copy must be named {DB_NAME}.db (got {path.name})")
    return Datasette(
        immutables=[str(path)],
        metadata=metadata(),
        settings={"default_page_size": 50, "sql_time_limit_ms": 3000, "allow_download": False},
    )


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


async def serve(copy_path: str | Path, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM; returns (or exits) normally so the caller can delete the copy."""
    import uvicorn

    ds = make_datasette(copy_path)
    await ds.invoke_startup()
    server = uvicorn.Server(uvicorn.Config(ds.app(), host=host, port=port, log_level="warning"))
    # uvicorn shuts down gracefully, then re-raises the signal it caught; with the default SIGTERM
    # action that would kill the process before the temporary copy is removed.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        await server.serve()
    finally:
        signal.signal(signal.SIGTERM, previous)
