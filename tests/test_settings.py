from pathlib import Path

import pytest

from bot.errors import ConfigError
from config.secrets import Secret
from config.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tgwatch.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file():
    s = load_settings(None, env={})
    assert s.database.path == Path("./data/tgwatch.db")
    assert s.delivery.global_rate_per_s == 25
    assert s.access.mode == "open"


def test_every_problem_is_reported_at_once(tmp_path):
    p = write(
        tmp_path,
        """
[database]
busy_timeout_s = -1
[delivery]
global_rate_per_s = "fast"
max_attempts = 0
[access]
mode = "everyone"
operators = ["alice"]
[telegram]
api_hsh = "x"
[delivry]
x = 1
""",
    )
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    problems = e.value.problems
    joined = "\n".join(problems)
    assert len(problems) >= 7, joined
    assert "[database] busy_timeout_s" in joined
    assert "[delivery] global_rate_per_s" in joined and "number greater than 0" in joined
    assert "[delivery] max_attempts" in joined
    assert "[access] mode" in joined and "'approval'" in joined
    assert "[access] operators" in joined
    assert "did you mean 'api_hash'" in joined
    assert "[delivry]: unknown section; did you mean [delivery]?" in joined


def test_environment_overrides_file_and_is_validated(tmp_path):
    p = write(tmp_path, "[delivery]\nglobal_rate_per_s = 10\n")
    s = load_settings(p, env={"TGWATCH_DELIVERY_GLOBAL_RATE_PER_S": "5", "TGWATCH_ACCESS_OPERATORS": "1, 2"})
    assert s.delivery.global_rate_per_s == 5
    assert s.access.operators == (1, 2)
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={"TGWATCH_DELIVERY_GLOBAL_RATE_PER_S": "zero"})
    assert "environment TGWATCH_DELIVERY_GLOBAL_RATE_PER_S" in str(e.value)


def test_config_path_from_environment(tmp_path):
    p = write(tmp_path, "[run]\nlog_level = 'debug'\n")
    assert load_settings(None, env={"TGWATCH_CONFIG": str(p)}).run.log_level == "DEBUG"


def test_secrets_are_masked_in_repr_and_errors(tmp_path):
    s = load_settings(None, env={"TGWATCH_TELEGRAM_API_ID": "123", "TGWATCH_TELEGRAM_API_HASH": "0123456789abcdef",
                                 "TGWATCH_TELEGRAM_BOT_TOKEN": "123:SECRETTOKEN"})
    text = repr(s) + str(s.telegram)
    assert "0123456789abcdef" not in text and "SECRETTOKEN" not in text
    assert s.telegram.api_hash.reveal() == "0123456789abcdef"
    assert set(s.secrets()) == {"0123456789abcdef", "123:SECRETTOKEN"}
    assert repr(Secret("x")) == "Secret('****')"


def test_api_id_and_hash_go_together():
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"TGWATCH_TELEGRAM_API_ID": "123"})
    assert "api_id and api_hash" in str(e.value)


def test_broken_toml_names_the_file(tmp_path):
    p = write(tmp_path, "[database\npath = 1")
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    assert str(p) in str(e.value) and "not valid TOML" in str(e.value)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path / "nope.toml", env={})
    assert "config/example.toml" in str(e.value)


def test_webhooks_are_validated(tmp_path):
    p = write(tmp_path, '[[webhooks]]\nname = "cms"\nurl = "ftp://x"\nsecret = "short"\n'
                        '[[webhooks]]\nname = "ok"\nurl = "https://example.org/hook"\nsecret = "0123456789abcdef0123"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    assert "url: expected an http:// or https:// URL" in str(e.value)


def test_example_config_is_valid():
    example = Path(__file__).resolve().parent.parent / "config" / "example.toml"
    s = load_settings(example, env={})
    assert s.source == str(example)


def test_unexpandable_home_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"TGWATCH_TELEGRAM_SESSION_PATH": "~0"})
    assert "cannot expand '~'" in str(e.value)
