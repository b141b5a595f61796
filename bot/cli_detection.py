"""CLI commands for the detector: `tgwatch detect` and `tgwatch eval`. A thin shell over
bot.detection and handlers.evaluate; every input problem becomes a click error naming the line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import click

from bot.detection import load_detector
from bot.detection.naive import load_naive
from bot.errors import ConfigError
from bot.models import Detection
from handlers.evaluate import evaluate, render_report


def _detector(rules: str | None):
    try:
        return load_detector(rules)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"Cannot read {path}: {e.strerror}. Check the path.") from e


def read_jsonl(path: str, need: tuple[str, ...] = ("text",)) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; raises ClickException naming the bad line."""
    stream = _open(path)
    try:
        lineno = 0
        while True:
            try:
                line = stream.readline()
            except (UnicodeDecodeError, OSError) as e:
                raise click.ClickException(f"{path}: line {lineno + 1}: cannot be read as UTF-8 text ({e}).") from e
            if not line:
                break
            lineno += 1
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise click.ClickException(f"{path}: line {lineno}: not valid JSON ({e.msg}); "
                                           "each line must be one JSON object.") from e
            if not isinstance(obj, dict):
                raise click.ClickException(f"{path}: line {lineno}: expected a JSON object, got {type(obj).__name__}.")
            for key in need:
                if key not in obj:
                    raise click.ClickException(f"{path}: line {lineno}: missing \"{key}\".")
            if not isinstance(obj.get("text"), str):
                raise click.ClickException(f"{path}: line {lineno}: \"text\" must be a string.")
            yield lineno, obj
    finally:
        if stream is not sys.stdin:
            stream.close()


def detection_json(det: Detection, item_id: Any = None) -> dict[str, Any]:
    return {
        "id": item_id,
        "label": det.label,
        "confidence": det.confidence,
        "count": det.count,
        "names": list(det.names),
        "countries": list(det.countries),
        "evidence": [{"rule_id": e.rule_id, "start": e.start, "end": e.end, "text": e.text, "role": e.role}
                     for e in det.evidence],
    }


@click.command("detect")
@click.argument("text", required=False)
@click.option("--jsonl", "jsonl", metavar="FILE",
              help="Read posts from a JSON-lines file ('-' for stdin); each line needs id and text, "
                   "optionally lang. Prints one JSON line per post, in input order.")
@click.option("--rules", type=click.Path(dir_okay=False), default=None,
              help="An operator rules file that extends or overrides the bundled config/rules.toml.")
def detect_command(text: str | None, jsonl: str | None, rules: str | None) -> None:
    """Detect pardon/release announcements in TEXT or in a JSON-lines file of posts."""
    if (text is None) == (jsonl is None):
        raise click.UsageError("Give either a TEXT argument or --jsonl FILE (use '-' for stdin).")
    detector = _detector(rules)
    if text is not None:
        click.echo(json.dumps(detection_json(detector.detect(text)), ensure_ascii=False))
        return
    for _, obj in read_jsonl(jsonl, need=("id", "text")):
        det = detector.detect(obj["text"], obj.get("lang"))
        click.echo(json.dumps(detection_json(det, obj["id"]), ensure_ascii=False))


@click.command("eval")
@click.argument("file", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object instead of a report.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score the naive keyword matcher on the same file.")
@click.option("--rules", type=click.Path(dir_okay=False), default=None,
              help="An operator rules file that extends or overrides the bundled config/rules.toml.")
def eval_command(file: str, as_json: bool, baseline: bool, rules: str | None) -> None:
    """Score the detector (and the naive baseline) on a labelled JSON-lines FILE ('-' for stdin)."""
    detector = _detector(rules)
    items = [obj for _, obj in read_jsonl(file, need=("id", "text", "label"))]
    ours = evaluate(items, [detector.detect(it["text"], it.get("lang")) for it in items])
    result: dict[str, Any] = {"detector": ours, "detector_version": detector.version}
    if baseline:
        naive = load_naive()
        result["baseline"] = evaluate(items, [naive.detect(it["text"], it.get("lang")) for it in items])
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(render_report(ours, f"detector {detector.version}"))
    if baseline:
        click.echo("")
        click.echo(render_report(result["baseline"], "naive baseline"))
        click.echo("")
        click.echo(_comparison(ours, result["baseline"]))


def _comparison(ours: dict, base: dict) -> str:
    def f(x):
        return "n/a" if x is None else f"{x:.3f}"

    rows = [("detection precision", ours["detection"]["precision"], base["detection"]["precision"]),
            ("detection recall", ours["detection"]["recall"], base["detection"]["recall"]),
            ("detection f1", ours["detection"]["f1"], base["detection"]["f1"]),
            ("label accuracy", ours["label_accuracy"], base["label_accuracy"]),
            ("count exact", ours["count_exact"], base["count_exact"]),
            ("names recall", ours["names"]["recall"], base["names"]["recall"]),
            ("countries recall", ours["countries"]["recall"], base["countries"]["recall"])]
    lines = ["== comparison            detector   naive"]
    lines += [f"{name:<24}{f(a):>8}{f(b):>9}" for name, a, b in rows]
    return "\n".join(lines)


if __name__ == "__main__":  # try the commands before they are wired into bot.cli
    group = click.Group(commands={"detect": detect_command, "eval": eval_command})
    group()
