"""Telethon stops at the edge: only bot/telegram/ imports it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"^\s*(from|import)\s+telethon\b", re.M)


def test_only_bot_telegram_imports_telethon():
    offenders = []
    for path in ROOT.glob("**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "bot/telegram/", "tests/", "benchmarks/", "build/")):
            continue
        if IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []
