"""The CLI: every command documents itself; errors are `Error: ...` without a traceback."""

import json

import click
import pytest
from click.testing import CliRunner

from bot.cli import main


def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path,cmd", list(all_commands(main)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help(path, cmd):
    assert cmd.help and cmd.help.strip(), f"tgwatch {' '.join(path)} has no help text"
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.help, f"tgwatch {' '.join(path)} {p.opts[0]} has no help text"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def cli(tmp_path, *args, env=None):
    base = {"TGWATCH_DATABASE_PATH": str(tmp_path / "t.db")}
    return CliRunner().invoke(main, list(args), env={**base, **(env or {})})


def test_migrate_is_idempotent(tmp_path):
    r1 = cli(tmp_path, "migrate")
    assert r1.exit_code == 0 and "applied 0001_core" in r1.output
    r2 = cli(tmp_path, "migrate")
    assert r2.exit_code == 0 and "up to date" in r2.output


def test_channels_add_list_remove(tmp_path):
    assert cli(tmp_path, "channels", "list").output.startswith("No channels")
    r = cli(tmp_path, "channels", "add", "https://t.me/pul_pervogo", "--id", "1234")
    assert r.exit_code == 0, r.output
    assert "@pul_pervogo" in cli(tmp_path, "channels", "list").output
    assert cli(tmp_path, "channels", "remove", "@pul_pervogo").exit_code == 0
    r = cli(tmp_path, "channels", "remove", "@pul_pervogo")
    assert r.exit_code == 2 and "Error: No channel @pul_pervogo is watched" in r.output


def test_channel_errors_are_clear(tmp_path):
    r = cli(tmp_path, "channels", "add", "not a channel!")
    assert r.exit_code == 2 and r.output.startswith("Error: ") and "Traceback" not in r.output
    r = cli(tmp_path, "channels", "add", "@some_channel")
    assert r.exit_code == 2 and "tgwatch login" in r.output and "--id" in r.output


def test_broken_config_lists_every_problem(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[delivery]\nglobal_rate_per_s = 0\nmax_attempts = 'x'\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["--config", str(cfg), "migrate"])
    assert r.exit_code == 2
    assert "2 problem(s)" in r.output and "global_rate_per_s" in r.output and "max_attempts" in r.output
    assert "Traceback" not in r.output


def test_unusable_database_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(main, ["migrate"], env={"TGWATCH_DATABASE_PATH": str(blocker / "sub" / "t.db")})
    assert r.exit_code == 3 and r.output.startswith("Error: ") and "Traceback" not in r.output


def test_run_without_telegram_or_replay_explains(tmp_path):
    r = cli(tmp_path, "run")
    assert r.exit_code == 2 and "tgwatch demo" in r.output


def test_demo_prints_alerts_for_announcements_only(tmp_path):
    r = cli(tmp_path, "demo", "--db", str(tmp_path / "demo.db"))
    assert r.exit_code == 0, r.output
    # The bundled replay: five announcements, one edited after its alert went out (a follow-up),
    # and a dozen look-alikes and ordinary posts that must stay quiet. The same on every run.
    assert r.output.count("(alert)") == 5
    assert r.output.count("(followup)") == 1
    assert "помиловал 14" in r.output
    assert "Replayed 16 events: 14 posts stored (15 versions), 5 announcements detected, 6 messages delivered" in r.output


def test_run_replay_exits_when_done(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"channel": "x_channel", "message_id": 1, "date": "2025-01-01T00:00:00+00:00",
                                  "text": "Лукашенко помиловал 3 осуждённых"}, ensure_ascii=False) + "\n")
    r = cli(tmp_path, "run", "--replay", str(replay), "--console", "--exit-when-done")
    assert r.exit_code == 0, r.output
    r = cli(tmp_path, "run", "--replay", str(replay), "--exit-when-done")
    assert r.exit_code == 0


def test_bad_replay_line_is_named(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"channel": "x_channel", "message_id": 1, "date": "2025-01-01T00:00:00+00:00"}\n{oops\n')
    r = cli(tmp_path, "run", "--replay", str(replay), "--exit-when-done")
    assert r.exit_code == 2 and "r.jsonl line 2: not valid JSON" in r.output


def test_files_tgwatch_creates_are_private(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        assert cli(tmp_path, "migrate").exit_code == 0
    finally:
        os.umask(old)
    for name in ("t.db", "t.db-wal"):
        p = tmp_path / name
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, (name, oct(p.stat().st_mode))
