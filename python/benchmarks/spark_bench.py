"""The sharded encode on Spark against one `lifelong encode` process, on the same synthetic log, in one run.

usage: python python/benchmarks/spark_bench.py [--behaviors 10000000] [--users 2000] [--shards 4,2]
       [--master local[2]] [--cli .build/release/lifelong] [--work DIR]
Prints, per shard count, Spark's start-up, the route, the encode stage (first encode task start to manifest
written), the whole job, the single process's time, and the ratios (goals: encode stage ≥ 1.5× faster than the
single process on 2 cores; the whole job within 1.3× of it). d = 128 (d_item 96 + d_cat 32), v2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--behaviors", type=int, default=10_000_000)
    a.add_argument("--users", type=int, default=2000)
    a.add_argument("--shards", type=lambda v: [int(x) for x in v.split(",")], default=[4, 2],
                   help="shard counts, one job each (default 4,2)")
    a.add_argument("--master", default="local[2]")
    a.add_argument("--cli", default=".build/release/lifelong")
    a.add_argument("--work", default=tempfile.gettempdir())
    args = a.parse_args()
    cli = str(Path(args.cli).resolve())
    work = Path(tempfile.mkdtemp(prefix="lifelong-spark-bench-", dir=args.work))
    try:
        length = max(1, args.behaviors // args.users)
        subprocess.run([cli, "synth", "--out", str(work / "log"), "--users", str(args.users), "--length",
                        f"{length},{length}", "--seed", "1"], check=True, capture_output=True)
        subprocess.run([cli, "init-model", "--data", str(work / "log"), "--out", str(work / "model"), "--d-item", "96",
                        "--d-cat", "32", "--feedback"], check=True, capture_output=True)
        t0 = time.time()
        subprocess.run([cli, "encode", "--model", str(work / "model"), "--data", str(work / "log"), "--store",
                        str(work / "single"), "--quiet"], check=True, capture_output=True)
        single = time.time() - t0
        runs = {}
        for shards in args.shards:
            job = subprocess.run([sys.executable, "-m", "lifelong.spark.encode", "--model", str(work / "model"),
                                  "--data", str(work / "log"), "--shards", str(shards), "--out",
                                  str(work / f"runs-{shards}"), "--master", args.master, "--cli", cli], check=True,
                                 capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            runs[shards] = json.loads(job.stdout.strip().splitlines()[-1])
        print(f"{args.users * length:,} behaviors, {args.users:,} users of L = {length:,}, d = 128; {args.master}")
        print("| step | " + " | ".join(f"N = {n}" for n in runs) + " |")
        print("|---|" + "---:|" * len(runs))
        print("| one `lifelong encode` | " + " | ".join(f"{single:.1f}" for _ in runs) + " |")
        for key, name in (("spark_startup_s", "Spark start-up"),
                          ("route_s", "route (read, distinct users, join the user → shard table, write per shard)"),
                          ("encode_stage_s", "encode stage (first encode task start → manifest written)"),
                          ("route_and_encode_s", "route + encode stage"), ("job_s", "whole job")):
            print(f"| {name} | " + " | ".join(f"{r[key]:.1f}" for r in runs.values()) + " |")
        for n, r in runs.items():
            print(f"N = {n}: single over encode stage {single / r['encode_stage_s']:.2f}, over route + encode stage "
                  f"{single / r['route_and_encode_s']:.2f} (goal ≥ 1.5); whole job over single "
                  f"{r['job_s'] / single:.2f} (goal ≤ 1.3)")
            print(f"  per task (receive = routed lines to local disk, encode, verify --model, publish): "
                  f"{json.dumps(r['task_seconds'])}")
        print(json.dumps({"single_s": single, **{f"{k}@N{n}": r[k] for n, r in runs.items()
                                                  for k in ("spark_startup_s", "route_s", "encode_stage_s",
                                                            "route_and_encode_s", "job_s")}}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
