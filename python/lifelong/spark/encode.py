"""The BSE encode as a Spark job: a behavior log into N shard stores and their manifest.

usage: python -m lifelong.spark.encode --model DIR --data PATH --shards N --out DIR [--master local[2]]
       [--run-id ID] [--cli lifelong] [--max-failures 4]

- The log is read by Spark: a RecBole folder or ``.inter`` file (+ its ``.item`` catalog), JSON Lines
  (``behaviors.jsonl`` + ``items.jsonl``), or Parquet (columns ``user``, ``item``, ``timestamp``, optional
  ``label``; the catalog is the ``items.jsonl`` beside the dataset). Lines travel unparsed and never through
  Python; only the user id is read, to route it.
- shard = FNV-1a-64(UTF-8 user id) mod N, computed here in Python once per distinct user (the same as
  ``lifelong encode --shard K/N``; by the driver up to 200,000 users, by the executors beyond); Spark joins
  it to the lines and writes each shard's lines to ``OUT/<run-id>/_routed/shard=K/``. The encode stage then
  runs one task per shard through an identity partitioner (partition K holds key K, and the task checks it)
  that reads its own folder.
- Each task copies its lines and the whole item catalog to executor-local disk, runs ``lifelong encode
  --shard K/N`` and ``lifelong verify --model``, publishes a compacted copy (``mdb_copy -c``) to
  ``OUT/<run-id>/shard-K/attempt-A/`` and claims the shard (the first attempt to finish wins).
- The driver checks that every shard 0 … N−1 has a winner, writes ``manifest.json`` (the scorer's
  ``--manifest``) and then ``_CURRENT``, and deletes the losing attempts. A re-run with the same run id skips
  the shards already published.

Fault injection for tests: ``LIFELONG_SPARK_FAIL_SHARD=K`` makes the first attempt of shard K fail while its
encode runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

from lifelong import manifest as shard_manifest
from lifelong.log import InputError, column_names, locate
from lifelong.manifest import shard_of

DRIVER_USERS = 200_000  # up to this many distinct users the driver hashes them; beyond, the executors do
BROADCAST_USERS = 5_000_000  # up to this many the (user, shard) table is broadcast: the lines are not shuffled


# -- the log: lines, and the user id of each ---------------------------------------------------------------

class Source:
    """Where the behaviors are, how to read a line's user, and the catalog and header a task needs."""

    def __init__(self, path: str):
        p = Path(path)
        self.header, self.catalog = "", None
        if p.suffix == ".parquet" or (p.is_dir() and any(p.glob("*.parquet"))):
            self.kind, self.lines = "parquet", str(p)
            self.parquet_catalog(p)
            return
        try:
            self.kind, behaviors = locate(p)
        except InputError as e:
            raise SystemExit(f"{e}; nor is it a Parquet dataset") from None
        self.lines = str(behaviors)
        if self.kind == "recbole":
            with open(behaviors, encoding="utf-8") as f:
                self.header = f.readline().rstrip("\n").rstrip("\r")
            names = column_names(self.header)
            if "user_id" not in names:
                raise SystemExit(f"{behaviors}:1: missing column 'user_id' (header has {', '.join(names)})")
            self.user_column = names.index("user_id")
            catalog = behaviors.with_suffix(".item")
        else:
            catalog = behaviors.with_name("items.jsonl")
        self.catalog = str(catalog) if catalog.is_file() else None

    def parquet_catalog(self, dataset: Path) -> None:
        """A Parquet log's catalog is the ``items.jsonl`` beside the dataset (Spark reads every file inside it)."""
        items = dataset.parent / "items.jsonl"
        self.catalog = str(items) if items.is_file() else None

    def route(self, spark, shards: int, folder: str) -> None:
        """Writes the log's lines into ``folder/shard=K/`` by their user's shard, in the JVM: Python computes
        the shard once per distinct user (FNV-1a-64 mod N), Spark joins it to the lines and writes them out."""
        from pyspark.sql.functions import broadcast, col, struct, substring_index, to_json
        from pyspark.sql.types import IntegerType, StringType, StructField, StructType

        if self.kind == "parquet":
            df = spark.read.parquet(self.lines)
            absent = [c for c in ("user", "item", "timestamp") if c not in df.columns]
            if absent:
                raise SystemExit(f"{self.lines}: missing column(s) {', '.join(absent)} (has {', '.join(df.columns)})")
            fields = [c for c in ("user", "item", "timestamp", "label") if c in df.columns]
            lines = df.select(col("user").cast("string").alias("user"), to_json(struct(*fields)).alias("value"))
        else:
            text = spark.read.text(self.lines)
            if self.kind == "recbole":
                text = text.filter((col("value") != self.header) & (col("value") != ""))
                # Field k is what lies between the k-th and the (k+1)-th tab: two substring_index calls, no
                # array of every field per line (splitting the line costs more than the rest of the route).
                user = substring_index(col("value"), "\t", self.user_column + 1)
                if self.user_column > 0:
                    user = substring_index(user, "\t", -1)
                lines = text.select(user.alias("user"), "value")
            else:
                from pyspark.sql.functions import get_json_object
                text = text.filter(col("value") != "")
                lines = text.select(get_json_object(col("value"), "$.user").alias("user"), "value")
        schema = StructType([StructField("user", StringType()), StructField("shard", IntegerType())])
        # The distinct users are one shuffle of short strings: as many partitions as the cluster has cores.
        spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
        users = lines.select("user").distinct()
        few = users.limit(DRIVER_USERS + 1).collect()
        if len(few) <= DRIVER_USERS:  # no Python worker starts for a few hashes
            table = broadcast(spark.createDataFrame([(r["user"], shard_of(r["user"], shards)) for r in few], schema))
        else:
            table = spark.createDataFrame(users.rdd.map(lambda r: (r["user"], shard_of(r["user"], shards))),
                                          schema).cache()
            if table.count() <= BROADCAST_USERS:
                table = broadcast(table)
        if shards <= 256:  # one open file per shard in each task instead of sorting the task's lines by shard
            spark.conf.set("spark.sql.optimizer.plannedWrite.enabled", "false")
            spark.conf.set("spark.sql.maxConcurrentOutputFilePerTask", str(shards))
        (lines.join(table, "user").select("shard", "value").write.mode("overwrite").partitionBy("shard")
         .text(folder))

    def file_names(self) -> Tuple[str, str]:
        """The behaviors file and the catalog file a task writes (the folder layout `lifelong` reads)."""
        return ("log.inter", "log.item") if self.kind == "recbole" else ("behaviors.jsonl", "items.jsonl")


