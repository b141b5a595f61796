"""`tgwatch detect` and `tgwatch eval` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli_detection import detect_command, eval_command

DEV = Path(__file__).parent / "data" / "corpus_dev.jsonl"


def test_detect_text_argument():
    res = CliRunner().invoke(detect_command, ["Лукашенко помиловал 16 человек"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["label"] == "pardon" and out["count"] == 16
    assert set(out) == {"id", "label", "confidence", "count", "names", "countries", "evidence"}


def test_detect_jsonl_from_stdin_keeps_order():
    lines = "\n".join(json.dumps({"id": f"p{i}", "text": t}) for i, t in
                      enumerate(["Помилованы 5 человек", "Погода", "Freed: 3 prisoners released today"]))
    res = CliRunner().invoke(detect_command, ["--jsonl", "-"], input=lines + "\n")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert [r["label"] for r in rows] == ["pardon", "none", "release"]


@pytest.mark.parametrize("payload,needle", [
    ('{"id": 1, "text": "ok"}\n{broken\n', "line 2"),
    ('{"id": 1}\n', 'line 1: missing "text"'),
    ('[1, 2]\n', "line 1: expected a JSON object"),
    ('{"id": 1, "text": 5}\n', "line 1"),
])
def test_detect_bad_input_names_the_line(payload, needle):
    res = CliRunner().invoke(detect_command, ["--jsonl", "-"], input=payload)
    assert res.exit_code != 0
    assert needle in res.output and "Traceback" not in res.output


def test_detect_unreadable_file(tmp_path):
    res = CliRunner().invoke(detect_command, ["--jsonl", str(tmp_path / "missing.jsonl")])
    assert res.exit_code != 0 and "Cannot read" in res.output


def test_detect_needs_text_or_jsonl():
    res = CliRunner().invoke(detect_command, [])
    assert res.exit_code != 0 and "TEXT" in res.output


def test_detect_with_operator_rules(tmp_path):
    rules = tmp_path / "r.toml"
    rules.write_text('[[trigger]]\nid = "a"\nlabel = "arrest"\npatterns = ["задержан*"]\n', encoding="utf-8")
    res = CliRunner().invoke(detect_command, ["--rules", str(rules), "Задержан блогер"])
    assert json.loads(res.output)["label"] == "arrest"
    bad = tmp_path / "bad.toml"
    bad.write_text("[[", encoding="utf-8")
    res = CliRunner().invoke(detect_command, ["--rules", str(bad), "x"])
    assert res.exit_code != 0 and "Traceback" not in res.output


def test_eval_reports_both_detectors():
    res = CliRunner().invoke(eval_command, [str(DEV)])
    assert res.exit_code == 0, res.output
    assert "naive baseline" in res.output and "comparison" in res.output


def test_eval_json_and_no_baseline():
    res = CliRunner().invoke(eval_command, [str(DEV), "--json", "--no-baseline"])
    data = json.loads(res.output)
    assert "baseline" not in data
    assert data["detector"]["detection"]["precision"] >= 0.97


def test_eval_bad_file(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1, "text": "x"}\n', encoding="utf-8")
    res = CliRunner().invoke(eval_command, [str(path)])
    assert res.exit_code != 0 and 'missing "label"' in res.output


@pytest.mark.parametrize("command", [detect_command, eval_command])
def test_every_command_and_option_has_help(command: click.Command):
    assert command.help
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
