"""The researchers' commands end to end through click: output, help texts, `Error: ...` messages."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from tests.research_support import make_deps, seed, write_tdesktop_export

from bot.cli import main
from bot.cli_research import backup, browse, evidence, export, import_, search

COMMANDS = (export, search, import_, evidence, backup, browse)


@pytest.fixture
def db_env(tmp_path, monkeypatch):
    async def build():
        deps = await make_deps(tmp_path)
        await seed(deps)
        await deps.db.close()

    asyncio.run(build())
    monkeypatch.setenv("TGWATCH_DATABASE_PATH", str(tmp_path / "tgwatch.db"))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_command_and_option_has_help():
    for cmd in COMMANDS:
        assert cmd.help, cmd.name
        for p in cmd.params:
            if p.param_type_name == "option":
                assert p.help, f"{cmd.name} {p.name}"


def test_export_search_evidence_backup(db_env):
    r = run("export", "--format", "jsonl", "--channel", "@pul_pervogo", "--deleted")
    assert r.exit_code == 0 and [json.loads(x)["message_id"] for x in r.stdout.splitlines()] == [10, 11, 12]
    r = run("export", "-o", str(db_env / "x.parquet"), "--since", "2025-03-02", "--until", "2025-03-03")
    assert r.exit_code == 0 and "Wrote 1 rows" in r.output
    r = run("search", "освобождение")
    assert r.exit_code == 0 and "https://t.me/pul_pervogo/10" in r.stdout and "1 match(es)." in r.output
    r = run("evidence", "pul_pervogo", "10")
    assert r.exit_code == 0 and json.loads(r.stdout)["detections"][0]["label"] == "release"
    r = run("backup", str(db_env / "b.db"))
    assert r.exit_code == 0 and "integrity ok" in r.stdout and "5 posts" in r.stdout
    r = run("backup", str(db_env / "b.db"))
    assert r.exit_code == 2 and r.output.startswith("Error: ") and "--force" in r.output


def test_import_and_errors(db_env):
    path = write_tdesktop_export(db_env / "result.json")
    r = run("import", str(path))
    assert r.exit_code == 0 and "5 new" in r.stdout and "Search index updated (" in r.stdout
    bad = db_env / "bad.json"
    bad.write_bytes(path.read_bytes()[:300])
    r = run("import", str(bad))
    assert r.exit_code == 2 and r.output.startswith("Error: ") and "Traceback" not in r.output
    for args in (["search", "?!"], ["export", "--channel", "@nobody_x"], ["export", "--since", "soon"],
                 ["export", "-o", "x.txt"], ["evidence", "pul_pervogo", "999"]):
        r = run(*args)
        assert r.exit_code == 2 and r.output.startswith("Error: "), (args, r.output)
