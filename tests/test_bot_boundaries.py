"""Import rules for the bot's edges: httpx only in bot/webhooks.py, apscheduler only in bot/scheduler.py,
and handlers/ never imports telethon, httpx or apscheduler."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_edge_libraries_stay_at_their_edges():
    for path in list(ROOT.glob("bot/**/*.py")) + list(ROOT.glob("handlers/**/*.py")) + list(ROOT.glob("storage/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        imports = _imports(path)
        if "httpx" in imports:
            assert rel == "bot/webhooks.py", rel
        if "apscheduler" in imports:
            assert rel == "bot/scheduler.py", rel
        if rel.startswith("handlers/"):
            assert not imports & {"telethon", "httpx", "apscheduler", "aiosqlite"}, rel
