"""lifelong.spark.encode: the sharded encode on Spark (local mode), against one `lifelong encode`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lifelong
import numpy as np
import pytest
from conftest import cli, run_cli
from lifelong.manifest import shard_of


def job(*args: str, env: dict | None = None) -> dict:
    result = subprocess.run([sys.executable, "-m", "lifelong.spark.encode", "--cli", str(cli()), *args],
                            capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def dump(store: Path, database: str) -> list[str]:
    """The database's key/value lines (`mdb_dump`, hex), without the header."""
    out = subprocess.run(["mdb_dump", "-s", database, str(store)], capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if line.startswith(" "))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark")
    run_cli("synth", "--out", str(root / "log"), "--users", "200", "--length", "20,2000", "--seed", "4")
    run_cli("init-model", "--data", str(root / "log"), "--out", str(root / "model"), "--feedback")
    run_cli("encode", "--model", str(root / "model"), "--data", str(root / "log"), "--store", str(root / "single"),
            "--quiet")
    return root


def test_four_shards_hold_exactly_the_log_and_score_like_one_store(log: Path) -> None:
    out = job("--model", str(log / "model"), "--data", str(log / "log"), "--shards", "4", "--out",
              str(log / "runs"), "--run-id", "a")
    assert out["published"] == [0, 1, 2, 3] and out["users"] == 200
    manifest = Path(out["manifest"])
    assert (manifest.parent / "_CURRENT").read_text().strip() == "manifest.json"
    rows = json.loads(manifest.read_text())["shards"]
    shards = [manifest.parent / r["path"] for r in rows]
    # Every user's record and sequence are byte-identical to one encode of the whole log.
    for database in ("users", "sequences"):
        assert sorted(sum((dump(s, database) for s in shards), [])) == dump(log / "single", database), database
    verify = subprocess.run([str(cli()), "verify", "--manifest", str(manifest), "--model", str(log / "model"),
                             "--quiet"], capture_output=True, text=True)
    assert verify.returncode == 0 and "ok: 4 shards" in verify.stdout, verify.stdout
    users = sorted({line.split("\t")[0] for line in (log / "log" / "log.inter").read_text().splitlines()[1:]})
    candidates = [f"i{k}" for k in range(0, 20000, 97)]
    with lifelong.Scorer(log / "model", log / "single") as one, \
            lifelong.Scorer(log / "model", manifest=manifest) as sharded:
        for user in users:
            np.testing.assert_array_equal(sharded.score(user, candidates), one.score(user, candidates))


def test_a_task_that_fails_once_is_retried_and_a_rerun_does_only_the_missing_shards(log: Path) -> None:
    runs = log / "retry"
    out = job("--model", str(log / "model"), "--data", str(log / "log"), "--shards", "4", "--out", str(runs),
              "--run-id", "b", env={"LIFELONG_SPARK_FAIL_SHARD": "1"})
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert [r["shard"] for r in manifest["shards"]] == [0, 1, 2, 3]
    assert manifest["shards"][1]["path"] == "shard-1/attempt-1"
    assert sorted(p.name for p in (runs / "b" / "shard-1").iterdir()) == ["WINNER.json", "attempt-1"]
    # A job killed before shard 2 was published and before the manifest: the re-run does shard 2 only.
    shutil.rmtree(runs / "b" / "shard-2")
    (runs / "b" / "manifest.json").unlink()
    (runs / "b" / "_CURRENT").unlink()
    again = job("--model", str(log / "model"), "--data", str(log / "log"), "--shards", "4", "--out", str(runs),
                "--run-id", "b")
    assert again["published"] == [2] and again["users"] == 200
    with lifelong.Scorer(log / "model", log / "single") as one, \
            lifelong.Scorer(log / "model", manifest=again["manifest"]) as sharded:
        for user in ("u1", "u7", "u150"):
            np.testing.assert_array_equal(sharded.score(user, ["i1", "i2"]), one.score(user, ["i1", "i2"]))


def test_json_lines_input(log: Path, tmp_path: Path) -> None:
    lines = (log / "log" / "log.inter").read_text().splitlines()
    names = [f.split(":")[0] for f in lines[0].split("\t")]
    folder = tmp_path / "jsonl"
    folder.mkdir()
    with open(folder / "behaviors.jsonl", "w") as f:
        for line in lines[1:]:
            v = dict(zip(names, line.split("\t")))
            f.write(json.dumps({"user": v["user_id"], "item": v["item_id"], "timestamp": float(v["timestamp"]),
                                "label": float(v["label"])}) + "\n")
    out = job("--model", str(log / "model"), "--data", str(folder / "behaviors.jsonl"), "--shards", "2", "--out",
              str(tmp_path / "runs"), "--run-id", "j")
    assert out["users"] == 200 and out["behaviors"] == len(lines) - 1


