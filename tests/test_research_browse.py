"""`tgwatch browse`: Datasette over a public copy; private tables unreachable, even through SQL."""

from __future__ import annotations

import sqlite3

import pytest
from tests.research_support import make_deps, seed

from bot.browse import DB_NAME, make_datasette, metadata
from handlers.backup import public_copy
from storage import subscribers

PRIVATE = ("subscribers", "subscriptions", "outbox", "events")


@pytest.fixture
async def ds(tmp_path):
    deps = await make_deps(tmp_path)
    async with deps.db.transaction():
        await subscribers.upsert(deps.db, "telegram", "555000111", deps.clock())
        await deps.db.execute("CREATE TABLE audit_log (who TEXT)")  # a private table someone adds later
        await deps.db.execute("INSERT INTO audit_log VALUES ('operator-secret')")
    await seed(deps)
    (tmp_path / "public").mkdir()
    copy = await public_copy(deps.db, tmp_path / "public" / f"{DB_NAME}.db")
    await deps.db.close()
    datasette = make_datasette(copy.path)
    await datasette.invoke_startup()
    return datasette, copy.path


async def test_public_tables_and_views_are_served_with_metadata(ds):
    datasette, _ = ds
    r = await datasette.client.get(f"/{DB_NAME}/posts_latest.json?_shape=objects&_facet=label")
    assert r.status_code == 200
    data = r.json()
    assert len(data["rows"]) == 5 and {"label", "permalink", "search_id"} <= set(data["rows"][0])
    assert "label" in data["facet_results"]
    page = await datasette.client.get(f"/{DB_NAME}/posts_latest")
    assert page.status_code == 200 and "One row per post" in page.text and "posted_at (date)" in page.text
    assert (await datasette.client.get(f"/{DB_NAME}/post_versions_view.json")).json()["rows"]


async def test_full_text_search_works_in_datasette(ds):
    datasette, _ = ds
    r = await datasette.client.get(f"/{DB_NAME}/posts_latest.json?_search=погода&_shape=objects")
    assert [row["message_id"] for row in r.json()["rows"]] == [11]
    raw = await datasette.client.get(f"/{DB_NAME}/search.json?q=помилов&_shape=objects")
    assert len(raw.json()["rows"]) == 1


@pytest.mark.parametrize("table", [*PRIVATE, "audit_log"])
async def test_private_tables_cannot_be_reached(ds, table):
    datasette, path = ds
    assert (await datasette.client.get(f"/{DB_NAME}/{table}")).status_code == 404
    r = await datasette.client.get(f"/{DB_NAME}.json", params={"sql": f"select * from {table}"})
    assert r.status_code == 400 and "no such table" in r.text
    conn = sqlite3.connect(path)
    try:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
        assert table not in names
        assert b"555000111" not in path_bytes(path) and b"operator-secret" not in path_bytes(path)
    finally:
        conn.close()


async def test_schema_and_tables_listing_show_no_private_data(ds):
    datasette, _ = ds
    listing = (await datasette.client.get(f"/{DB_NAME}.json")).json()
    names = {t["name"] for t in listing["tables"]} | {v["name"] for v in listing.get("views", [])}
    assert not names & {*PRIVATE, "audit_log"}
    r = await datasette.client.get(f"/{DB_NAME}.json", params={"sql": "select sql from sqlite_master", "_shape": "array"})
    assert "access_hash" not in r.text and "subscriber" not in r.text
    assert (await datasette.client.get("/-/databases.json")).json()[0]["name"] == DB_NAME
    assert len((await datasette.client.get("/-/databases.json")).json()) == 1


def test_metadata_describes_every_view_column():
    tables = metadata()["databases"][DB_NAME]["tables"]
    for view in ("posts_latest", "post_versions_view"):
        assert tables[view]["description"] and len(tables[view]["columns"]) >= 20


def path_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()
