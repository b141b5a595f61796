"""Import a Telegram Desktop channel export (`result.json`) through the capture pipeline.

Two streaming passes (ijson, bounded memory whatever its size):
1. validate: every message must parse and convert; a malformed or truncated file fails here,
   naming the message and line where it broke, before anything is written; what was read is
   spooled to a temporary file (handlers.import_spool);
2. store, reading the spool (or, if it could not be written, parsing the file again): batches go
   through handlers.posts_bulk.handle_posts_bulk(..., source="import") (per post exactly
   handle_post's effect; with alerts asked, handle_post itself), so detections and versions are
   exactly what live capture records; big imports detect in worker processes (detect_pool).
Importing the same file again changes nothing (handle_post is idempotent). If pass 2 itself is
interrupted (disk full, Ctrl-C) the posts stored so far are complete posts; re-running the import
finishes the rest.
"""

from __future__ import annotations

import logging
from collections import deque
from contextlib import nullcontext
from itertools import islice
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import UserError
from bot.models import Channel, Detection, Post
from handlers.deps import Deps
from handlers.detect_pool import MIN_POSTS, DetectionPool, worker_count
from handlers.import_spool import Spool
from handlers.posts import storable
from handlers.posts_bulk import handle_posts_bulk
from handlers.tdesktop_format import (
    CHANNEL_TYPES, CountingReader, Item, RawCounts, bare_channel_id, group_albums, read_header, to_item, to_post,
)
from storage import channels, posts
from storage.research import fold_text, index_pending

log = logging.getLogger(__name__)

BATCH_POSTS = 2000  # posts per storage transaction: 2,000 imports ~4% faster than 500 (fewer commits; 4 runs each)
INDEX_POSTS = 5000
# Batches handed to the detection workers before the first of them is stored: with one, the
# workers sat idle whenever storing a batch took longer than detecting the next (2 cores, ~70% busy).
AHEAD = 3
_MIN_BYTES = 200  # start the pool before pass 1 for files of MIN_POSTS * this bytes or more (pass 1 decides)
_BUF = 16 * 1024  # small parse buffer: the reported line of an error is then within ~16 KB


@dataclass(frozen=True)
class ImportResult:
    channel_id: int
    channel_name: str | None
    messages: int  # message entries in the file
    posts: int  # posts after albums were merged
    new: int
    edited: int
    unchanged: int
    service_skipped: int
    unsupported_skipped: int
    local_dates: int
    alerts_queued: int


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path} does not exist; give the result.json of a Telegram Desktop export") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder; give the result.json inside it") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from e


def _items(path: Path, tz: ZoneInfo, counts: RawCounts) -> Iterator[Item]:
    """Every post-worthy message in file order; raises UserError naming where the file broke."""
    import ijson

    with _open(path) as raw:
        reader = CountingReader(raw)
        index, last_id = 0, None
        try:
            for msg in ijson.items(reader, "messages.item", buf_size=_BUF):
                index += 1
                try:
                    got = to_item(msg, tz)
                except (ValueError, OverflowError) as e:
                    raise UserError(
                        f"{path}: message #{index} (around line {reader.lines_read + 1}) cannot be read: {e}"
                    ) from e
                last_id = msg.get("id") if isinstance(msg, dict) else None
                counts.messages += 1
                if got == "service":
                    counts.service += 1
                elif got == "unsupported":
                    counts.unsupported += 1
                else:
                    counts.local_dates += int(got.local_date)
                    yield got
        except UnicodeDecodeError as e:
            raise UserError(
                f"{path} is not UTF-8 text near byte {reader.bytes_read} (a damaged or re-encoded file); "
                "nothing was imported; export the channel again"
            ) from e
        except ijson.JSONError as e:
            where = f"after message #{index} (id {last_id})" if index else "before the first message"
            detail = (str(e).strip().splitlines() or ["parse error"])[0]
            raise UserError(
                f"{path} is malformed or truncated near line {reader.lines_read + 1} "
                f"(byte {reader.bytes_read}), {where}: {detail}. Nothing was imported; export the channel again."
            ) from e


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {name!r}; use an IANA name such as Europe/Minsk or UTC") from None