# -- one task: one shard -----------------------------------------------------------------------------------

class BadInput(Exception):
    """An error in the log itself: the same on every attempt, so reported to the driver instead of retried."""


def run(command: List[str], explain: Callable[[str], str | None] | None = None) -> str:
    """The command's output; raises `BadInput` when `explain` recognises its error, RuntimeError otherwise."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip()
        bad = explain(message) if explain else None
        if bad is not None:
            raise BadInput(bad)
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {message}")
    return result.stdout


def bad_input(message: str, index: int, source: Source, lines: Path, catalog: Path) -> str | None:
    """The encoder's error about the task's copy of the log, told in terms of the user's files; None for any
    other failure. The catalog is copied whole (its line numbers hold); the lines were routed, so the line is
    named by its text."""
    m = re.match(r"^Error: (.+?):(\d+): (.*)$", message.splitlines()[-1] if message else "")
    if m is None:
        return None
    path, line, what = m.group(1), int(m.group(2)), m.group(3)
    if path == str(catalog) and source.catalog:
        return f"{source.catalog}:{line}: {what}"
    if path != str(lines):
        return None
    with open(lines, "rb") as f:
        text = next((row for n, row in enumerate(f, start=1) if n == line), b"").decode("utf-8", "replace")
    return f"{source.lines}: the line {text.rstrip(chr(10))!r}: {what} (shard {index})"


def encode_shard(index: int, routed: str, *, model: str, source: Source, shards: int, run_folder: str, cli: str,
                 attempt: int) -> Iterator[dict]:
    shard_folder = Path(run_folder) / f"shard-{index}"
    winner = shard_folder / "WINNER.json"
    if winner.is_file():  # published by an earlier run with this run id
        yield {**json.loads(winner.read_text()), "skipped": True}
        return
    work = Path(tempfile.mkdtemp(prefix=f"lifelong-shard-{index}-"))
    clock = {"start": time.time()}
    try:
        log = work / "log"
        log.mkdir()
        behaviors, catalog = source.file_names()
        count = 0
        mine = Path(routed) / f"shard={index}"
        with open(log / behaviors, "wb") as out:
            if source.header:
                out.write((source.header + "\n").encode("utf-8"))
            for part in sorted(mine.glob("part-*")) if mine.is_dir() else []:  # a shard may have no users
                with open(part, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 22), b""):
                        out.write(chunk)
                        count += chunk.count(b"\n")
        if source.catalog:
            shutil.copyfile(source.catalog, log / catalog)
        clock["received"] = time.time()
        store = work / "store"
        encode = [cli, "encode", "--model", model, "--data", str(log), "--store", str(store),
                  "--shard", f"{index}/{shards}", "--quiet"]
        if os.environ.get("LIFELONG_SPARK_FAIL_SHARD") == str(index) and attempt == 0:
            process = subprocess.Popen(encode, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.2)
            process.kill()
            process.wait()
            raise RuntimeError(f"shard {index}: failing the first attempt mid-encode (LIFELONG_SPARK_FAIL_SHARD)")
        try:
            run(encode, explain=lambda message: bad_input(message, index, source, log / behaviors, log / catalog))
        except BadInput as bad:
            yield {"shard": index, "error": str(bad)}
            return
        clock["encoded"] = time.time()
        run([cli, "verify", "--store", str(store), "--model", model, "--quiet"])
        clock["verified"] = time.time()
        summary = json.loads(run([cli, "inspect", "--store", str(store), "--json"]))
        published = shard_folder / f"attempt-{attempt}"
        shutil.rmtree(published, ignore_errors=True)
        published.mkdir(parents=True)
        run(["mdb_copy", "-c", str(store), str(published)])
        data = published / "data.mdb"
        digest = hashlib.sha256()
        with open(data, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        row = {"shard": index, "path": f"shard-{index}/attempt-{attempt}", "users": summary["users"],
               "behaviors": summary["behaviors"], "bytes": data.stat().st_size, "sha256": digest.hexdigest(),
               "fingerprint": summary["fingerprint"], "attempt": attempt, "input_behaviors": count,
               "started": clock["start"],
               "seconds": {"receive": round(clock["received"] - clock["start"], 3),
                           "encode": round(clock["encoded"] - clock["received"], 3),
                           "verify": round(clock["verified"] - clock["encoded"], 3),
                           "publish": round(time.time() - clock["verified"], 3)}}
        try:  # the first attempt to get here wins the shard
            fd = os.open(winner, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            yield json.loads(winner.read_text())
            return
        with os.fdopen(fd, "w") as f:
            json.dump(row, f)
        yield row
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the driver --------------------------------------------------------------------------------------------

def write_manifest(run_folder: Path, shards: int) -> dict:
    """The winners of shards 0 … N−1 into ``manifest.json``; raises if a shard has none or the models differ."""
    winners = {}
    for k in range(shards):
        w = run_folder / f"shard-{k}" / "WINNER.json"
        if not w.is_file():
            raise RuntimeError(f"shard {k} of {shards} has no published store; nothing was marked current")
        winners[k] = json.loads(w.read_text())
    fingerprints = {w["fingerprint"] for w in winners.values()}
    if len(fingerprints) != 1:
        raise RuntimeError(f"the shards were encoded with different models: {sorted(fingerprints)}")
    rows = [shard_manifest.Shard(**{key: w[key] for key in shard_manifest.Shard.__dataclass_fields__})
            for _, w in sorted(winners.items())]
    shard_manifest.write(shard_manifest.Manifest(shards, fingerprints.pop(), rows), run_folder / "manifest.json")
    return winners


def local_master(master: str, max_failures: int) -> str:
    """`local[k]` retries no failed task; `local[k,F]` does (F attempts in all)."""
    if master.startswith("local[") and "," not in master:
        return f"{master[:-1]},{max_failures}]"
    return master


def _publish(run_folder: Path, winners: dict) -> None:
    """Marks the run's manifest current, then removes the losing attempts."""
    (run_folder / "_CURRENT.partial").write_text("manifest.json\n")
    os.replace(run_folder / "_CURRENT.partial", run_folder / "_CURRENT")
    for k, w in winners.items():
        for attempt in (run_folder / f"shard-{k}").glob("attempt-*"):
            if f"shard-{k}/{attempt.name}" != w["path"]:
                shutil.rmtree(attempt, ignore_errors=True)


