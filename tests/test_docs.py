"""The docs cannot drift: README/docs code blocks run, docstring examples pass, api.md is current."""

from __future__ import annotations

import doctest
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)```", re.S)


def python_blocks(path: Path) -> list[str]:
    """Python code blocks of a Markdown file, minus those after a ``<!-- skip-test ... -->`` line."""
    blocks = []
    for m in BLOCK.finditer(path.read_text(encoding="utf-8")):
        if "<!-- skip-test" not in m.group("before"):
            blocks.append(m.group("code"))
    return blocks


@pytest.mark.parametrize("path", [p for p in DOC_FILES if python_blocks(p)], ids=lambda p: p.name)
def test_markdown_examples_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(python_blocks(path)):
        try:
            exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message is the point
            pytest.fail(f"{path.name} block {i} failed: {type(e).__name__}: {e}\n{code}")


DOCTEST_MODULES = ["skulmfit.tokenizer", "skulmfit.fastai_tokenizer", "skulmfit.spacy_en", "skulmfit.schedules",
                   "skulmfit.clf_training", "skulmfit.pretrained", "skulmfit.download"]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_api_reference_is_current():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        gen = importlib.import_module("gen_api")
    finally:
        sys.path.pop(0)
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == gen.render(), (
        "docs/api.md is stale: run `python docs/gen_api.py`")


def test_every_public_name_is_documented():
    import skulmfit

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name in skulmfit.__all__:
        if not name.startswith("_"):
            assert f"skulmfit.{name}`" in api, name
