"""The Python package over liblifelong_c.so: scores equal the command-line tool's, errors map to the
exception classes, threads score one scorer at once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import lifelong
import numpy as np
import pytest
from conftest import ROOT, run_cli

ITEMS = ["242", "302", "377", "51", "346", "1", "1682", "no-such-item"]


@pytest.mark.parametrize("mode", ["bse", "online", "full", "short"])
@pytest.mark.parametrize("user", ["196", "1", "405", "cold-user"])
def test_scores_equal_the_cli(quickstart: Path, user: str, mode: str) -> None:
    lines = run_cli("score", "--model", str(quickstart / "model"), "--store", str(quickstart / "store"),
                    "--user", user, "--items", ",".join(ITEMS), "--mode", mode).splitlines()
    expected = [json.loads(line) for line in lines]
    assert [e["item"] for e in expected] == ITEMS
    with lifelong.Scorer(quickstart / "model", quickstart / "store") as scorer:
        p = scorer.score(user, ITEMS, mode=mode)
    assert p.dtype == np.float32 and p.shape == (len(ITEMS),)
    # The CLI prints 6 decimals.
    np.testing.assert_allclose(p, [e["p"] for e in expected], rtol=0, atol=5.1e-7)


def test_modes_differ_and_u_long_has_the_documented_shape(quickstart: Path) -> None:
    with lifelong.Scorer(quickstart / "model", quickstart / "store") as scorer:
        bse, online = scorer.score("405", ITEMS, "bse"), scorer.score("405", ITEMS, "online")
        np.testing.assert_allclose(bse, online, atol=1e-5)
        assert not np.allclose(bse, scorer.score("405", ITEMS, "short"), atol=1e-6)
        long = scorer.long_term_interest("405", ITEMS, "bse")
        assert long.shape == (len(ITEMS), scorer.dimension) and long.dtype == np.float32
        assert np.all(scorer.long_term_interest("405", ITEMS, "short") == 0)
        assert scorer.score("405", []).shape == (0,)
        info = scorer.describe()
        assert info["users"] == 943 and info["items"] == 1682 and info["writable"] is False
        assert info["version"] == lifelong.version() == lifelong.__version__  # lifelong.h's, the one place
        assert info["blas"]["source"] != "none" and info["blas"]["core"] == info["blas"]["best_core"]


def test_errors_map_to_exception_classes(quickstart: Path, tmp_path: Path) -> None:
    model, store = quickstart / "model", quickstart / "store"
    with pytest.raises(lifelong.NotFoundError, match="no-such-folder"):
        lifelong.Scorer(tmp_path / "no-such-folder", store)
    with pytest.raises(lifelong.NotFoundError, match="no store here"):
        lifelong.Scorer(model, tmp_path / "no-such-store")
    with pytest.raises(lifelong.NotFoundError, match="no store here"):  # a writable open creates nothing
        lifelong.Scorer(model, tmp_path / "no-such-store", writable=True)
    assert not (tmp_path / "no-such-store").exists()
    with pytest.raises(lifelong.ModelMismatchError, match="encoded with model"):
        lifelong.Scorer(quickstart / "other", store)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "vocab.tsv").write_bytes((model / "vocab.tsv").read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(lifelong.DamagedError, match="model.safetensors"):
        lifelong.Scorer(corrupt, store)
    scorer = lifelong.Scorer(model, store)
    with pytest.raises(lifelong.InvalidArgumentError, match="mode"):
        scorer.score("196", ITEMS, mode="fastest")
    with pytest.raises(lifelong.InvalidArgumentError, match="400 bytes"):
        scorer.score("u" * 500, ITEMS)
    with pytest.raises(lifelong.InvalidArgumentError, match="empty"):
        scorer.score("", ITEMS)
    with pytest.raises(lifelong.InvalidArgumentError, match="NUL"):
        scorer.score("19\x006", ITEMS)
    with pytest.raises(lifelong.InvalidArgumentError, match="UTF-8"):
        scorer.score("196", ["\ud800"])
    with pytest.raises(TypeError):
        scorer.score("196", "242")
    with pytest.raises(TypeError):
        scorer.score("196", [242])
    with pytest.raises(lifelong.InvalidArgumentError, match="read-only") as raised:
        scorer.append("196", "242", 2e9, True)
    assert raised.value.status == 1 and isinstance(raised.value, ValueError)
    scorer.close()
    scorer.close()
    with pytest.raises(lifelong.InvalidArgumentError, match="closed"):
        scorer.score("196", ITEMS)


def test_append_changes_the_user_and_refuses_the_past(quickstart: Path, store_copy: Path) -> None:
    def length() -> int:
        return json.loads(run_cli("inspect", "--store", str(store_copy), "--user", "196", "--json"))["length"]

    length_before = length()
    with lifelong.Scorer(quickstart / "model", store_copy, writable=True) as scorer:
        before = scorer.score("196", ITEMS)
        with pytest.raises(lifelong.InvalidArgumentError, match="older than"):
            scorer.append("196", "242", 1.0, True)
        with pytest.raises(lifelong.InvalidArgumentError, match="label"):
            scorer.append("196", "242", 2e9, 2)
        with pytest.raises(lifelong.InvalidArgumentError, match="finite"):
            scorer.append("196", "242", float("nan"))
        np.testing.assert_array_equal(scorer.score("196", ITEMS), before)
        scorer.append("196", "242", 2e9, True)
        scorer.append("196", "302", 2e9 + 1, False)
        scorer.append("new-user", "51", 2e9, None)
        assert not np.array_equal(scorer.score("196", ITEMS), before)
        assert scorer.describe()["users"] == 944
    # What was appended is in the store (and only that): the command-line tool sees it.
    assert length() == length_before + 2


def test_append_many_equals_one_append_each(quickstart: Path, store_copy: Path, tmp_path: Path) -> None:
    batch_store = tmp_path / "batch"
    batch_store.mkdir()
    shutil.copy(store_copy / "data.mdb", batch_store / "data.mdb")
    rng = np.random.default_rng(5)
    users = [str(u) for u in rng.integers(1, 40, size=300)] + ["new-user"]
    items = [str(i) for i in rng.integers(1, 1700, size=300)] + ["no-such-item"]
    times = [2e9 + float(t) for t in np.sort(rng.integers(0, 50, size=300))] + [2e9]
    labels = [[None, False, True][k % 3] for k in range(301)]
    times[17], times[40] = 1.0, float("inf")  # older than the user's last; not finite
    one = []
    with lifelong.Scorer(quickstart / "model", store_copy, writable=True) as scorer:
        for u, i, t, label in zip(users, items, times, labels):
            try:
                scorer.append(u, i, t, label)
                one.append(0)
            except lifelong.InvalidArgumentError as error:
                one.append(error.status)
        expected = {u: scorer.score(u, ITEMS) for u in ("1", "7", "new-user")}
    with lifelong.Scorer(quickstart / "model", batch_store, writable=True) as scorer:
        status = np.concatenate([scorer.append_many(users[:120], items[:120], times[:120], labels[:120]),
                                 scorer.append_many(users[120:], items[120:], np.array(times[120:]), labels[120:])])
        assert status.dtype == np.int32 and status.tolist() == one
        assert status[17] == status[40] == lifelong.InvalidArgumentError.status and (status == 0).sum() == 299
        for u, p in expected.items():
            np.testing.assert_array_equal(scorer.score(u, ITEMS), p)
        with pytest.raises(lifelong.InvalidArgumentError, match="different lengths"):
            scorer.append_many(["1"], ["2", "3"], [2e9])
        with pytest.raises(lifelong.InvalidArgumentError, match="labels"):
            scorer.append_many(["1"], ["2"], [3e9], [2])
    with lifelong.Scorer(quickstart / "model", quickstart / "store") as read_only:
        with pytest.raises(lifelong.InvalidArgumentError, match="read-only"):
            read_only.append_many(["1"], ["2"], [3e9])


def test_two_threads_score_one_scorer_at_once(quickstart: Path) -> None:
    rng = np.random.default_rng(5)
    requests = [(str(rng.integers(1, 944)), [str(i) for i in rng.integers(1, 1683, size=300)]) for _ in range(40)]
    with lifelong.Scorer(quickstart / "model", quickstart / "store") as scorer:
        expected = [scorer.score(u, items) for u, items in requests]
        results: dict[int, list[np.ndarray]] = {}
        start = threading.Barrier(2)

        def work(index: int) -> None:
            start.wait()
            results[index] = [scorer.score(u, items) for u, items in requests]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for index in range(2):
        for got, want in zip(results[index], expected):
            np.testing.assert_array_equal(got, want)


def test_readme_python_example_runs(quickstart: Path, tmp_path: Path) -> None:
    """The README's Python example, run where Output/quickstart/{model,store} exist."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README.md has no Python example"
    out = tmp_path / "Output" / "quickstart"
    out.mkdir(parents=True)
    for name in ("model", "store"):
        (out / name).symlink_to(quickstart / name)
    result = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.search(r"0\.\d+", result.stdout), result.stdout


