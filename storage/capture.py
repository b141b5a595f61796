"""Plain sqlite3 statements for the capture writer (handlers/capture.py), run on the connection's
thread inside a job of Database.write_job/run_job: the same SQL as storage.posts, detections,
channels and outbox, minus the thread hop per statement. Every function needs a transaction.
"""

from __future__ import annotations

import json

import os
import sqlite3
from dataclasses import dataclass
from typing import Iterable

from bot.models import Detection, Post, Subscriber, Subscription
from storage import channel_sync, detections, posts
from storage.bot_queries import SUPERSEDE_WHERE, supersede_args
from storage.db import _error
from storage.subscribers import _subscriber, _subscription

Conn = sqlite3.Connection


def translate(e: BaseException, path: str) -> BaseException:
    """A sqlite3 error as the StorageError Database.execute would raise; IntegrityError and anything
    else unchanged."""
    if isinstance(e, sqlite3.Error) and not isinstance(e, sqlite3.IntegrityError):
        return _error(e, path)
    return e


class Savepoint:
    """One post's statements inside the batch transaction: undone alone if they fail."""

    def __init__(self, conn: Conn, name: str = "capture_post"):
        self.conn = conn
        self.name = name

    def __enter__(self) -> None:
        self.conn.execute(f"SAVEPOINT {self.name}")

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.conn.execute(f"RELEASE {self.name}")
            return False
        if not self.conn.in_transaction:
            return False  # SQLite already rolled the whole transaction back (disk full, I/O error)
        self.conn.execute(f"ROLLBACK TO {self.name}")
        self.conn.execute(f"RELEASE {self.name}")
        return False

    @staticmethod
    def batch_lost(conn: Conn) -> bool:
        return not conn.in_transaction


# --- posts, channels, detections -------------------------------------------------------------

def ensure_channels(conn: Conn, seen: list[tuple[int, str | None, str]]) -> None:
    """storage.channels.ensure for (channel_id, username, now) each."""
    conn.executemany(
        """INSERT INTO channels(channel_id, username, added_at) VALUES (?, ?, ?)
           ON CONFLICT(channel_id) DO UPDATE SET username = coalesce(channels.username, excluded.username)""",
        seen,
    )


def get_post(conn: Conn, channel_id: int, message_id: int) -> posts.StoredPost | None:
    r = conn.execute(posts._SELECT + " WHERE p.channel_id = ? AND p.message_id = ?", (channel_id, message_id)).fetchone()
    return posts._post(r) if r else None


def insert_post(conn: Conn, post: Post, now: str, source: str) -> None:
    conn.execute(posts._INSERT_SQL, posts._insert_row(post, now, source))
    conn.execute(posts._VERSION_SQL, posts._version_row(post, 1, now))


class BulkMismatch(Exception):
    """Rows written in bulk were not what was expected: undo and capture post by post."""


# --- many new posts in a few statements (handlers/capture_post.capture_many) ----------------
# The sqlite3 module gives the GIL up around every statement it steps; on a busy event loop each
# time back costs a wait (benchmarks/bench_load.py: capture batches ran 2-3x slower than alone).
# A multi-row INSERT is one step for all its rows, triggers included.

_MANY_ROWS = 500  # rows per statement: 16 columns x 500 stays far below SQLite's 32,766 variables


def _values(sql: str, n: int) -> str:
    """`sql` (an INSERT ending in one VALUES (...) group) with n groups."""
    head, group = sql.rsplit("VALUES", 1)
    return f"{head}VALUES {', '.join([group.strip()] * n)}"


def _rows_many(conn: Conn, sql: str, rows: list[tuple]) -> int:
    """Insert `rows` with multi-row statements; returns the rows inserted (an ignored one counts 0)."""
    done = 0
    for i in range(0, len(rows), _MANY_ROWS):
        part = rows[i:i + _MANY_ROWS]
        done += conn.execute(_values(sql, len(part)), [v for row in part for v in row]).rowcount
    return done


