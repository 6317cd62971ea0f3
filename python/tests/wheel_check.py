"""What a user of the wheel does, run by test_wheel.py with the fresh virtualenv's Python in a clean environment
(`env -i`, no Swift on the PATH, no LIFELONG_* variables, working directory outside the checkout).

usage: wheel_check.py WORK_FOLDER       Prints one JSON object: what was checked and the BLAS in use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import lifelong
import lifelong.torch as lt
import numpy as np
from lifelong.bundle import Vocabulary


def run(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    work = Path(sys.argv[1])
    cli = shutil.which("lifelong")
    assert cli is not None and Path(cli).parent == Path(sys.executable).parent, f"lifelong on the PATH: {cli}"
    version = run("lifelong", "--version").splitlines()
    assert version[0] == lifelong.__version__, (version, lifelong.__version__)
    blas_from = next(line for line in version if line.startswith("BLAS from: "))
    assert "none" not in blas_from, version

    log, model, store = work / "log", work / "model", work / "store"
    run("lifelong", "synth", "--out", str(log), "--users", "60", "--length", "20,400", "--seed", "4")
    run("lifelong", "init-model", "--data", str(log), "--out", str(model), "--feedback", "--seed", "2")
    run("lifelong", "encode", "--model", str(model), "--data", str(log), "--store", str(store), "--quiet")
    vocabulary = Vocabulary.parse((model / "vocab.tsv").read_bytes(), str(model / "vocab.tsv"))
    items = list(vocabulary.items)[:40] + ["not-in-the-vocabulary"]
    user = "1"
    lines = run("lifelong", "score", "--model", str(model), "--store", str(store), "--user", user, "--items",
                ",".join(items)).splitlines()
    from_cli = np.array([json.loads(line)["p"] for line in lines], dtype=np.float64)
    with lifelong.Scorer(model, store) as scorer:
        scores = scorer.score(user, items)
        described = scorer.describe()
    np.testing.assert_allclose(scores, from_cli, rtol=0, atol=1e-6)  # the CLI prints six decimals

    loaded, vocabulary = lt.load_bundle(model)
    lt.save_bundle(loaded, vocabulary, work / "again")
    assert (work / "again" / "model.safetensors").read_bytes() == (model / "model.safetensors").read_bytes()

    runs = work / "runs"
    out = run(sys.executable, "-m", "lifelong.spark.encode", "--model", str(model), "--data", str(log),
              "--shards", "2", "--out", str(runs), "--master", "local[2]", "--run-id", "r")
    manifest = json.loads(out.strip().splitlines()[-1])["manifest"]
    with lifelong.Scorer(model, manifest=manifest) as sharded:
        assert np.array_equal(sharded.score(user, items), scores)
    print(json.dumps({"cli": cli, "version": version[0], "blas": described["blas"], "scores": len(items),
                      "shards": 2}))


if __name__ == "__main__":
    main()
