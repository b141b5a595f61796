"""CLI commands that talk to Telegram: `tgwatch login` and the online part of `channels add`.

A thin shell: the work is in bot/telegram/ (imported lazily, so other commands start fast).
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from bot.cli import Context, pass_ctx, run_async


def _prompt(question: str, hide: bool) -> str:
    return click.prompt(question, hide_input=hide, type=str).strip()


@click.command()
@pass_ctx
@run_async
async def login(ctx: Context) -> None:
    """Log the watching user account in (phone, code, 2FA password); the session file is kept 0600."""
    from bot.telegram.login import login as do_login

    res = await do_login(ctx.settings, _prompt)
    state = "Already logged in" if res.already else "Logged in"
    click.echo(f"{state} as {res.name} (user id {res.user_id}). Session kept in {res.session} (mode 0600): "
               "it gives full access to the account, never share or commit it.")


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected a date like 2025-09-01 or 2025-09-01T12:00+03:00") from None
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d


async def add_online(ctx: Context, deps, ref: str, backfill: int, since: datetime | None):
    from bot.telegram.channels import add_channel_online

    return await add_channel_online(ctx.settings, deps, ref, backfill=backfill, since=since)
