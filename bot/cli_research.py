"""Researchers' commands: export, search, import, evidence, backup, browse. A thin shell over
handlers.{export,search,import_tdesktop,evidence,backup}; registered at the bottom of bot/cli.py."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

from bot.cli import Context, pass_ctx, run_async
from bot.errors import UserError
from bot.timeutil import utcnow
from storage.research import ArchiveFilters


def _when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def filter_options(fn: Callable) -> Callable:
    """The archive filters shared by export and search."""
    opts = [
        click.option("--channel", "channels", multiple=True, help="Only this channel (@name, link or id); repeatable."),
        click.option("--since", help="Only posts published at or after this UTC date/time (YYYY-MM-DD[THH:MM])."),
        click.option("--until", help="Only posts published before this UTC date/time (exclusive)."),
        click.option("--label", "labels", multiple=True, help="Only rows with this detector label; repeatable."),
        click.option("--detected", is_flag=True, help="Only rows the detector labelled (label is not 'none')."),
        click.option("--term", "terms", multiple=True, help="Only posts matching this watch term; repeatable (any)."),
        click.option("--deleted", is_flag=True, help="Include posts deleted by the channel (left out by default)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


async def _filters(db: Any, kw: dict[str, Any]) -> ArchiveFilters:
    from handlers.evidence import resolve_channel_id

    ids = tuple([await resolve_channel_id(db, ref) for ref in kw.pop("channels")])
    return ArchiveFilters(
        channel_ids=ids, since=_when(kw.pop("since"), "--since"), until=_when(kw.pop("until"), "--until"),
        labels=tuple(kw.pop("labels")), detected_only=kw.pop("detected"), terms=tuple(kw.pop("terms")),
        include_deleted=kw.pop("deleted"),
    )


async def _open_db(ctx: Context):
    from storage.db import open_database

    s = ctx.settings
    return await open_database(s.database.path, busy_timeout_s=s.database.busy_timeout_s)


@click.command("export")
@click.option("-o", "--output", default="-", show_default=True,
              help="File to write (.csv, .jsonl or .parquet); '-' writes CSV/JSONL to standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), help="Override the format.")
@click.option("--versions", is_flag=True, help="One row per captured version instead of one per post.")
@click.option("--no-bom", is_flag=True, help="CSV without the UTF-8 byte-order mark (Excel needs the mark).")
@filter_options
@pass_ctx
@run_async
async def export(ctx: Context, output: str, fmt: str | None, versions: bool, no_bom: bool, **kw: Any) -> None:
    """Export captured posts to CSV, JSON Lines or Parquet (columns: README "Data dictionary")."""
    from handlers.export import choose_format, count_rows, export_posts

    fmt = choose_format(output, fmt)
    db = await _open_db(ctx)
    try:
        filters = await _filters(db, kw)
        bar = None
        if sys.stderr.isatty():
            total = await count_rows(db, filters, versions=versions)
            bar = click.progressbar(length=total, label="exporting", file=sys.stderr)
            bar.__enter__()
        try:
            result = await export_posts(db, output, fmt, filters, versions=versions, bom=not no_bom,
                                        stdout=sys.stdout, progress=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    finally:
        await db.close()
    if result.path != "-":
        click.echo(f"Wrote {result.rows} rows to {result.path} ({result.format}).", err=True)


@click.command("search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help="At most this many matches (1-1000).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines instead of text.")
@filter_options
@pass_ctx
@run_async
async def search(ctx: Context, query: str, limit: int, as_json: bool, **kw: Any) -> None:
    """Full-text search of captured posts; every form of a word matches (помиловал ~ помилование)."""
    from handlers.search import search_posts

    db = await _open_db(ctx)
    try:
        hits = await search_posts(db, query, filters=await _filters(db, kw), limit=limit)
    finally:
        await db.close()
    for h in hits:
        if as_json:
            click.echo(json.dumps({"permalink": h.permalink, "channel_id": h.channel_id, "message_id": h.message_id,
                                   "channel_username": h.channel_username, "posted_at": h.posted_at.isoformat(),
                                   "deleted_at": h.deleted_at.isoformat() if h.deleted_at else None,
                                   "label": h.label, "text": h.text}, ensure_ascii=False))
        else:
            gone = "  [deleted]" if h.deleted_at else ""
            click.echo(f"{h.posted_at:%Y-%m-%d %H:%M}  {h.label or '-':<9} {h.permalink}{gone}\n    {h.snippet}")
    if not as_json:
        click.echo(f"{len(hits)} match(es)." if hits else "No matches.", err=True)


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--alert", is_flag=True, help="Also alert subscribers about matching posts (off by default).")
@click.option("--channel", "username", help="The channel's @name (exports do not include it), for t.me links.")
@click.option("--timezone", "local_tz", default="UTC", show_default=True,
              help="Zone of the exporting computer, used only for old exports without date_unixtime.")
@pass_ctx
@run_async
async def import_(ctx: Context, path: Path, alert: bool, username: str | None, local_tz: str) -> None:
    """Import a Telegram Desktop channel export (result.json) through the capture pipeline."""
    from bot.detection import load_detector
    from handlers.deps import Deps
    from handlers.import_tdesktop import INDEX_POSTS, describe, import_tdesktop
    from handlers.search import catch_up_index

    from storage.direct import open_direct_database

    s = ctx.settings
    # A batch job: inline SQLite and 500 posts per commit (see storage/direct.py for why).
    db = await open_direct_database(s.database.path, busy_timeout_s=s.database.busy_timeout_s)
    try:
        deps = Deps(db=db, detector=load_detector(s.detector.rules_path), delivery=s.delivery)
        result = await import_tdesktop(path, deps, alert=alert, username=username, local_tz=local_tz)
        click.echo(describe(result))
        # The import defers full-text indexing (faster in big batches afterwards); catch it up now
        # so that the first search does not have to. Interrupted, the next search or backup does.
        indexed = await catch_up_index(db, step=INDEX_POSTS)
        if indexed:
            click.echo(f"Search index updated ({indexed} posts).")
    finally:
        await db.close()


@click.command("evidence")
@click.argument("channel")
@click.argument("message_id", type=int)
@pass_ctx
@run_async
async def evidence(ctx: Context, channel: str, message_id: int) -> None:
    """Everything captured about one post, as JSON (versions with SHA-256, deletion, detections, alerts)."""
    from handlers.evidence import post_evidence

    db = await _open_db(ctx)
    try:
        record = await post_evidence(db, channel, message_id, now=utcnow())
    finally:
        await db.close()
    click.echo(json.dumps(record, ensure_ascii=False, indent=2))


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@pass_ctx
@run_async
async def backup(ctx: Context, path: Path, force: bool) -> None:
    """Copy the live database to PATH (safe while tgwatch runs) and verify the copy."""
    from handlers.backup import backup_database

    db = await _open_db(ctx)
    try:
        r = await backup_database(db, path, force=force)
    finally:
        await db.close()
    click.echo(f"Backed up to {r.path} ({r.size_bytes / 1e6:.1f} MB, integrity ok): "
               f"{r.counts['posts']} posts, {r.counts['post_versions']} versions, {r.counts['detections']} detections.")


@click.command("browse")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@pass_ctx
@run_async
async def browse(ctx: Context, host: str, port: int) -> None:
    """Browse the archive read-only in a web browser (Datasette; subscriber data is left out)."""
    from bot.browse import DB_NAME, require_datasette, serve
    from handlers.backup import public_copy

    require_datasette()
    db = await _open_db(ctx)
    with tempfile.TemporaryDirectory(prefix="tgwatch-browse-") as tmp:
        try:
            copy = await public_copy(db, Path(tmp) / f"{DB_NAME}.db")
        finally:
            await db.close()
        click.echo(f"Serving a read-only copy ({copy.counts['posts']} posts) at http://{host}:{port}/ ; Ctrl-C stops.",
                   err=True)
        await serve(copy.path, host, port)
