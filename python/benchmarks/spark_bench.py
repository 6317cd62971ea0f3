"""The sharded encode on Spark against one `lifelong encode` process, on the same synthetic log, in one run.

usage: python python/benchmarks/spark_bench.py [--behaviors 10000000] [--users 2000] [--shards 4]
       [--master local[2]] [--cli .build/release/lifelong] [--work DIR]
Prints Spark's start-up, the encode stage (first task to manifest written... as the job reports it) and the
whole job, the single process's time, and the two ratios (goals: encode stage ≥ 1.5× faster than the single
process on 2 cores; the whole job within 1.3× of it). d = 128 (d_item 96 + d_cat 32), v2.
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
    a.add_argument("--shards", type=int, default=4)
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
        job = subprocess.run([sys.executable, "-m", "lifelong.spark.encode", "--model", str(work / "model"), "--data",
                              str(work / "log"), "--shards", str(args.shards), "--out", str(work / "runs"),
                              "--master", args.master, "--cli", cli], check=True, capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1])
        r = json.loads(job.stdout.strip().splitlines()[-1])
        print(f"{args.users * length:,} behaviors, {args.users:,} users of L = {length:,}, d = 128; "
              f"{args.shards} shards on {args.master}")
        print("| step | seconds |")
        print("|---|---:|")
        print(f"| one `lifelong encode` | {single:.1f} |")
        print(f"| Spark start-up | {r['spark_startup_s']:.1f} |")
        print(f"| encode stage (read, route, shuffle, encode, verify, publish, manifest) | {r['encode_stage_s']:.1f} |")
        print(f"| whole job | {r['job_s']:.1f} |")
        print(f"single over encode stage: {single / r['encode_stage_s']:.2f} (goal ≥ 1.5); "
              f"whole job over single: {r['job_s'] / single:.2f} (goal ≤ 1.3)")
        print(f"per task (receive = routed lines written to local disk, encode, verify --model, publish): "
              f"{json.dumps(r['task_seconds'])}")
        print(json.dumps({"single_s": single, **{k: r[k] for k in ("spark_startup_s", "encode_stage_s", "job_s")}}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
