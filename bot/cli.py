"""The `tgwatch` command: a thin shell over handlers/ and storage/. Errors print as `Error: ...`."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from bot.errors import ConfigError, StorageError, TgwatchError, UserError
from config.logging_setup import setup_logging
from config.settings import Settings, load_settings

log = logging.getLogger("tgwatch")

EXIT_RUNTIME, EXIT_USAGE, EXIT_STORAGE = 1, 2, 3


class TgwatchClickError(click.ClickException):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _translate(e: TgwatchError) -> TgwatchClickError:
    if isinstance(e, (ConfigError, UserError)):
        return TgwatchClickError(str(e), EXIT_USAGE)
    if isinstance(e, StorageError):
        return TgwatchClickError(str(e), EXIT_STORAGE)
    return TgwatchClickError(str(e), EXIT_RUNTIME)


def run_async(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async command body; our errors become `Error: ...` with no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except TgwatchError as e:
            raise _translate(e) from None
        except KeyboardInterrupt:
            raise click.Abort() from None

    return wrapper


class Context:
    def __init__(self, config_path: str | None, log_level: str | None):
        self.config_path = config_path
        self.log_level = log_level
        self._settings: Settings | None = None
        # One-off commands log warnings only; the service (`run`) logs at [run] log_level.
        self.service = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as e:
                raise _translate(e) from None
            level = self.log_level or (self._settings.run.log_level if self.service else "WARNING")
            setup_logging(level, self._settings.secrets())
        return self._settings


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="TGWATCH_CONFIG", type=click.Path(dir_okay=False),
              help="Settings file (TOML). Default: $TGWATCH_CONFIG, else built-in defaults.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Override [run] log_level.")
@click.version_option(package_name="tgwatch")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """tgwatch: watch official Telegram channels for pardon and release announcements,
    alert journalists, and archive everything for researchers."""
    # Everything tgwatch creates (database, WAL, session files and the -journal files Telethon's
    # SQLite session makes later, exports, backups) is private to the service's user.
    os.umask(0o077)
    ctx.obj = Context(config_path, log_level.upper() if log_level else None)


@main.command()
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON Lines of channel posts to replay (default: the bundled sample).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite file to fill (default: a fresh temporary file).")
@pass_ctx
@run_async
async def demo(ctx: Context, replay: Path | None, db_path: Path | None) -> None:
    """Replay bundled channel posts through the real pipeline; print the alerts a journalist gets."""
    from bot.app import run_demo
    from bot.console import ConsoleSender
    from bot.replay import bundled_replay

    settings = ctx.settings
    replay = replay or bundled_replay()
    tmp = None
    if db_path is None:
        tmp = tempfile.mkdtemp(prefix="tgwatch-demo-")
        db_path = Path(tmp) / "demo.db"
    click.echo(f"tgwatch demo: replaying {replay.name} through the pipeline into {db_path}\n")
    summary = await run_demo(settings, replay, db_path, {"console": ConsoleSender()})
    click.echo("─" * 72)
    click.echo(
        f"Replayed {summary.events} events: {summary.posts} posts stored ({summary.versions} versions), "
        f"{summary.detections_positive} announcements detected, {summary.alerts_sent} messages delivered.\n"
        f"Database: {summary.db_path}  (try: sqlite3 {summary.db_path} 'select * from detections')"
    )


@main.command()
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read posts from a JSON Lines replay instead of Telegram (testing, soak runs).")
@click.option("--console", is_flag=True, help="Also print alerts on the console (a 'console' subscriber).")
@click.option("--exit-when-done", is_flag=True, help="With --replay: exit once the replay is captured and delivered.")
@pass_ctx
@run_async
async def run(ctx: Context, replay: Path | None, console: bool, exit_when_done: bool) -> None:
    """Run the service: capture watched channels and deliver alerts until stopped (SIGTERM drains)."""
    from bot.app import run_replay_service, run_telegram_service
    from bot.console import ConsoleSender

    ctx.service = True
    settings = ctx.settings
    senders: dict = {}
    if console:
        senders["console"] = ConsoleSender()
    if replay is None:
        code = await run_telegram_service(settings, senders)
    else:
        code = await run_replay_service(settings, replay, senders, exit_when_done=exit_when_done)
    sys.exit(code)


@main.command()
@pass_ctx
@run_async
async def migrate(ctx: Context) -> None:
    """Create or upgrade the database schema (safe to run any number of times)."""
    from storage.db import Database
    from storage.migrations import apply_migrations

    s = ctx.settings
    db = await Database.open(s.database.path, busy_timeout_s=s.database.busy_timeout_s)
    try:
        new = await apply_migrations(db)
    finally:
        await db.close()
    click.echo(f"{s.database.path}: applied {', '.join(new)}" if new else f"{s.database.path}: schema is up to date")


@main.command()
@click.option("--max-age-s", default=120.0, show_default=True, help="Heartbeat older than this means unhealthy.")
@pass_ctx
def health(ctx: Context, max_age_s: float) -> None:
    """Exit 0 if a running service's heartbeat is fresh, 1 otherwise (for Docker HEALTHCHECK)."""
    from datetime import datetime

    from bot.app import heartbeat_path
    from bot.timeutil import as_utc, utcnow

    path = heartbeat_path(ctx.settings)
    try:
        beat = as_utc(datetime.fromisoformat(path.read_text(encoding="utf-8").strip()))
    except (OSError, ValueError):
        raise TgwatchClickError(f"no heartbeat at {path}: is `tgwatch run` running?", EXIT_RUNTIME) from None
    age = (utcnow() - beat).total_seconds()
    if age > max_age_s:
        raise TgwatchClickError(f"heartbeat is {age:.0f} s old (limit {max_age_s:.0f} s): the service is stuck or down",
                                EXIT_RUNTIME)
    click.echo(f"ok: heartbeat {age:.0f} s old")