async def import_tdesktop(
    path: str | Path, deps: Deps, *, alert: bool = False, username: str | None = None, local_tz: str = "UTC",
    progress: Callable[[int], None] | None = None, index_now: bool = False,
) -> ImportResult:
    """Validate then import a channel export. Raises UserError (nothing written) for a bad file.

    `username` records the channel's @name (exports do not carry it); `local_tz` is used only
    for old exports whose messages lack date_unixtime. `progress` gets the number of posts stored.
    Full-text indexing is deferred unless `index_now`: imported posts are marked for the index
    like live ones, and handlers.search.catch_up_index (run by `tgwatch import` right after) or
    refresh_index_in_steps (the service, every minute; every search and backup) catches it up. Indexing
    is ~40% of an import's database time; deferred, it runs in big batches after the import.
    """
    path = Path(path)
    tz = _zone(local_tz)
    with _open(path) as raw:
        header = read_header(raw)
    if header.whole_account:
        raise UserError(
            f"{path} is a whole-account export; export the channel alone "
            "(open the channel › ⋮ › Export chat history, format JSON) and import that result.json"
        )
    if header.id is None:
        raise UserError(f"{path} has no chat id at the top; is it a Telegram Desktop result.json?")
    if header.type not in CHANNEL_TYPES:
        raise UserError(f"{path} is an export of a {header.type or 'chat of unknown type'}, not of a channel")
    channel_id = bare_channel_id(header.id)
    username = await _username(deps, channel_id, username)

    # Without alerts, a big import detects in worker processes; a big file's workers boot while pass 1
    # reads it (dropped after if it holds few posts).
    workers = not alert and worker_count() > 1
    pool = (DetectionPool(deps.detector, worker_count(), stems=index_now)
            if workers and path.stat().st_size >= MIN_POSTS * _MIN_BYTES else None)
    spool = Spool()
    try:
        # Pass 1: the whole file must read cleanly before anything is stored; what it read is spooled.
        first = RawCounts()
        spool.add_all(_items(path, tz, first))
    except BaseException:
        spool.close()
        if pool is not None:
            pool.close()
        raise

    await _remember_channel(deps, channel_id, username, header.name)
    posts_total = new = edited = unchanged = alerts = 0
    if spool.usable:
        counts, items = first, group_albums(spool.items())
    else:
        counts = RawCounts()
        items = group_albums(_items(path, tz, counts))
    # Without alerts, posts go through handle_posts_bulk (the same rows as handle_post, a few
    # executemany per batch) and a big import detects in worker processes, AHEAD batches ahead of
    # storage: batches k..k+AHEAD are detected while batch k-1 is stored.
    candidates = first.messages - first.service - first.unsupported
    if pool is not None and candidates < MIN_POSTS:
        pool.close()
        pool = None
    elif pool is None and workers and candidates >= MIN_POSTS:
        pool = DetectionPool(deps.detector, worker_count(), stems=index_now)
    # A BatchDatabase (storage.direct) commits BATCH_POSTS posts per transaction; a failure rolls back
    # whole posts only. A plain Database commits one transaction per batch too.
    batch = getattr(deps.db, "batch", None)
    pending: deque[tuple[list[Post], Awaitable[dict[str, tuple[Detection, str]]] | None]] = deque()

    stems: dict[str, str] = {}  # folded text -> full-text stems, from the pool, until indexed

    async def store(chunk: list[Post], computed: Awaitable[dict[str, tuple[Detection, str]]] | None,
                    last: bool = False) -> None:
        nonlocal posts_total, new, edited, unchanged, alerts
        found = await computed if computed is not None else {}
        if index_now:
            stems.update((fold_text(text), s) for text, (_, s) in found.items() if s is not None)
        async with batch() if batch is not None else nullcontext():
            results = await handle_posts_bulk(
                chunk, deps, alert=alert, source="import", verdicts={text: d for text, (d, _) in found.items()})
            # FTS5 writes (and later merges) one segment per indexing commit: index every
            # INDEX_POSTS posts, not every batch. Posts not yet indexed are indexed by the next
            # search, import or backup if the import stops in between.
            if index_now and (last or len(stems) >= INDEX_POSTS or not found):
                async with deps.db.transaction():  # joins the batch when there is one
                    await index_pending(deps.db, known=stems)
                stems.clear()
        for result in results:
            new += result.outcome == "new"
            edited += result.outcome == "edited"
            unchanged += result.outcome == "unchanged"
            alerts += result.alerts_queued + result.followups_queued
        posts_total += len(chunk)
        if progress is not None:
            progress(len(chunk))

    try:
        while chunk := [storable(to_post(item, channel_id, username)) for item in islice(items, BATCH_POSTS)]:
            verdicts = pool.submit(await _to_detect(deps, chunk)) if pool is not None else None
            pending.append((chunk, verdicts))
            if len(pending) > (AHEAD if pool is not None else 0):
                await store(*pending.popleft())
        while pending:
            chunk, verdicts = pending.popleft()
            await store(chunk, verdicts, last=not pending)
    finally:
        spool.close()
        if pool is not None:
            pool.close()
    log.info("imported %s: %d posts (%d new, %d edited)", path.name, posts_total, new, edited)
    return ImportResult(
        channel_id=channel_id, channel_name=header.name, messages=counts.messages, posts=posts_total, new=new,
        edited=edited, unchanged=unchanged, service_skipped=counts.service, unsupported_skipped=counts.unsupported,
        local_dates=counts.local_dates, alerts_queued=alerts,
    )