def test_a_sharded_store_scores_like_one_store(quickstart: Path, movielens: Path, tmp_path: Path) -> None:
    model = quickstart / "model"
    shards = [tmp_path / f"shard-{k}" for k in range(3)]
    for k, shard in enumerate(shards):
        run_cli("encode", "--model", str(model), "--data", str(movielens), "--store", str(shard), "--shard", f"{k}/3",
                "--quiet")
    run_cli("manifest", "--model", str(model), "--out", str(tmp_path / "manifest.json"), *map(str, shards))
    listed = tmp_path / "manifest.json"
    with lifelong.Scorer(model, quickstart / "store") as one, lifelong.Scorer(model, manifest=listed) as sharded:
        info = sharded.describe()
        assert info["shards"] == 3 and info["users"] == 943 and info["manifest"].endswith("manifest.json")
        for user in ["1", "196", "405", "943", "cold-user"]:
            for mode in lifelong.MODES:
                np.testing.assert_array_equal(sharded.score(user, ITEMS, mode), one.score(user, ITEMS, mode))
    with pytest.raises(lifelong.NotFoundError, match="no such file"):
        lifelong.Scorer(model, manifest=tmp_path / "missing.json")
    with pytest.raises(lifelong.InvalidArgumentError, match="one"):
        lifelong.Scorer(model)
