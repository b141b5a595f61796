"""Secrets and privacy: no secret, post text or subscriber identity in logs at INFO or above.

The service runs for real (a `tgwatch run --replay` subprocess) with known secret values in
its environment, at INFO and at DEBUG; a second test drives every delivery outcome in-process
and inspects the log records. There is no Docker engine in the test environment, so the image's
non-root user is checked statically from the Dockerfile.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import DeliveryRejected, RetryLater
from handlers.delivery import deliver_due
from handlers.notices import notify_operators
from handlers.posts import handle_deletion, handle_post
from tests.conftest import RecordingSender, make_post

ROOT = Path(__file__).resolve().parent.parent
TGWATCH = str(Path(sys.executable).with_name("tgwatch"))

SECRETS = {
    "TGWATCH_TELEGRAM_API_ID": "2040",
    "TGWATCH_TELEGRAM_API_HASH": "b18441a1ff607e10a989891a5462e627",
    "TGWATCH_TELEGRAM_BOT_TOKEN": "7311946522:AAHx9QpZkL2mWv8Rt3YbNc4JdEf6GhUiOsT",
    "TGWATCH_TELEGRAM_SESSION_STRING": "1BVtsOKEBu3Zr9x2Lq8W5mPcJkT7vYhN0gDfS4aRbQeUoIpXzC6lMnB1wE",
    "TGWATCH_WEBHOOK_NEWSROOM_SECRET": "whsec-Zq81KfPpR2mX7vLcN3tY",
}
SUBSCRIBER_ADDRESSES = ("918273645", "836451927")
OPERATOR = "564738291"


def post_line(i: int, text: str, event: str = "new") -> str:
    return json.dumps({"event": event, "channel": "privacy_chan", "message_id": i, "text": text,
                       "date": "2025-01-01T00:00:00+00:00",
                       **({"edit_date": "2025-01-01T01:00:00+00:00"} if event == "edit" else {})},
                      ensure_ascii=False)


def fragments(i: int) -> str:
    return f"Текстпоста{i}Qx"


def run_service(tmp_path: Path, level: str) -> subprocess.CompletedProcess:
    db = tmp_path / f"{level}.db"
    # Subscribers and an operator that deliveries and notices will concern (no Telegram sender
    # is configured in a replay run, so their rows are retried: the address must not leak).
    conn = sqlite3.connect(db)
    conn.close()
    replay = tmp_path / "r.jsonl"
    lines = []
    for i in range(1, 31):
        text = f"{fragments(i)} Лукашенко помиловал {i} осуждённых." if i % 3 == 0 else f"{fragments(i)} Новости."
        lines.append(post_line(i, text))
    lines.append(post_line(3, f"{fragments(103)} Лукашенко помиловал 4 осуждённых.", "edit"))
    lines.append(json.dumps({"event": "delete", "channel": "privacy_chan", "message_ids": [6]}))
    replay.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tmp_path / "tgwatch.toml"
    config.write_text(
        '[run]\ngrace_s = 2\n[access]\noperators = [%s]\n'
        '[[webhooks]]\nname = "newsroom"\nurl = "http://127.0.0.1:9/hook?token=%s"\n' % (OPERATOR, "urltoken12345678"),
        encoding="utf-8",
    )
    env = {**os.environ, **SECRETS, "TGWATCH_DATABASE_PATH": str(db), "TGWATCH_CONFIG": str(config)}
    r = subprocess.run([TGWATCH, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    for a in SUBSCRIBER_ADDRESSES:
        conn.execute("INSERT INTO subscribers(kind, address, created_at, updated_at) VALUES ('telegram', ?, '2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')", (a,))
        conn.execute("INSERT INTO subscriptions(subscriber_id) SELECT subscriber_id FROM subscribers WHERE address = ?", (a,))
    conn.commit()
    conn.close()
    return subprocess.run([TGWATCH, "--log-level", level, "run", "--replay", str(replay), "--console", "--exit-when-done"],
                          env=env, capture_output=True, text=True, timeout=120)


def leaks(line: str) -> list[str]:
    found = [k for k, v in SECRETS.items() if v in line and k != "TGWATCH_TELEGRAM_API_ID"]
    found += [f"post text {m}" for m in re.findall(r"Текстпоста\d+Qx", line)]
    found += [f"address {a}" for a in (*SUBSCRIBER_ADDRESSES, OPERATOR) if a in line]
    if "urltoken12345678" in line:
        found.append("webhook url token")
    return found


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_service_logs_no_secrets_text_or_subscribers(tmp_path, level):
    r = run_service(tmp_path, level)
    assert r.returncode == 0, r.stderr[-3000:]
    log_lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert any(" INFO " in ln for ln in log_lines), "the service should log something at INFO"
    if level == "DEBUG":
        assert any(" DEBUG " in ln for ln in log_lines)
    for ln in log_lines:
        if " DEBUG " in ln:
            continue
        assert not leaks(ln), f"log line leaks {leaks(ln)}: {ln[:200]}"
    # Secrets are never printed at all, whatever the level or stream.
    for stream in (r.stdout, r.stderr):
        for key, value in SECRETS.items():
            if key != "TGWATCH_TELEGRAM_API_ID":
                assert value not in stream, f"{key} printed"


async def test_delivery_outcomes_log_no_subscriber_identity_or_text(deps, caplog):
    caplog.set_level(logging.DEBUG)
    db = deps.db
    async with db.transaction():
        for sid, address in ((424242, SUBSCRIBER_ADDRESSES[0]), (434343, SUBSCRIBER_ADDRESSES[1])):
            await db.execute("INSERT INTO subscribers(subscriber_id, kind, address, created_at, updated_at) "
                             "VALUES (?, 'telegram', ?, '2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')", (sid, address))
            await db.execute("INSERT INTO subscriptions(subscriber_id) VALUES (?)", (sid,))
    text = f"{fragments(1)} Лукашенко помиловал 14 осуждённых."
    await handle_post(make_post(1, text), deps)
    await handle_post(make_post(1, text + " Дополнено.", edited_at=deps.clock()), deps)
    await handle_deletion(1001, [1], deps)
    await notify_operators(deps, "session", "user", "revoked", "The session was revoked; run `tgwatch login`.")
    sender = RecordingSender()
    sender.fail_with = [DeliveryRejected(f"chat {SUBSCRIBER_ADDRESSES[0]} blocked the bot"),
                        RetryLater("server error", 5), RetryLater("flood", 30, flood=True)]
    for _ in range(4):
        await deliver_due(deps, {"telegram": sender})
        deps.clock.advance(60)
    assert caplog.records
    for rec in caplog.records:
        if rec.levelno < logging.INFO:
            continue
        msg = rec.getMessage()
        assert not leaks(msg), f"{rec.levelname} {rec.name}: {msg}"
        assert "424242" not in msg and "434343" not in msg, f"subscriber id logged: {msg}"


def test_dockerfile_runs_as_non_root_with_healthcheck():
    """No Docker engine here: the image is checked statically."""
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    instr = [(i, ln.split()[0].upper(), ln) for i, ln in enumerate(lines) if ln and not ln.startswith("#")
             and ln.split()[0].isupper()]
    users = [(i, ln.split()[1]) for i, kw, ln in instr if kw == "USER"]
    assert users, "the Dockerfile must switch to a non-root USER"
    last_user_at, user = users[-1]
    assert user.split(":")[0] not in ("root", "0"), "the image must not run as root"
    last_install = max(i for i, kw, ln in instr if kw == "RUN")
    assert last_user_at > last_install, "USER must come after the last RUN (install) step"
    assert any(kw == "HEALTHCHECK" and "tgwatch" in ln and "health" in ln for i, kw, ln in instr)
    entry = [ln for i, kw, ln in instr if kw == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1].split(None, 1)[1]) == ["tgwatch"]
    uid_line = next(ln for ln in lines if "useradd" in ln)
    assert re.search(r"--uid\s+(\d+)", uid_line) and int(re.search(r"--uid\s+(\d+)", uid_line).group(1)) != 0
