"""Train the v2 SDIM model on MovieLens-100K in PyTorch, export the bundle, and replay it with Lifelong.

usage: python python/examples/train_movielens.py [--data Data/ml-100k] [--out Output/torch-movielens]
       [--epochs 100] [--batch 1024] [--lr LR] [--patience 2] [--seed 1] [--cli .build/release/lifelong]

The project's time split (80/10/10 of the log in time order), samples and click rule (rating ≥ 4) come from
`lifelong.log`, so the numbers compare with `lifelong train`. Batches hold samples of similar history length
(less padding; every gradient exact), in a seeded random order. Early stopping on the valid AUC keeps the
best epoch. Without --lr, as `lifelong train`: `lifelong.torch.train` runs each learning rate of 3e-4, 1e-3 and
3e-3 from the same initial weights and sample order, and keeps the one with the best valid AUC (the test split
never chooses). Then `lifelong replay --split-time <test time> --modes bse` scores the test period through the
store and the scorer, and its AUC is printed next to the PyTorch one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lifelong.log as ll  # noqa: E402
import lifelong.torch as lt  # noqa: E402


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--data", default="Data/ml-100k")
    a.add_argument("--out", default="Output/torch-movielens")
    a.add_argument("--epochs", type=int, default=100, help="at most; early stopping ends a run")
    a.add_argument("--batch", type=int, default=1024)
    a.add_argument("--lr", type=float, help="one learning rate (default: the best valid AUC of 3e-4, 1e-3, 3e-3)")
    a.add_argument("--patience", type=int, default=2)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--cli", default=".build/release/lifelong", help="the lifelong executable, for the replay")
    args = a.parse_args()

    log = ll.read(args.data)
    samples, vocabulary = ll.Samples(log), lt.vocabulary_of(log)
    config = lt.Config(n_items=len(vocabulary.items) + 1, n_categories=len(vocabulary.categories) + 1,
                       projection_seed=args.seed, feedback=True)
    started = time.time()
    run, _ = lt.train(config, samples, vocabulary, [args.lr] if args.lr else lt.SEARCHED_LEARNING_RATES,
                      seed=args.seed, epochs=args.epochs, batch=args.batch, patience=args.patience,
                      log=lambda line: print(line, flush=True))
    if run.stopped_by_epoch_cap:
        print(f"still improving when --epochs {args.epochs} ended it", flush=True)
    model = run.model
    test = sorted(samples.test, key=lambda s: s.order)
    test_auc = lt.auc(lt.predict(model, samples, test, vocabulary), np.array([s.label for s in test], dtype=float))
    print(f"PyTorch: learning rate {run.learning_rate:g}, best epoch {run.best_epoch}, valid AUC "
          f"{run.valid_auc:.4f}, test AUC {test_auc:.4f} ({time.time() - started:.0f} s)")
    out = Path(args.out)
    lt.save_bundle(model, vocabulary, out / "model", metadata={"long_term": "sdim"})
    split = samples.test_time
    shutil.rmtree(out / "replay", ignore_errors=True)  # the replay builds its own store; a rerun replaces it
    replay = subprocess.run(
        [args.cli, "replay", "--model", str(out / "model"), "--data", args.data, "--report", str(out / "replay"),
         "--split-time", str(int(split)) if float(split).is_integer() else repr(split), "--modes", "bse",
         "--durability", "nosync", "--quiet"], capture_output=True, text=True)
    if replay.returncode != 0:
        sys.exit(f"lifelong replay failed:\n{replay.stderr}")
    replayed = json.loads((out / "replay" / "report.json").read_text())["modes"][0]["auc"]
    print(f"lifelong replay of {out / 'model'} (bse): test AUC {replayed:.4f}; "
          f"difference {abs(replayed - test_auc):.5f}")


if __name__ == "__main__":
    main()