def _default_cli() -> str:
    """$LIFELONG_CLI, else the CLI the wheel installs inside the package, else `lifelong` on the PATH."""
    from .._cli import bundled

    explicit = os.environ.get("LIFELONG_CLI")
    if explicit:
        return explicit
    inside = bundled()
    return str(inside) if inside is not None else "lifelong"


def _arguments(argv: List[str] | None) -> argparse.Namespace:
    """The command line, checked: the paths exist, the CLI and mdb_copy are found."""
    a = argparse.ArgumentParser(prog="python -m lifelong.spark.encode", description=__doc__.split("\n")[0])
    a.add_argument("--model", required=True, help="model bundle folder")
    a.add_argument("--data", required=True, help="RecBole folder/.inter, JSON Lines, or Parquet")
    a.add_argument("--shards", type=int, required=True, help="N: shard K holds the users of FNV-1a-64 mod N = K")
    a.add_argument("--out", required=True, help="folder of the runs: OUT/<run-id>/manifest.json")
    a.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    a.add_argument("--run-id", default=None, help="a re-run with the same id finishes only the missing shards")
    a.add_argument("--cli", default=_default_cli(),
                   help="the lifelong executable (default: $LIFELONG_CLI, else the one installed with this package)")
    a.add_argument("--max-failures", type=int, default=4, help="attempts per task (local masters too)")
    args = a.parse_args(argv)
    if args.shards < 1:
        a.error("--shards must be ≥ 1")
    for path, what in ((args.model, "--model"), (args.data, "--data")):
        if not Path(path).exists():
            a.error(f"{what} {path}: no such file or folder")
    if shutil.which(args.cli) is None and not Path(args.cli).is_file():
        a.error(f"--cli {args.cli}: not found (build it: swift build -c release --product lifelong)")
    if shutil.which("mdb_copy") is None:
        a.error("mdb_copy not found (Debian: lmdb-utils; Tools/setup.sh installs it)")
    return args