async def _deps(ctx: Context):
    from bot.detection import load_detector
    from handlers.deps import Deps
    from storage.db import open_database

    s = ctx.settings
    db = await open_database(s.database.path, busy_timeout_s=s.database.busy_timeout_s)
    return Deps(db=db, detector=load_detector(s.detector.rules_path), delivery=s.delivery)


@main.group()
def channels() -> None:
    """Manage watched channels."""


@channels.command("add")
@click.argument("ref")
@click.option("--id", "channel_id", type=int, help="Channel id, to add without contacting Telegram.")
@click.option("--backfill", type=click.IntRange(min=0), default=None,
              help="Also capture this many older posts (no alerts for them). Default: [ingest] backfill_default.")
@click.option("--since", help="Also capture every post since this date (ISO, e.g. 2025-09-01); no alerts for them.")
@pass_ctx
@run_async
async def channels_add(ctx: Context, ref: str, channel_id: int | None, backfill: int | None, since: str | None) -> None:
    """Watch a channel: @name or a t.me link. Resolved and joined through Telegram unless --id is given."""
    from bot.cli_telegram import add_online, parse_since
    from handlers.channels import add_channel, parse_channel_ref

    parse_channel_ref(ref)  # fail on a bad name before touching the database
    since_at = parse_since(since)
    deps = await _deps(ctx)
    captured = 0
    try:
        if channel_id is not None:
            ch = await add_channel(ref, deps, channel_id=channel_id)
        else:
            n = ctx.settings.ingest.backfill_default if backfill is None else backfill
            ch, captured = await add_online(ctx, deps, ref, n, since_at)
    finally:
        await deps.db.close()
    extra = f"; captured {captured} earlier posts" if captured else ""
    note = " It cannot be joined: it is read from history at the slower cadence." if ch.status == "unjoinable" else ""
    click.echo(f"Watching @{ch.username} (id {ch.channel_id}){extra}.{note}")


@channels.command("list")
@pass_ctx
@run_async
async def channels_list(ctx: Context) -> None:
    """List watched channels with their capture state."""
    from handlers.channels import list_channels

    deps = await _deps(ctx)
    try:
        views = await list_channels(deps)
    finally:
        await deps.db.close()
    if not views:
        click.echo("No channels are watched yet; add one with `tgwatch channels add @name`.")
        return
    click.echo(f"{'channel':<28} {'id':>14} {'status':<11} {'last id':>8}  last post")
    for v in views:
        c = v.channel
        name = f"@{c.username}" if c.username else (c.title or "?")
        last = v.last_post_at.strftime("%Y-%m-%d %H:%M") if v.last_post_at else "-"
        click.echo(f"{name:<28} {c.channel_id:>14} {c.status:<11} {c.last_seen_message_id:>8}  {last}")


@channels.command("remove")
@click.argument("ref")
@pass_ctx
@run_async
async def channels_remove(ctx: Context, ref: str) -> None:
    """Stop watching a channel (its captured posts stay)."""
    from handlers.channels import remove_channel

    deps = await _deps(ctx)
    try:
        ch = await remove_channel(ref, deps)
    finally:
        await deps.db.close()
    click.echo(f"Stopped watching @{ch.username}; its {ch.last_seen_message_id and 'captured posts stay' or 'record stays'}.")


@main.command()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only posts published on or after this date (UTC).")
@pass_ctx
@run_async
async def redetect(ctx: Context, since) -> None:
    """Re-run the current detector over stored posts; records new results, sends no alerts."""
    from bot.timeutil import as_utc
    from handlers.redetect import redetect as run_redetect

    deps = await _deps(ctx)
    try:
        report = await run_redetect(deps, since=as_utc(since) if since else None)
    finally:
        await deps.db.close()
    click.echo(f"Scanned {report.scanned} posts with detector {deps.detector.version}: "
               f"{report.recorded} new results, {report.changed} changed label.")
    for change, n in sorted(report.changes.items()):
        click.echo(f"  {change}: {n}")


from bot.cli_detection import detect_command, eval_command  # noqa: E402

main.add_command(detect_command)
main.add_command(eval_command)

from bot.cli_telegram import login as _login  # noqa: E402  (needs the names above)

main.add_command(_login)

from bot import cli_research  # noqa: E402  (researchers' commands, issue 6)

main.add_command(cli_research.export)
main.add_command(cli_research.search)
main.add_command(cli_research.import_)
main.add_command(cli_research.evidence)
main.add_command(cli_research.backup)
main.add_command(cli_research.browse)

if __name__ == "__main__":  # pragma: no cover
    main()
