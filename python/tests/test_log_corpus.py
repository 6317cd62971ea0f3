"""The log rulebook (docs/FORMATS.md "Behavior logs"): every case of Fixtures/logs read by lifelong.log.read,
which must give the case's parse or its error — the same cases Tests/BehaviorLogTests reads with the Swift
reader. Pure Python: the reader needs neither numpy nor the native library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lifelong
import lifelong.log as ll
import pytest

CORPUS = Path(__file__).resolve().parents[2] / "Fixtures" / "logs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 100
    assert {c.split("-")[0] for c in CASES} >= {"rb", "jl", "path"}


@pytest.mark.parametrize("name", CASES)
def test_case(name: str) -> None:
    folder = CORPUS / name
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    data = expected.get("data", ".")
    path = folder if data == "." else folder / data
    threshold = expected.get("rating_threshold", 4.0)
    if "error" in expected:
        want = expected["error"]
        with pytest.raises(lifelong.InputError) as raised:
            ll.read(str(path), threshold)
        error = raised.value
        file = folder if want["file"] == "." else folder / want["file"]
        assert (error.path, error.line, error.reason, error.kind) == (str(file), want["line"], want["message"],
                                                                       want["kind"])
        assert str(error) == f"{file}{'' if want['line'] is None else ':' + str(want['line'])}: {want['message']}"
        assert isinstance(error, lifelong.Error) and error.status == 7
        return
    log = ll.read(str(path), threshold)
    want = expected["parse"]
    got = [(b.user, b.item, b.timestamp, b.label) for b in log.behaviors]
    assert got == [(w["user"], w["item"], float(w["timestamp"]), w["label"]) for w in want["behaviors"]]
    assert {k: (v.category, v.text) for k, v in log.items.items()} == \
        {k: (v["category"], v["text"]) for k, v in want["items"].items()}


def test_the_reader_needs_neither_numpy_nor_the_library() -> None:
    code = ("import sys; sys.modules['numpy'] = None; import lifelong.log as ll; "
            f"print(len(ll.read({str(CORPUS / 'rb-basic')!r}).behaviors))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "3", result.stderr