def stored_keys(conn: Conn, keys: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (channel_id, message_id) are stored posts."""
    found: set[tuple[int, int]] = set()
    for i in range(0, len(keys), _MANY_ROWS):
        part = keys[i:i + _MANY_ROWS]
        found.update(conn.execute(
            "SELECT channel_id, message_id FROM posts WHERE (channel_id, message_id) IN "
            f"(VALUES {', '.join(['(?, ?)'] * len(part))})", [v for key in part for v in key]).fetchall())
    return found


def insert_new_posts(conn: Conn, new: list[tuple[Post, Detection, str, str]]) -> list[int] | None:
    """insert_post + record_detection (version 1) for (post, detection, now, source) known not to be
    stored, in a few statements; returns their detection_ids in order, or None when the rows did not
    go in as expected (the caller undoes its savepoint and captures them one by one)."""
    n = len(new)
    _rows_many(conn, posts._INSERT_SQL, [posts._insert_row(p, now, src) for p, _, now, src in new])
    if _rows_many(conn, posts._VERSION_SQL, [posts._version_row(p, 1, now) for p, _, now, _ in new]) != n:
        return None
    ids: list[int] = []
    for i in range(0, n, _MANY_ROWS):
        part = new[i:i + _MANY_ROWS]
        cur = conn.execute(_values(detections._RECORD_SQL, len(part)),
                           [v for p, d, now, _ in part for v in detections._row(p.channel_id, p.message_id, 1, d, now)])
        if cur.rowcount != len(part):
            return None
        # One statement's rows take consecutive rowids after the largest (detection_id is the rowid,
        # no AUTOINCREMENT): checked on both ends, never assumed.
        first, last = cur.lastrowid - len(part) + 1, cur.lastrowid
        ends = conn.execute("SELECT channel_id, message_id FROM detections WHERE detection_id IN (?, ?) "
                            "ORDER BY detection_id", (first, last)).fetchall()
        want = [(part[0][0].channel_id, part[0][0].message_id), (part[-1][0].channel_id, part[-1][0].message_id)]
        if [tuple(r) for r in ends] != (want if len(part) > 1 else want[:1]):
            return None
        ids.extend(range(first, last + 1))
    return ids


def add_version(conn: Conn, post: Post, version: int, now: str) -> None:
    conn.execute(posts._EDIT_SQL, posts._edit_row(post, version, now))
    conn.execute(posts._VERSION_SQL, posts._version_row(post, version, now))


def touch(conn: Conn, post: Post) -> None:
    conn.execute(posts._TOUCH_SQL, posts._touch_row(post))


def advance_live_cursor(conn: Conn, channel_id: int, first_id: int, last_id: int) -> bool:
    """storage.channel_sync.advance_if_contiguous."""
    cur = conn.execute(channel_sync.ADVANCE_IF_CONTIGUOUS_SQL, (last_id, channel_id, first_id, last_id))
    return cur.rowcount > 0


def advance_channels(conn: Conn, reached: list[tuple[int, int, str, str]]) -> None:
    """storage.channels.advance for (channel_id, top message_id, posted_at, now) each."""
    conn.executemany(
        """UPDATE channels SET
             last_seen_message_id = max(last_seen_message_id, ?),
             last_capture_at = ?,
             last_post_at = CASE WHEN last_post_at IS NULL OR last_post_at < ? THEN ? ELSE last_post_at END
           WHERE channel_id = ?""",
        [(top, now, at, at, cid) for cid, top, at, now in reached],
    )


def latest_detection(conn: Conn, channel_id: int, message_id: int) -> tuple[int, Detection] | None:
    r = conn.execute(
        "SELECT * FROM detections WHERE channel_id = ? AND message_id = ? ORDER BY detection_id DESC LIMIT 1",
        (channel_id, message_id),
    ).fetchone()
    return (r["detection_id"], detections._detection(r)) if r else None


def record_detection(conn: Conn, channel_id: int, message_id: int, version: int, d: Detection, now: str) -> int:
    cur = conn.execute(detections._RECORD_SQL, detections._row(channel_id, message_id, version, d, now))
    if cur.rowcount == 1:
        return cur.lastrowid
    return conn.execute(
        "SELECT detection_id FROM detections WHERE channel_id = ? AND message_id = ? AND version = ? AND detector_version = ?",
        (channel_id, message_id, version, d.detector_version),
    ).fetchone()[0]


def detection(conn: Conn, detection_id: int) -> Detection | None:
    r = conn.execute("SELECT * FROM detections WHERE detection_id = ?", (detection_id,)).fetchone()
    return detections._detection(r) if r else None


def version_text(conn: Conn, channel_id: int, message_id: int, version: int) -> tuple[str, str | None] | None:
    """(text, media) of one stored version."""
    r = conn.execute(
        "SELECT text, media FROM post_versions WHERE channel_id = ? AND message_id = ? AND version = ?",
        (channel_id, message_id, version),
    ).fetchone()
    return (r[0], r[1]) if r else None


# --- subscribers -----------------------------------------------------------------------------

def subscription_generation(conn: Conn) -> int | None:
    """Changes on every write to subscribers/subscriptions (triggers of migration 0700)."""
    r = conn.execute("SELECT generation FROM cache_generations WHERE name = 'subscriptions'").fetchone()
    return None if r is None else r[0]


def receiving(conn: Conn) -> list[tuple[Subscriber, Subscription]]:
    """Subscribers a new post may concern: active ones, and paused ones (their alerts are held), with
    their filters (compiled once per subscription generation by handlers.fanout)."""
    rows = conn.execute(
        """SELECT s.*, f.labels, f.channel_ids, f.min_confidence, f.terms, f.mode, f.digest_hour, f.timezone
           FROM subscribers s JOIN subscriptions f USING (subscriber_id)
           WHERE s.status IN ('active', 'paused') ORDER BY s.subscriber_id"""
    ).fetchall()
    return [(_subscriber(r), _subscription(r)) for r in rows]


# --- outbox ----------------------------------------------------------------------------------

def alert_states(conn: Conn, channel_id: int, message_id: int, first_id: int = 0,
                 last_id: int = 2**63 - 1) -> dict[int, str]:
    """subscriber_id -> status of this post's alert rows, for subscribers first_id..last_id."""
    return dict(conn.execute(
        "SELECT subscriber_id, status FROM outbox WHERE channel_id = ? AND message_id = ? AND kind = 'alert' "
        "AND subscriber_id BETWEEN ? AND ?",
        (channel_id, message_id, first_id, last_id),
    ).fetchall())


RANDOM_ID_ROOM = 2**20 - 1


def random_base() -> int:
    """Rows of one chunk take random_ids base+1 .. base+n (n <= RANDOM_ID_ROOM): non-zero 63-bit
    numbers (see storage.outbox.new_random_id) from a random 43-bit base, consecutive so that a
    chunk's rows land side by side in the random_id index instead of on n random pages. A clash
    with an existing id fails the insert (IntegrityError, nothing written; the chunk is retried
    with a new base), never drops a row silently."""
    return (int.from_bytes(os.urandom(6), "big") >> 5) << 20


_OUTBOX_SQL = """INSERT INTO outbox(subscriber_id, destination, kind, dedupe_key, channel_id, message_id,
     detection_id, payload, random_id, status, next_attempt_at, created_at)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (subscriber_id, dedupe_key) DO NOTHING"""


def insert_outbox(conn: Conn, rows: Iterable[tuple]) -> int:
    """Rows as (subscriber_id, destination, kind, dedupe_key, channel_id, message_id, detection_id, payload,
    random_id, status, next_attempt_at, created_at); an existing (subscriber, dedupe_key) is skipped.
    Returns how many were added."""
    return max(conn.executemany(_OUTBOX_SQL, rows).rowcount, 0)


def supersede_followups(conn: Conn, subscriber_id: int, channel_id: int, message_id: int, now: str) -> list[str]:
    """storage.bot_queries.supersede_followups: returns the payloads of the follow-ups it replaced."""
    args = supersede_args(subscriber_id, channel_id, message_id)
    rows = conn.execute(f"SELECT payload FROM outbox WHERE {SUPERSEDE_WHERE} ORDER BY outbox_id", args).fetchall()
    if rows:
        conn.execute(f"UPDATE outbox SET status = 'skipped', last_error = 'superseded', next_attempt_at = ? "
                     f"WHERE {SUPERSEDE_WHERE}", (now, *args))
    return [r[0] or "{}" for r in rows]


# --- fan-out intents and their recipients (migrations 0800, 1000) ----------------------------

@dataclass(frozen=True)
class FanoutRow:
    fanout_id: int
    channel_id: int
    message_id: int
    version: int
    detection_id: int
    changes: str | None
    created_at: str
    done_through: int
    planned: bool


def add_fanout(conn: Conn, channel_id: int, message_id: int, version: int, detection_id: int,
               changes: str | None, now: str) -> int:
    return conn.execute(
        "INSERT INTO alert_fanouts(channel_id, message_id, version, detection_id, changes, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (channel_id, message_id, version, detection_id, changes, now),
    ).lastrowid


def has_alerts(conn: Conn, channel_id: int, message_id: int) -> bool:
    return conn.execute(
        "SELECT 1 FROM outbox WHERE channel_id = ? AND message_id = ? AND kind = 'alert' LIMIT 1",
        (channel_id, message_id),
    ).fetchone() is not None


def pending_fanouts(conn: Conn) -> list[FanoutRow]:
    return [FanoutRow(*r[:8], planned=bool(r[8])) for r in conn.execute(
        "SELECT fanout_id, channel_id, message_id, version, detection_id, changes, created_at, done_through, "
        "planned FROM alert_fanouts ORDER BY fanout_id"
    ).fetchall()]


def add_recipients(conn: Conn, fanout_id: int, by_reason: dict[str | None, list[int]]) -> None:
    """Every recipient of a fan-out (subscriber_ids by reason) and the intent marked planned: all in the
    caller's transaction, so the intent is planned with all of its recipients or not at all."""
    # One INSERT ... SELECT over a JSON array per reason: SQLite loops over the ids in C with the
    # GIL released (~0.7 us a row), where executemany binds each row in Python (~2.7 us).
    for reason, ids in by_reason.items():
        conn.execute("INSERT INTO alert_recipients(fanout_id, subscriber_id, reason) "
                     "SELECT ?, value, ? FROM json_each(?)", (fanout_id, reason, json.dumps(ids)))
    conn.execute("UPDATE alert_fanouts SET planned = 1 WHERE fanout_id = ?", (fanout_id,))


def recipients(conn: Conn, fanout_id: int, after: int) -> list[tuple[int, str | None]]:
    """A planned fan-out's (subscriber_id, reason) with subscriber_id > after, in order."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT subscriber_id, reason FROM alert_recipients WHERE fanout_id = ? AND subscriber_id > ? "
        "ORDER BY subscriber_id", (fanout_id, after),
    )]


def fanout_progress(conn: Conn, fanout_id: int, done_through: int | None) -> None:
    """Every subscriber up to `done_through` is handled; None: all are, the intent is fulfilled (and a
    trigger deletes its recipient rows, one range of the alert_recipients b-tree)."""
    if done_through is None:
        conn.execute("DELETE FROM alert_fanouts WHERE fanout_id = ?", (fanout_id,))
    else:
        conn.execute("UPDATE alert_fanouts SET done_through = ? WHERE fanout_id = ?", (done_through, fanout_id))
