"""Crash-safety soak: a real `tgwatch run --replay` process, killed again and again, loses nothing.

The test writes a replay of thousands of posts (with edits and deletions), starts the service
delivering to a webhook receiver on 127.0.0.1, and kills it with SIGKILL at random moments
(then with SIGTERM, timing the drain against [run] grace_s), restarting it each time, then lets
a final run finish. At the end:
- every post of the replay is stored exactly once, with exactly the versions its text went through;
- every alert that should exist (one per announcement per webhook) was received;
- no announcement was alerted under two idempotency keys; a key received more than once is a
  resend after a kill between send and commit, which the receiver deduplicates (counted, printed);
- nothing is left pending and `PRAGMA integrity_check` is ok.

Short form in the normal suite; `TGWATCH_SOAK_LONG=1` (make test-long) runs the long form.
Both print their figures with `-s`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.detection import load_detector
from bot.replay import channel_id_for
from bot.webhooks import verify

pytestmark = pytest.mark.soak

LONG = os.environ.get("TGWATCH_SOAK_LONG") == "1"
TGWATCH = str(Path(sys.executable).with_name("tgwatch"))
SECRET = "soak-secret-0123456789abcdef"
GRACE_S = 3.0

ANNOUNCEMENTS = [
    "Александр Лукашенко помиловал {n} осуждённых. Указ подписан сегодня.",
    "Глава государства помиловал {n} человек, осуждённых за экстремизм.",
    "Президент подписал указ о помиловании {n} осуждённых.",
]
NEWS = [
    "Уборочная кампания в районе {n}: намолочено {n} тысяч тонн зерна.",
    "В Минске прошло совещание по вопросам ЖКХ, обсуждены {n} пунктов.",
    "Погода на выходные: до {n} градусов тепла, без осадков.",
]


class Receiver:
    """A webhook endpoint on loopback that records every delivery (and checks its signature)."""

    def __init__(self, delay_s: float = 0.0):
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if delay_s:
                    time.sleep(delay_s)
                ok = verify(SECRET, body, self.headers.get("X-Tgwatch-Signature", ""))
                data = json.loads(body)
                with receiver.lock:
                    receiver.bad_signatures += not ok
                    receiver.deliveries.append({"key": self.headers.get("Idempotency-Key"), **data})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_replay(path: Path, n_posts: int, rng: random.Random) -> dict:
    """Posts over 20 channels, ~10% announcements, ~15% edited (some turning into announcements),
    ~3% deleted. Returns the expected end state."""
    lines: list[dict] = []
    texts: dict[tuple[int, int], list[str]] = {}
    deleted: set[tuple[int, int]] = set()
    next_id: Counter = Counter()
    for i in range(n_posts):
        ch = f"soak_chan_{rng.randrange(20)}"
        next_id[ch] += 1
        mid = next_id[ch]
        pool = ANNOUNCEMENTS if rng.random() < 0.1 else NEWS
        text = rng.choice(pool).format(n=i + 1)
        key = (channel_id_for(ch), mid)
        texts[key] = [text]
        lines.append({"channel": ch, "message_id": mid, "date": "2025-09-11T12:00:00+00:00", "text": text})
        if rng.random() < 0.15 and len(lines) > 5:  # edit a recent post
            prev = rng.choice(lines[-5:])
            if prev.get("event", "new") != "delete":
                pkey = (channel_id_for(prev["channel"]), prev["message_id"])
                new_text = rng.choice(ANNOUNCEMENTS if rng.random() < 0.3 else NEWS).format(n=i + 1000)
                if new_text != texts[pkey][-1]:
                    texts[pkey].append(new_text)
                    edit_n = len(texts[pkey])
                    lines.append({**{k: prev[k] for k in ("channel", "message_id", "date")}, "event": "edit",
                                  "text": new_text, "edit_date": f"2025-09-11T13:{edit_n:02d}:00+00:00"})
        if rng.random() < 0.03:
            lines.append({"event": "delete", "channel": ch, "message_ids": [mid]})
            deleted.add(key)
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return {"texts": texts, "deleted": deleted, "lines": len(lines)}


def write_config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "soak.toml"
    cfg.write_text(
        f'[database]\npath = "{tmp_path / "soak.db"}"\n'
        f"[run]\ngrace_s = {GRACE_S}\nlog_level = \"WARNING\"\n"
        "[delivery]\nglobal_rate_per_s = 500\nbackoff_base_s = 0.2\nbackoff_max_s = 1\nmax_attempts = 1000\n"
        f'[[webhooks]]\nname = "soak"\nurl = "{url}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    return cfg


def start(cfg: Path, replay: Path, *, exit_when_done: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGWATCH_")}
    args = [TGWATCH, "--config", str(cfg), "run", "--replay", str(replay)] + (["--exit-when-done"] if exit_when_done else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_running(heartbeat: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Poll until the service's first heartbeat (written after its signal handlers are installed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not heartbeat.exists():
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def expected_alerts(texts: dict) -> set[tuple[int, int]]:
    """Posts that were an announcement in at least one version: each must be alerted once."""
    detector = load_detector()
    return {key for key, versions in texts.items() if any(detector.detect(t).is_positive for t in versions)}


def check_end_state(db_path: Path, plan: dict, receiver: Receiver) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = plan["texts"]
        stored = {(c, m): v for c, m, v in conn.execute("SELECT channel_id, message_id, version FROM posts")}
        assert set(stored) == set(texts), "every replayed post stored, nothing else"
        versions: dict = defaultdict(list)
        for c, m, v, t in conn.execute("SELECT channel_id, message_id, version, text FROM post_versions "
                                       "ORDER BY channel_id, message_id, version"):
            versions[(c, m)].append(t)
        wrong = [k for k in texts if versions[k] != texts[k]]
        assert not wrong, f"{len(wrong)} posts with wrong versions, e.g. {wrong[0]}: {versions[wrong[0]]} != {texts[wrong[0]]}"
        deleted = {(c, m) for c, m in conn.execute("SELECT channel_id, message_id FROM posts WHERE deleted_at IS NOT NULL")}
        assert deleted == plan["deleted"]
        status = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
        assert set(status) <= {"sent", "skipped"}, f"outbox not fully delivered: {status}"
        # 'skipped' only for a pending follow-up merged into a newer one (the bot's follow-up rules).
        assert not conn.execute("SELECT 1 FROM outbox WHERE status = 'skipped' AND "
                                "(kind != 'followup' OR last_error != 'superseded')").fetchall()
        sent_keys = {str(r) for (r,) in conn.execute("SELECT random_id FROM outbox WHERE status = 'sent'")}
    finally:
        conn.close()
    alerts = [d for d in receiver.deliveries if d.get("event") == "alert.created"]
    keys_by_post: dict = defaultdict(set)
    for d in alerts:
        keys_by_post[(d["channel"]["id"], d["post"]["message_id"])].add(d["key"])
    want = expected_alerts(texts)
    assert set(keys_by_post) == want, (f"missing {len(want - set(keys_by_post))}, "
                                       f"unexpected {len(set(keys_by_post) - want)}")
    twice = {k: ks for k, ks in keys_by_post.items() if len(ks) > 1}
    assert not twice, f"{len(twice)} announcements alerted under two idempotency keys"
    received_keys = Counter(d["key"] for d in receiver.deliveries)
    assert sent_keys <= set(received_keys), "a row marked sent was never received"
    assert receiver.bad_signatures == 0
    return {"alerts": len(want), "deliveries": len(receiver.deliveries),
            "resent_same_key": sum(n - 1 for n in received_keys.values() if n > 1)}


def test_sigkill_soak(tmp_path):
    rng = random.Random(int(os.environ.get("TGWATCH_SOAK_SEED", "7")))
    n_posts, kills = (12_000, 40) if LONG else (2_000, 8)
    replay = tmp_path / "soak.jsonl"
    plan = write_replay(replay, n_posts, rng)
    started = time.monotonic()
    with Receiver(delay_s=0.002) as receiver:
        cfg = write_config(tmp_path, receiver.url)
        survived = finished_early = 0
        for _ in range(kills):
            proc = start(cfg, replay, exit_when_done=True)
            try:
                proc.wait(timeout=rng.uniform(0.3, 2.5))
                finished_early += 1  # it completed before the kill: fine, next round starts again
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                survived += 1
            proc.communicate(timeout=30)
        code, err = finish(start(cfg, replay, exit_when_done=True))
        assert code == 0, err[-3000:]
        figures = check_end_state(tmp_path / "soak.db", plan, receiver)
    print(f"\nSIGKILL soak: {plan['lines']} replay events ({n_posts} posts), {survived} kills survived "
          f"({finished_early} runs finished first), {figures['alerts']} alerts all received once by key, "
          f"{figures['resent_same_key']} same-key resends deduplicated, integrity ok, "
          f"{time.monotonic() - started:.0f} s")


def test_sigterm_drains_within_grace(tmp_path):
    rng = random.Random(11)
    n_posts, terms = (6_000, 12) if LONG else (1_000, 3)
    replay = tmp_path / "soak.jsonl"
    plan = write_replay(replay, n_posts, rng)
    drains: list[float] = []
    before_ready = 0
    # A slow receiver keeps a backlog so that SIGTERM finds delivery busy.
    with Receiver(delay_s=0.05) as receiver:
        cfg = write_config(tmp_path, receiver.url)
        for _ in range(terms):
            (tmp_path / "heartbeat").unlink(missing_ok=True)
            proc = start(cfg, replay, exit_when_done=False)
            # Signal a running service, not one still importing: start-up can take seconds on a
            # loaded machine, and a signal before the handlers exist only tests Python's default.
            wait_until_running(tmp_path / "heartbeat", proc)
            time.sleep(rng.uniform(0.2, 1.5))
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code, err = finish(proc, timeout=GRACE_S + 30)
            if code == -signal.SIGTERM:
                # Still starting (imports, migrations) when the signal came: Python's default action
                # ends it at once; every write is transactional, so that loses nothing either.
                before_ready += 1
                continue
            drains.append(time.monotonic() - t0)
            assert code == 0, err[-3000:]
            assert "Traceback" not in err
        code, err = finish(start(cfg, replay, exit_when_done=True))
        assert code == 0, err[-3000:]
        figures = check_end_state(tmp_path / "soak.db", plan, receiver)
    # Drain stops starting sends at grace_s; the process also closes the database and exits.
    # The margin is for interpreter shutdown on a loaded 2-core machine (CI runs other tests
    # beside it); a service that ignored the grace period would take the whole backlog.
    assert drains and max(drains) <= GRACE_S + 5.0, drains
    print(f"\nSIGTERM soak: {len(drains)} stops ({before_ready} more landed during start-up), drain+exit took {min(drains):.2f}-{max(drains):.2f} s "
          f"(grace {GRACE_S:.0f} s), {figures['alerts']} alerts all received, "
          f"{figures['resent_same_key']} same-key resends")
