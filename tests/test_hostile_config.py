"""Hostile settings: any file content and any environment give Settings or a ConfigError, nothing else."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError
from config.settings import SECTIONS, Settings, load_settings

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = [(name, f.name) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
SCALARS = st.one_of(st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=20),
                    st.sampled_from(["", "0", "-1", "nan", "inf", "1e999", "DEBUG", "open", "/dev/null", "~", "\x00"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))


def toml_value(v) -> str:
    """A tiny TOML writer for generated values (JSON strings are valid TOML basic strings, mostly)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


DOCS = st.dictionaries(
    st.one_of(st.sampled_from(list(SECTIONS) + ["webhooks", "bogus"]), st.text(max_size=6)),
    st.one_of(VALUES, st.dictionaries(st.one_of(st.sampled_from([k for _, k in KEYS]), st.text(max_size=6)), VALUES, max_size=4)),
    max_size=4,
)
WEBHOOKS = st.lists(st.dictionaries(st.sampled_from(["name", "url", "secret", "labels", "channels", "min_confidence",
                                                     "terms", "bogus"]),
                                    st.one_of(VALUES, st.sampled_from(["http://127.0.0.1/x", "s" * 16])), max_size=6),
                    max_size=3)


def load(tmp_path, text: str, env: dict | None = None):
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_settings(p, env=env or {})
    except ConfigError as e:
        assert e.problems and all(isinstance(x, str) and x for x in e.problems)
        return e


@FAST
@given(doc=st.one_of(DOCS, WEBHOOKS.map(lambda hooks: {"webhooks": hooks})))
@example(doc={"webhooks": [{"name": "a", "url": "http://x", "secret": "s" * 16}, {"name": "a", "url": 3}]})
@example(doc={"webhooks": {"name": "x"}})
@example(doc={"webhooks": [{"name": [1], "url": "http://x"}, {"name": {"a": 1}}]})
@example(doc={"run": {"grace_s": float("nan")}, "delivery": {"batch_size": 2**70}})
def test_any_toml_document_is_settings_or_config_error(doc, tmp_path):
    lines = []
    for section, body in doc.items():
        if isinstance(body, list) and body and all(isinstance(x, dict) for x in body):
            for table in body:
                lines.append(f"[[{json.dumps(section)}]]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        elif isinstance(body, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{json.dumps(section)} = {toml_value(body)}")
    assert isinstance(load(tmp_path, "\n".join(lines)), (Settings, ConfigError))


@FAST
@given(text=st.text(max_size=200))
@example(text="[database\npath = 1")
@example(text="\ud800 = 1")
@example(text="[[webhooks]]\nurl = 'https://x'\nsecret = 'short'\n[[webhooks]]\nsecret = 1")
def test_any_text_is_settings_or_config_error(text, tmp_path):
    assert isinstance(load(tmp_path, text), (Settings, ConfigError))


@FAST
@given(env=st.dictionaries(st.sampled_from([f"TGWATCH_{s.upper()}_{k.upper()}" for s, k in KEYS]),
                           st.text(max_size=20), max_size=6))
def test_any_environment_is_settings_or_config_error(env, tmp_path):
    assert isinstance(load(tmp_path, "", env), (Settings, ConfigError))