PARQUET_FROM_RECBOLE = """
import sys
from pyspark.sql import SparkSession
from pyspark.sql.functions import col
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
log = spark.read.option("sep", "\\t").option("header", True).csv(sys.argv[1])
log.select(col("`user_id:token`").alias("user"), col("`item_id:token`").alias("item"),
           col("`timestamp:float`").cast("double").alias("timestamp"),
           col("`label:float`").cast("double").alias("label")).coalesce(1).write.parquet(sys.argv[2])
spark.stop()
"""


def test_parquet_input_and_its_catalog(log: Path, tmp_path: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    subprocess.run([sys.executable, "-c", PARQUET_FROM_RECBOLE, str(log / "log" / "log.inter"),
                    str(folder / "behaviors.parquet")], check=True, capture_output=True)
    with open(log / "log" / "log.item") as f, open(folder / "items.jsonl", "w") as items:
        next(f)
        for line in f:
            item, category, title = line.rstrip("\n").split("\t")
            items.write(json.dumps({"item": item, "category": category, "text": title}) + "\n")
    out = job("--model", str(log / "model"), "--data", str(folder / "behaviors.parquet"), "--shards", "2", "--out",
              str(tmp_path / "runs"), "--run-id", "p")
    manifest = Path(out["manifest"])
    shards = [manifest.parent / r["path"] for r in json.loads(manifest.read_text())["shards"]]
    for database in ("users", "sequences"):  # the categories came from items.jsonl: the same sums
        assert sorted(sum((dump(s, database) for s in shards), [])) == dump(log / "single", database), database
    # A dataset without the columns the store needs is refused, naming them.
    (tmp_path / "bad").mkdir()
    subprocess.run([sys.executable, "-c", PARQUET_FROM_RECBOLE.replace('alias("user")', 'alias("who")'),
                    str(log / "log" / "log.inter"), str(tmp_path / "bad" / "b.parquet")], check=True,
                   capture_output=True)
    bad = subprocess.run([sys.executable, "-m", "lifelong.spark.encode", "--cli", str(cli()), "--model",
                          str(log / "model"), "--data", str(tmp_path / "bad" / "b.parquet"), "--shards", "2", "--out",
                          str(tmp_path / "runs"), "--run-id", "q"], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing column(s) user" in bad.stderr, bad.stderr[-2000:]
    assert not (tmp_path / "runs" / "q" / "manifest.json").exists()


def test_a_bad_line_is_named_by_its_file_and_text_and_not_retried(log: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    lines = (log / "log" / "log.inter").read_text().splitlines()
    (folder / "bad.inter").write_text("\n".join([*lines[:50], "u7\ti3\tnoon\t1", *lines[50:]]) + "\n")
    shutil.copyfile(log / "log" / "log.item", folder / "bad.item")
    result = subprocess.run([sys.executable, "-m", "lifelong.spark.encode", "--cli", str(cli()), "--model",
                             str(log / "model"), "--data", str(folder), "--shards", "2", "--out",
                             str(tmp_path / "runs"), "--run-id", "x"], capture_output=True, text=True)
    assert result.returncode == 1
    shard = shard_of("u7", 2)
    assert (f"error: {folder / 'bad.inter'}: the line 'u7\\ti3\\tnoon\\t1': timestamp 'noon' is not a number "
            f"(shard {shard})") in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Exception in task" not in result.stderr  # reported, not retried
    run = tmp_path / "runs" / "x"
    assert not (run / "manifest.json").exists() and not (run / "_CURRENT").exists()
    assert not (run / "_routed").exists() and not (run / f"shard-{shard}").exists()


def test_the_executors_hash_the_users_when_they_are_many(log: Path, tmp_path: Path, monkeypatch) -> None:
    import lifelong.spark.encode as encode
    from pyspark.sql import SparkSession

    monkeypatch.setattr(encode, "DRIVER_USERS", 10)  # 200 users: the executors' path, then the broadcast
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        encode.Source(str(log / "log")).route(spark, 4, str(tmp_path / "routed"))
    finally:
        spark.stop()
    routed = {k: [line for part in sorted((tmp_path / "routed" / f"shard={k}").glob("part-*"))
                  for line in part.read_text().splitlines()] for k in range(4)}
    lines = (log / "log" / "log.inter").read_text().splitlines()[1:]
    assert sorted(sum(routed.values(), [])) == sorted(lines)
    for k, mine in routed.items():
        assert mine and all(shard_of(line.split("\t")[0], 4) == k for line in mine), k
