"""The Telegram CLI commands without Telegram: they explain what is missing, with no traceback."""

from __future__ import annotations

from click.testing import CliRunner

from bot.cli import main


def _cli(tmp_path, *args):
    env = {"TGWATCH_DATABASE_PATH": str(tmp_path / "t.db"),
           "TGWATCH_TELEGRAM_SESSION_PATH": str(tmp_path / "user.session")}
    return CliRunner().invoke(main, list(args), env=env)


def test_run_without_credentials_points_to_login_and_demo(tmp_path):
    r = _cli(tmp_path, "run")
    assert r.exit_code == 2 and "tgwatch demo" in r.output and "tgwatch login" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "user.session").exists()


def test_login_without_credentials_is_a_config_error(tmp_path):
    r = _cli(tmp_path, "login")
    assert r.exit_code == 2 and "my.telegram.org" in r.output and "Traceback" not in r.output


def test_channels_add_without_credentials_offers_the_offline_way(tmp_path):
    r = _cli(tmp_path, "channels", "add", "@some_channel")
    assert r.exit_code == 2 and "tgwatch login" in r.output and "--id" in r.output
    r = _cli(tmp_path, "channels", "add", "not a channel!")
    assert r.exit_code == 2 and r.output.startswith("Error: ")


def test_channels_add_since_must_be_a_date(tmp_path):
    r = _cli(tmp_path, "channels", "add", "@some_channel", "--since", "yesterday")
    assert r.exit_code == 2 and "2025-09-01" in r.output


def test_telegram_commands_have_help():
    for args in (["login", "--help"], ["channels", "add", "--help"], ["run", "--help"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0 and "Usage:" in r.output
