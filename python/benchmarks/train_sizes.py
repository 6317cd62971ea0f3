"""`lifelong train`'s settings against log size: test AUC of each single learning rate, the old default and the
search the trainer runs by default, on MovieLens-100K and synthetic logs of 10^5 … 10^7 behaviors (docs/BENCHMARKS.md,
"Trainer: settings against log size").

usage: python3 python/benchmarks/train_sizes.py [--bin .build/release/lifelong] [--work Output/train-sizes]
       [--sizes 1e5,1e6,1e7] [--seeds 1,2] [--batches 1024] [--no-movielens] [--json FILE] [-- TRAIN FLAGS]

For each log and seed, one `lifelong train --seed S` with no --lr: it runs every searched learning rate from the
same initial weights and sample order and records each run's valid and test AUC in training.json (the test AUC
is reported, never compared), so one run gives every single setting and the default's choice. The old default
(lr 3e-4, at most 20 epochs) is the 3e-4 run whenever that run ended within 20 epochs; otherwise it is trained
as such. Synthetic logs: `lifelong synth --users U --length 300,3000 --seed S`, U = size / 1,173 (the mean of the
log-uniform length), the hidden click model of `Tools/train-synth.sh`. Goal: the default is the best single
setting or within one seed's spread of it (the larger of the two seeds' differences between settings), on every
log. Flags after `--` go to every `lifelong train` (e.g. `-- --lr-decay 0.1`). Standard library only; every run
is bounded by the trainer's epoch cap.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
MEAN_LENGTH = (3000 - 300) / math.log(10)


def train(bin_: str, data: Path, out: Path, seed: int, extra: List[str]) -> Dict[str, Any]:
    cmd = [bin_, "train", "--data", str(data), "--out", str(out), "--seed", str(seed), "--quiet", *extra]
    started = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    report: Dict[str, Any] = json.loads((out / "training.json").read_text())
    report["wall"] = time.time() - started
    return report


def row(bin_: str, name: str, data: Path, seed: int, work: Path, batch: int, flags: List[str]) -> Dict[str, Any]:
    out = work / f"{name}-seed{seed}-batch{batch}"
    report = train(bin_, data, out, seed, ["--batch", str(batch), *flags])
    runs = {f"{c['learningRate']:g}": c for c in report["candidates"]}
    kept = report["candidates"][report["kept"]]
    old = runs["0.0003"]
    old_test = old["testAUC"]
    if old["epochs"] > 20:  # the old default stopped at 20 epochs
        old_test = train(bin_, data, work / f"{name}-seed{seed}-old", seed, ["--lr", "3e-4", "--epochs", "20"])[
            "test"]["auc"]
    return {
        "log": name, "seed": seed, "batch": batch,
        "runs": {lr: {k: c[k] for k in ("validAUC", "testAUC", "epochs", "bestEpoch", "seconds", "stoppedByEpochCap")}
                 for lr, c in runs.items()},
        "old_default_test": old_test, "kept_lr": f"{kept['learningRate']:g}", "default_test": kept["testAUC"],
        "seconds": report["wall"], "samples_per_second": report["epochs"][0]["samplesPerSecond"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / ".build/release/lifelong"))
    ap.add_argument("--work", default=str(ROOT / "Output/train-sizes"))
    ap.add_argument("--sizes", default="1e5,1e6,1e7", help="synthetic log sizes in behaviors")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--batches", default="1024", help="batch sizes, each a search per log and seed")
    ap.add_argument("--no-movielens", action="store_true")
    ap.add_argument("--json", help="also write every row here")
    ap.add_argument("flags", nargs="*", help="after --: more flags for every lifelong train")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    logs: List[tuple] = []
    if not a.no_movielens:
        logs += [("ml-100k", lambda seed: ROOT / "Data/ml-100k")]
    for size in [float(s) for s in a.sizes.split(",") if s]:
        users = max(1, round(size / MEAN_LENGTH))

        def make(seed: int, users: int = users, size: float = size) -> Path:
            folder = work / "logs" / f"synth-{size:.0e}-seed{seed}".replace("+0", "")
            if not (folder / (folder.name + ".inter")).exists():
                subprocess.run([a.bin, "synth", "--out", str(folder), "--users", str(users), "--length",
                                "300,3000", "--seed", str(seed)], check=True, capture_output=True)
            return folder
        logs.append((f"synth {size:.0e}".replace("+0", ""), make))
    rows: List[Dict[str, Any]] = []
    for name, make in logs:
        for batch in batches:
            for seed in seeds:
                data = make(seed)
                r = row(a.bin, name.replace(" ", "-"), data, seed, work, batch, a.flags)
                r["log"] = name
                rows.append(r)
                runs = ", ".join(f"{lr} {v['testAUC']:.4f} (valid {v['validAUC']:.4f}, {v['bestEpoch']}/{v['epochs']}"
                                 f"{', cap' if v['stoppedByEpochCap'] else ''}, {v['seconds']:.0f} s)"
                                 for lr, v in r["runs"].items())
                print(f"{name} batch {batch} seed {seed}: {runs}; old default {r['old_default_test']:.4f}; "
                      f"default keeps {r['kept_lr']}: {r['default_test']:.4f} ({r['seconds']:.0f} s, "
                      f"{r['samples_per_second'] / 1e3:.0f} k samples/s)", flush=True)
                if a.json:
                    Path(a.json).write_text(json.dumps(rows, indent=1))
    print()
    print("| log | batch | seed | old default | " + " | ".join(f"lr {lr}" for lr in rows[0]["runs"])
          + " | default (kept) | default − best single | seconds |")
    print("|---|---:|---:|---:|" + "---:|" * len(rows[0]["runs"]) + "---|---:|---:|")
    ok = True
    for r in rows:
        best = max(v["testAUC"] for v in r["runs"].values())
        print(f"| {r['log']} | {r['batch']} | {r['seed']} | {r['old_default_test']:.4f} | "
              + " | ".join(f"{v['testAUC']:.4f}" for v in r["runs"].values())
              + f" | {r['default_test']:.4f} ({r['kept_lr']}) | {r['default_test'] - best:+.4f} | {r['seconds']:.0f} |")
    # The goal: per log (and batch), the default's mean over seeds within one seed's spread of the best setting's.
    print()
    for name, _ in logs:
        for batch in batches:
            mine = [r for r in rows if r["log"] == name and r["batch"] == batch]
            lrs = list(mine[0]["runs"])
            means = {lr: sum(r["runs"][lr]["testAUC"] for r in mine) / len(mine) for lr in lrs}
            spread = max(max(r["runs"][lr]["testAUC"] for r in mine) - min(r["runs"][lr]["testAUC"] for r in mine)
                         for lr in lrs)
            default = sum(r["default_test"] for r in mine) / len(mine)
            old = sum(r["old_default_test"] for r in mine) / len(mine)
            best_lr = max(means, key=lambda lr: means[lr])
            met = default >= means[best_lr] - spread
            ok &= met
            print(f"{name} batch {batch}: mean test AUC old default {old:.4f}, "
                  + ", ".join(f"{lr} {m:.4f}" for lr, m in means.items())
                  + f"; default {default:.4f}; best single {best_lr} ({means[best_lr]:.4f}), seed spread {spread:.4f}: "
                  + ("met" if met else "NOT met"))
    print("goal met on every log" if ok else "goal NOT met on every log")


if __name__ == "__main__":
    main()
