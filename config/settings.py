"""Settings: a TOML file plus TGWATCH_<SECTION>_<KEY> environment overrides, validated at once.

Every problem in the file and the environment is collected and reported together
(`ConfigError.problems`), each naming the key and what is expected. Nothing starts
on invalid settings. Secrets are `Secret` objects: masked in repr and logs.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bot.errors import ConfigError
from config.secrets import Secret

# --- parsers: value -> parsed, or raise ValueError with what is expected ------------------


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("expected a whole number")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    raise ValueError("expected a whole number")


def _pos_int(v: Any) -> int:
    n = _int(v)
    if n <= 0:
        raise ValueError("expected a whole number greater than 0")
    return n


def _nonneg_int(v: Any) -> int:
    n = _int(v)
    if n < 0:
        raise ValueError("expected a whole number, 0 or more")
    return n


def _float(v: Any, *, allow_zero: bool) -> float:
    expected = "expected a number, 0 or more" if allow_zero else "expected a number greater than 0"
    if isinstance(v, bool):
        raise ValueError(expected)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(expected) from None
    if f != f or f == float("inf") or f < 0 or (f == 0 and not allow_zero):
        raise ValueError(expected)
    return f


def _pos_float(v: Any) -> float:
    return _float(v, allow_zero=False)


def _nonneg_float(v: Any) -> float:
    return _float(v, allow_zero=True)


def _unit_float(v: Any) -> float:
    f = _nonneg_float(v)
    if f > 1:
        raise ValueError("expected a number from 0 to 1")
    return f


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("expected a string")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v in (None, "") else _str(v)


def _secret(v: Any) -> Secret:
    return Secret(_str(v))


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        return v.strip().lower() in {"1", "true", "yes", "on"}
    raise ValueError("expected true or false")


def _path(v: Any) -> Path:
    s = _str(v)
    if not s.strip():
        raise ValueError("expected a file path, got an empty string")
    try:
        return Path(s).expanduser()
    except RuntimeError:  # "~user" for a user that does not exist
        raise ValueError(f"cannot expand '~' in {s[:40]!r}; give an absolute path") from None


def _opt_path(v: Any) -> Path | None:
    return None if v in (None, "") else _path(v)


def _int_list(v: Any) -> tuple[int, ...]:
    if isinstance(v, str):
        v = [p for p in v.replace(";", ",").split(",") if p.strip()]
    if not isinstance(v, (list, tuple)):
        raise ValueError("expected a list of whole numbers, e.g. [12345, 67890]")
    try:
        return tuple(_int(x) for x in v)
    except ValueError:
        raise ValueError("expected a list of whole numbers, e.g. [12345, 67890]") from None


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [p.strip() for p in v.split(",") if p.strip()]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ValueError('expected a list of strings, e.g. ["pardon", "release"]')
    return tuple(v)


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if v not in options:
            raise ValueError("expected one of " + ", ".join(repr(o) for o in options))
        return v

    return parse


def _log_level(v: Any) -> str:
    s = _str(v).upper()
    if s not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
    return s


def opt(default: Any, parse: Callable[[Any], Any], help: str = "") -> Any:
    return field(default=default, metadata={"parse": parse, "help": help})


# --- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseSettings:
    path: Path = opt(Path("./data/tgwatch.db"), _path, "SQLite file; created with its folder")
    busy_timeout_s: float = opt(10.0, _pos_float, "how long a write waits for another process's lock")
    checkpoint_interval_s: float = opt(0.1, _pos_float, "WAL checkpoint period (run beside the writer, not in its commits)")
    max_wal_mb: float = opt(32.0, _pos_float, "WAL size at which the writer checkpoints in a commit after all")


@dataclass(frozen=True)
class TelegramSettings:
    api_id: int = opt(0, _nonneg_int, "from my.telegram.org; 0 = not configured")
    api_hash: Secret = opt(Secret(""), _secret, "from my.telegram.org")
    session_path: Path = opt(Path("./data/user.session"), _path, "user session file (0600)")
    session_string: Secret = opt(Secret(""), _secret, "StringSession instead of a file (optional)")
    bot_token: Secret = opt(Secret(""), _secret, "from @BotFather")
    bot_session_path: Path = opt(Path("./data/bot.session"), _path, "bot session file (0600)")
    # A custom MTProto server (Telegram's test DCs or a self-hosted one).
    server_dc_id: int = opt(0, _nonneg_int, "DC id of a custom server; 0 = Telegram production")
    server_host: str | None = opt(None, _opt_str, "host of a custom server")
    server_port: int = opt(443, _pos_int, "port of a custom server")
    server_rsa_key_file: Path | None = opt(None, _opt_path, "PEM public key of a custom server")
    catch_up: bool = opt(True, _bool, "let Telethon replay missed updates on start")


@dataclass(frozen=True)
class IngestSettings:
    reconcile_interval_s: float = opt(60.0, _pos_float, "history pass period")
    reconcile_jitter_s: float = opt(10.0, _nonneg_float, "random extra delay per pass")
    history_requests_per_30s: int = opt(8, _pos_int, "GetHistory budget (Telegram allows about 10)")
    unjoinable_interval_s: float = opt(600.0, _pos_float, "history period for channels we cannot join")
    backfill_default: int = opt(0, _nonneg_int, "messages to backfill when a channel is added")


@dataclass(frozen=True)
class DeliverySettings:
    global_rate_per_s: float = opt(25.0, _pos_float, "bot messages per second, all chats")
    private_chat_interval_s: float = opt(1.0, _pos_float, "min seconds between messages to one private chat")
    group_per_minute: int = opt(20, _pos_int, "messages per minute to one group or channel")
    max_attempts: int = opt(12, _pos_int, "attempts before an alert is dead-lettered")
    backoff_base_s: float = opt(2.0, _pos_float, "first retry delay; doubles each attempt")
    backoff_max_s: float = opt(3600.0, _pos_float, "longest retry delay")
    batch_size: int = opt(200, _pos_int, "outbox rows read per delivery round")
    concurrency: int = opt(8, _pos_int, "sends in flight at once (to different subscribers)")


@dataclass(frozen=True)
class AccessSettings:
    mode: str = opt("open", _choice("open", "approval", "invite"), "how journalists join")
    operators: tuple[int, ...] = opt((), _int_list, "Telegram user ids allowed to run operator commands")


@dataclass(frozen=True)
class DetectorSettings:
    rules_path: Path | None = opt(None, _opt_path, "extra rules file extending config/rules.toml")


@dataclass(frozen=True)
class HealthSettings:
    silence_factor: float = opt(6.0, _pos_float, "a channel is silent after this many times its usual gap")
    backlog_threshold: int = opt(500, _pos_int, "pending alerts that trigger an operator notice")
    oldest_pending_s: float = opt(300.0, _pos_float, "age of the oldest pending alert that triggers a notice")


@dataclass(frozen=True)
class RunSettings:
    grace_s: float = opt(10.0, _pos_float, "how long SIGTERM waits for delivery to drain")
    log_level: str = opt("INFO", _log_level, "DEBUG, INFO, WARNING or ERROR")


SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "telegram": TelegramSettings,
    "ingest": IngestSettings,
    "delivery": DeliverySettings,
    "access": AccessSettings,
    "detector": DetectorSettings,
    "health": HealthSettings,
    "run": RunSettings,
}


@dataclass(frozen=True)
class WebhookSettings:
    name: str
    url: str
    secret: Secret
    labels: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    min_confidence: float = 0.0
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    run: RunSettings = field(default_factory=RunSettings)
    webhooks: tuple[WebhookSettings, ...] = ()
    source: str = "<defaults>"

    def secrets(self) -> list[str]:
        """Every secret value in force, for the log filter that masks them."""
        t = self.telegram
        vals = [t.api_hash.reveal(), t.session_string.reveal(), t.bot_token.reveal()]
        vals += [w.secret.reveal() for w in self.webhooks]
        return [v for v in vals if v]


# --- loading -----------------------------------------------------------------------------


def _build_section(name: str, cls: type, raw: Mapping[str, Any], env: Mapping[str, str], problems: list[str]):
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(fields)}"
            problems.append(f"[{name}] {key}: unknown key{extra}")
    for fname, f in fields.items():
        env_key = f"TGWATCH_{name.upper()}_{fname.upper()}"
        if env_key in env:
            value, where = env[env_key], f"environment {env_key}"
        elif fname in raw:
            value, where = raw[fname], f"[{name}] {fname}"
        else:
            continue
        try:
            kwargs[fname] = f.metadata["parse"](value)
        except ValueError as e:
            shown = "****" if isinstance(f.default, Secret) else repr(value)[:60]
            problems.append(f"{where}: {e} (got {shown})")
    return cls(**kwargs)


def _build_webhooks(raw: Any, env: Mapping[str, str], problems: list[str]) -> tuple[WebhookSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("[[webhooks]]: expected an array of tables ([[webhooks]] blocks)")
        return ()
    hooks: list[WebhookSettings] = []
    seen: set[str] = set()
    for i, w in enumerate(raw):
        where = f"[[webhooks]] #{i + 1}"
        if not isinstance(w, dict):
            problems.append(f"{where}: expected a table")
            continue
        name = w.get("name") or f"webhook{i + 1}"
        if not isinstance(name, str):
            problems.append(f"{where} name: expected a string")
            continue
        if name in seen:
            problems.append(f"{where}: name {name!r} is used twice; names must be unique")
        seen.add(name)
        url = w.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.append(f"{where} url: expected an http:// or https:// URL")
            continue
        secret = w.get("secret") or env.get(f"TGWATCH_WEBHOOK_{str(name).upper()}_SECRET", "")
        if not isinstance(secret, str) or len(secret) < 16:
            problems.append(
                f"{where} secret: expected at least 16 characters (or set TGWATCH_WEBHOOK_{str(name).upper()}_SECRET)"
            )
            continue
        try:
            hooks.append(
                WebhookSettings(
                    name=str(name),
                    url=url,
                    secret=Secret(secret),
                    labels=_str_list(w.get("labels", [])),
                    channels=_str_list(w.get("channels", [])),
                    min_confidence=_unit_float(w.get("min_confidence", 0.0)),
                    terms=_str_list(w.get("terms", [])),
                )
            )
        except ValueError as e:
            problems.append(f"{where}: {e}")
    return tuple(hooks)


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `path` (or $TGWATCH_CONFIG, or defaults) and the environment.

    Raises ConfigError listing every problem found.
    """
    env = os.environ if env is None else env
    path = path or env.get("TGWATCH_CONFIG") or None
    raw: dict[str, Any] = {}
    problems: list[str] = []
    source = "<defaults>"
    if path:
        p = Path(path).expanduser()
        source = str(p)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{p}: no such config file; copy config/example.toml and edit it"]) from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError([f"{p}: cannot read the config file ({e})"]) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{p}: not valid TOML: {e}"]) from None
    sections: dict[str, Any] = {}
    for key in raw:
        if key not in SECTIONS and key != "webhooks":
            hint = difflib.get_close_matches(key, list(SECTIONS) + ["webhooks"], n=1)
            problems.append(f"[{key}]: unknown section" + (f"; did you mean [{hint[0]}]?" if hint else ""))
    for name, cls in SECTIONS.items():
        section_raw = raw.get(name, {})
        if not isinstance(section_raw, dict):
            problems.append(f"[{name}]: expected a table of keys")
            section_raw = {}
        sections[name] = _build_section(name, cls, section_raw, env, problems)
    webhooks = _build_webhooks(raw.get("webhooks"), env, problems)
    t = sections["telegram"]
    if (t.api_id == 0) != (not t.api_hash):
        problems.append("[telegram] api_id and api_hash: set both or neither (from my.telegram.org)")
    if t.server_dc_id and not t.server_host:
        problems.append("[telegram] server_host: required when server_dc_id is set")
    if t.server_rsa_key_file and not t.server_rsa_key_file.is_file():
        problems.append(f"[telegram] server_rsa_key_file: no such file {t.server_rsa_key_file}")
    if problems:
        raise ConfigError(problems)
    return Settings(**sections, webhooks=webhooks, source=source)
