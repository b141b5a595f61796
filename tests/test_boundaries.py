"""Import boundaries from STYLE.md: each I/O library stays in its edge module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["bot", "handlers", "storage", "config"]

# library -> the only places allowed to import it
ALLOWED = {
    "telethon": ("bot/telegram/",),
    "httpx": ("bot/webhooks.py",),
    "apscheduler": ("bot/scheduler.py",),
    "aiosqlite": ("storage/",),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def sources():
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            yield p.relative_to(ROOT).as_posix(), p


@pytest.mark.parametrize("lib", sorted(ALLOWED))
def test_library_stays_at_its_edge(lib):
    offenders = [rel for rel, p in sources() if lib in imports(p) and not rel.startswith(ALLOWED[lib])]
    assert not offenders, f"{lib} imported outside {ALLOWED[lib]}: {offenders}"


def test_handlers_import_no_io_library():
    bad = {rel: imports(p) & set(ALLOWED) for rel, p in sources() if rel.startswith("handlers/")}
    assert not {k: v for k, v in bad.items() if v}


def test_importing_modules_does_nothing():
    """Importing every module must not parse argv, read env-dependent config or open files."""
    import importlib
    import sys

    for rel, _ in sources():
        mod = rel[:-3].replace("/", ".").removesuffix(".__init__")
        if mod.endswith("__main__"):
            continue
        importlib.import_module(mod)
    assert "tgwatch.db" not in " ".join(sys.modules)
