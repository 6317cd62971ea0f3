"""Train the v2 SDIM model on MovieLens-100K in PyTorch, export the bundle, and replay it with Lifelong.

usage: python python/examples/train_movielens.py [--data Data/ml-100k] [--out Output/torch-movielens]
       [--epochs 100] [--batch 1024] [--lr LR] [--patience 2] [--seed 1] [--cli .build/release/lifelong]

The project's time split (80/10/10 of the log in time order), samples and click rule (rating ≥ 4) come from
`lifelong.log`, so the numbers compare with `lifelong train`. Batches hold samples of similar history length
(less padding; every gradient exact), in a seeded random order. Early stopping on the valid AUC keeps the
best epoch. Without --lr, as `lifelong train`: one run per learning rate of 3e-4, 1e-3 and 3e-3, each from the
same initial weights and sample order, and the one with the best valid AUC is kept (the test split never
chooses). Then `lifelong replay --split-time <test time> --modes bse` scores the test period through the
store and the scorer, and its AUC is printed next to the PyTorch one.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lifelong.log as ll  # noqa: E402
import lifelong.torch as lt  # noqa: E402


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties get half credit)."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = y.sum()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def batches(samples: list, size: int, rng: random.Random) -> list:
    by_length = sorted(samples, key=lambda s: (s.position, rng.random()))
    chunks = [by_length[k:k + size] for k in range(0, len(by_length), size)]
    rng.shuffle(chunks)
    return chunks


def predict(model, samples, part, vocabulary, size=2048) -> np.ndarray:
    out = np.empty(len(part))
    order = sorted(range(len(part)), key=lambda k: part[k].position)
    with torch.no_grad():
        for k in range(0, len(order), size):
            idx = order[k:k + size]
            batch, _ = lt.make_batch(samples, [part[i] for i in idx], vocabulary)
            out[idx] = torch.sigmoid(model(batch, "sdim")).numpy()
    return out


SEARCHED_LEARNING_RATES = [3e-4, 1e-3, 3e-3]  # lifelong train's (TrainingOptions.searchedLearningRates)


def fit(args: argparse.Namespace, samples: ll.Samples, vocabulary: lt.Vocabulary, valid_y: np.ndarray,
        lr: float) -> Tuple[lt.LifelongModel, Tuple[float, int, Dict[str, torch.Tensor]]]:
    """One run from the seed's initial weights and sample order: the model at its best valid AUC, and
    (valid AUC, best epoch, weights)."""
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    config = lt.Config(n_items=len(vocabulary.items) + 1, n_categories=len(vocabulary.categories) + 1,
                       projection_seed=args.seed, feedback=True)
    model = lt.LifelongModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        for part in batches(samples.train, args.batch, rng):
            batch, labels = lt.make_batch(samples, part, vocabulary)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch, "sdim"), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        valid_auc = auc(predict(model, samples, samples.valid, vocabulary), valid_y)
        print(f"epoch {epoch}: valid AUC {valid_auc:.4f} ({len(samples.train) / (time.time() - t0):.0f} samples/s)",
              flush=True)
        if valid_auc > best[0]:
            best = (valid_auc, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        if epoch - best[1] >= args.patience:
            break
    if best[1] == args.epochs:
        print(f"still improving when --epochs {args.epochs} ended it", flush=True)
    model.load_state_dict(best[2])
    return model, best


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
    valid_y = np.array([s.label for s in samples.valid], dtype=float)
    started = time.time()
    runs: List[Tuple[lt.LifelongModel, Tuple[float, int, Dict[str, torch.Tensor]]]] = []
    for lr in [args.lr] if args.lr else SEARCHED_LEARNING_RATES:
        t0 = time.time()
        model, best = fit(args, samples, vocabulary, valid_y, lr)
        print(f"learning rate {lr:g}: valid AUC {best[0]:.4f}, best epoch {best[1]}, {time.time() - t0:.0f} s",
              flush=True)
        if not runs or best[0] > runs[-1][1][0]:  # the first best valid AUC is kept, as lifelong train keeps it
            runs.append((model, best))
    model, best = runs[-1]
    test = sorted(samples.test, key=lambda s: s.order)
    test_auc = auc(predict(model, samples, test, vocabulary), np.array([s.label for s in test], dtype=float))
    print(f"PyTorch: best epoch {best[1]}, valid AUC {best[0]:.4f}, test AUC {test_auc:.4f} "
          f"({time.time() - started:.0f} s)")
    out = Path(args.out)
    lt.save_bundle(model, vocabulary, out / "model", metadata={"long_term": "sdim"})
    split = samples.test_time
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