def main(argv: List[str] | None = None) -> int:
    args = _arguments(argv)
    source = Source(args.data)
    run_id = args.run_id or time.strftime("run-%Y%m%d-%H%M%S")
    run_folder = Path(args.out).resolve() / run_id
    run_folder.mkdir(parents=True, exist_ok=True)
    model, cli, shards = str(Path(args.model).resolve()), str(Path(shutil.which(args.cli) or args.cli).resolve()), \
        args.shards

    from pyspark import TaskContext
    from pyspark.sql import SparkSession

    if args.master.startswith("local"):  # the tasks run in this Python (Spark's default is `python3` on PATH)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.time()
    spark = (SparkSession.builder.master(local_master(args.master, args.max_failures)).appName("lifelong-encode")
             .config("spark.task.maxFailures", str(args.max_failures)).config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    up = time.time()
    routed = str(run_folder / "_routed")  # removed however the job ends: a re-run routes again
    try:
        missing = [k for k in range(shards) if not (run_folder / f"shard-{k}" / "WINNER.json").is_file()]
        if missing:
            source.route(spark, shards, routed)  # shard=K/ holds exactly the lines of shard K
        route_end = time.time()

        def task(index: int, keys):
            for k in keys:  # the identity partitioner: partition K holds the key K alone
                if k != index:
                    raise RuntimeError(f"task for shard {index} was given shard {k}")
            context = TaskContext.get()
            assert context is not None, "a Spark task runs with a TaskContext"
            attempt = context.attemptNumber()
            return encode_shard(index, routed, model=model, source=source, shards=shards, run_folder=str(run_folder),
                                cli=cli, attempt=attempt)

        keys = spark.sparkContext.parallelize([(k, None) for k in range(shards)], shards)
        rows = keys.partitionBy(shards, lambda k: k).keys().mapPartitionsWithIndex(task).collect()
        errors = sorted({r["error"] for r in rows if "error" in r})  # a bad catalog line: the same in every task
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        if errors:
            print("the log has errors: nothing was marked current; fix it and run again with a new --run-id",
                  file=sys.stderr)
            return 1
        try:
            winners = write_manifest(run_folder, shards)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 1
        written = time.time()
    finally:
        spark.stop()
        shutil.rmtree(routed, ignore_errors=True)
    _publish(run_folder, winners)
    ran_rows = [r for r in rows if not r.get("skipped")]
    ran = sorted({r["shard"] for r in ran_rows})
    print(json.dumps({"run": str(run_folder), "manifest": str(run_folder / "manifest.json"), "shards": shards,
                      "users": sum(w["users"] for w in winners.values()),
                      "behaviors": sum(w["behaviors"] for w in winners.values()),
                      "spark_startup_s": round(up - started, 3), "route_s": round(route_end - up, 3),
                      "encode_stage_s": round(written - min((r["started"] for r in ran_rows), default=written), 3),
                      "route_and_encode_s": round(written - up, 3),
                      "job_s": round(time.time() - started, 3), "published": ran,
                      "task_seconds": {r["shard"]: r.get("seconds") for r in ran_rows}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
