"""The pieces written once per language, held to the same vectors as the Swift ones
(Tests/ModelTests/SharedVectorTests.swift): FNV-1a and the shard of an id, the projection draw, the safetensors
writer, the manifest — and a manifest written by `lifelong manifest` read here."""

from __future__ import annotations

import json
from pathlib import Path

import lifelong
import lifelong.bundle as lb
import lifelong.manifest as mf
import numpy as np
import pytest
from conftest import run_cli

GOLDEN = Path(__file__).resolve().parents[2] / "Fixtures" / "golden"


def test_fnv1a64_and_shards() -> None:
    vectors = json.loads((GOLDEN / "fnv1a64.json").read_text())["vectors"]
    for v in vectors:
        assert f"{mf.fnv1a64(v['text']):016x}" == v["fnv1a64"]
        assert (mf.shard_of(v["text"], 4), mf.shard_of(v["text"], 7)) == (v["shard_of_4"], v["shard_of_7"])


def test_projection() -> None:
    for c in json.loads((GOLDEN / "projection.json").read_text())["cases"]:
        drawn = lb.gaussian_projection(c["seed"], c["m"], c["d"])
        assert drawn.dtype == np.float32 and drawn.reshape(-1).tolist() == c["values"]


def test_safetensors_writer(tmp_path: Path) -> None:
    inputs = json.loads((GOLDEN / "writer.json").read_text(encoding="utf-8"))
    tensors = {k: np.array(v["values"], dtype=np.float32).reshape(v["shape"]) for k, v in inputs["tensors"].items()}
    lb.write_safetensors(tmp_path / "w.safetensors", tensors, inputs["metadata"])
    assert (tmp_path / "w.safetensors").read_bytes() == (GOLDEN / "writer.safetensors").read_bytes()
    read, meta = lb.read_safetensors(tmp_path / "w.safetensors")
    assert meta == inputs["metadata"] and all(np.array_equal(read[k], tensors[k]) for k in tensors)


def test_manifest_round_trip(tmp_path: Path) -> None:
    m = mf.read(GOLDEN / "manifest.json")
    assert (m.shard_count, [s.path for s in m.shards], [s.users for s in m.shards]) == \
        (2, ["shard-0/attempt-0", "/abs/shard-1"], [3, 2])
    mf.write(m, tmp_path / "manifest.json")
    assert (tmp_path / "manifest.json").read_bytes() == (GOLDEN / "manifest.json").read_bytes()
    with pytest.raises(lifelong.InvalidArgumentError, match="is a folder"):
        mf.read(tmp_path)
    with pytest.raises(lifelong.NotFoundError, match="no such file"):
        mf.read(tmp_path / "nowhere.json")
    (tmp_path / "bad.json").write_text(json.dumps({**json.loads((GOLDEN / "manifest.json").read_text()),
                                                   "shard_count": 3}))
    with pytest.raises(lifelong.DamagedError, match="shard 2 of 3 has no store"):
        mf.read(tmp_path / "bad.json")


def test_a_manifest_written_by_lifelong_manifest(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    (log / "behaviors.jsonl").write_text("".join(
        json.dumps({"user": f"u{k}", "item": f"i{k % 3}", "timestamp": k}) + "\n" for k in range(12)))
    run_cli("init-model", "--data", str(log), "--out", str(tmp_path / "model"))
    stores = []
    for k in range(3):
        stores.append(str(tmp_path / f"shard-{k}"))
        run_cli("encode", "--model", str(tmp_path / "model"), "--data", str(log), "--store", stores[-1],
                "--shard", f"{k}/3", "--quiet")
    run_cli("manifest", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "manifest.json"), *stores)
    m = mf.read(tmp_path / "manifest.json")
    assert [s.path for s in m.shards] == ["shard-0", "shard-1", "shard-2"] and sum(s.users for s in m.shards) == 12
    for s in m.shards:
        users = json.loads(run_cli("inspect", "--store", str(m.folder(s, tmp_path / "manifest.json")), "--json"))
        assert users["users"] == s.users == sum(1 for k in range(12) if mf.shard_of(f"u{k}", 3) == s.shard)
