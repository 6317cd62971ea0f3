"""The bundle corpus (Fixtures/bundles, written by its own script with numpy): lifelong.bundle.load and
lifelong.torch.load_bundle treat every case as Swift's ModelBundle does (Tests/ModelTests): a good bundle
loads with its shape and fingerprint, a damaged one is refused with the same kind and message."""

from __future__ import annotations

import json
from pathlib import Path

import lifelong
import lifelong.bundle as lb
import lifelong.torch as lt
import pytest

CORPUS = Path(__file__).resolve().parents[2] / "Fixtures" / "bundles"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 50 and any(c.startswith("good-") for c in CASES)


@pytest.mark.parametrize("name", CASES)
def test_case(name: str) -> None:
    folder = CORPUS / name
    expected = json.loads((folder / "expected.json").read_text())
    if "error" in expected:
        want = expected["error"]
        with pytest.raises(lifelong.Error) as raised:
            lb.load(folder)
        assert raised.value.kind == want["kind"]
        assert str(raised.value) == want["message"].replace("{bundle}", str(folder))
        return
    b = lb.load(folder)
    c, want = b.config, expected["config"]
    got = {"format": lb.FORMAT_V2 if c.feedback else lb.FORMAT_V1, "d": c.d, "d_item": c.d_item, "d_cat": c.d_cat,
           "d_text": c.d_text, "m": c.m, "tau": c.tau, "window": c.window, "heads": c.heads,
           "attention_dim": c.attention_dim, "hidden": list(c.hidden), "n_items": c.n_items,
           "n_categories": c.n_categories, "projection_seed": c.projection_seed, "items": len(b.vocabulary.items),
           "categories": len(b.vocabulary.categories)}
    assert got == want
    assert b.fingerprint == expected["fingerprint"]


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith(("good-", "vocab-", "st-truncated", "missing-"))])
def test_load_bundle_in_torch_agrees(name: str) -> None:
    folder = CORPUS / name
    expected = json.loads((folder / "expected.json").read_text())
    if "error" in expected:
        with pytest.raises(lifelong.Error, match="^" + expected["error"]["message"].split(":")[0].replace(
                "{bundle}", str(folder))):
            lt.load_bundle(folder)
        return
    model, vocabulary = lt.load_bundle(folder)
    assert model.config.d == expected["config"]["d"] and len(vocabulary.items) == expected["config"]["items"]