async def _remember_channel(deps: Deps, channel_id: int, username: str | None, title: str | None) -> None:
    """Record the channel's name; a channel that is not watched stays unwatched (status 'removed')."""
    async with deps.db.transaction():
        await channels.upsert(
            deps.db, Channel(channel_id=channel_id, username=username, title=title, status="removed"), deps.clock()
        )


async def _username(deps: Deps, channel_id: int, given: str | None) -> str | None:
    known = await channels.get(deps.db, channel_id)
    if given:
        given = given.strip().lstrip("@").removeprefix("https://t.me/").removeprefix("t.me/")
        if known and known.username and known.username.lower() != given.lower():
            raise UserError(
                f"channel {channel_id} is already known as @{known.username}, not @{given}; leave out --channel"
            )
        by_name = await channels.find(deps.db, given)
        if by_name and by_name.channel_id != channel_id:
            raise UserError(
                f"@{given} is channel {by_name.channel_id}, but this export is of channel {channel_id}; "
                "check that you picked the right export"
            )
        return given
    return known.username if known else None


async def _to_detect(deps: Deps, chunk: list[Post]) -> list[str]:
    """Texts of the posts that will be stored as new or changed (as far as the database says now)."""
    stored = await posts.current_many(deps.db, chunk[0].channel_id, [p.message_id for p in chunk]) if chunk else {}
    return [p.text for p in chunk if (r := stored.get(p.message_id)) is None or (r["text"], r["media"]) != (p.text, p.media)]


def describe(r: ImportResult) -> str:
    """A one-paragraph summary for people."""
    name = r.channel_name or r.channel_id
    text = (
        f"Imported {name} (channel {r.channel_id}): {r.messages} messages -> {r.posts} posts "
        f"({r.new} new, {r.edited} changed, {r.unchanged} already stored); skipped {r.service_skipped} service "
        f"and {r.unsupported_skipped} unsupported messages."
    )
    if r.alerts_queued:
        text += f" Queued {r.alerts_queued} alerts."
    if r.local_dates:
        text += f" {r.local_dates} messages had only local dates (read in the --timezone zone)."
    return text

