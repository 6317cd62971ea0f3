"""FuxiCTR 2.3.10's SDIM (its model_zoo/LongCTR) trained on a Lifelong log with the samples and time split of
`lifelong train`: the PyTorch peer of docs/BENCHMARKS.md, "Trainer: settings against log size".

set-up:  python/benchmarks/setup-peer.sh      (a separate virtualenv, .venv-bench/, never the product's)
usage:   .venv-bench/bin/python python/benchmarks/fuxictr_peer.py --data Data/ml-100k [--seed 1] [--lr 1e-3]
         [--batch 256] [--epochs 100] [--threads 2] [--json FILE]

Samples, labels (rating ≥ 4 on MovieLens) and the 80/10/10 time split come from `lifelong.log`, as for
`lifelong train`. Each history behavior is a FuxiCTR item token with three item-source features: the item, its
category and its feedback (unknown, not clicked, clicked; the candidate's is unknown), as Lifelong's v2 bundle
sees it; the whole history is the long sequence (no truncation) and its last 50 behaviors the short one.
FuxiCTR's SDIM with SDIM's signature shape (16 hashes × 3 bits, ℓ2-normalised bucket sums), 2 heads, MLP 200-80,
and FuxiCTR's own training: Adam (lr 1e-3), batches of 256 in a random order, gradient norm clipped at 10, the
learning rate divided by 10 on a plateau, early stopping after 2 epochs without a better valid AUC, and the best
checkpoint's test AUC (sklearn's). The samples are fed to `SDIM.fit` by a loader of the collator's format
(`batch_dict, item_dict, mask`, histories padded on the left), since FuxiCTR's own LongCTR loader reads parquet
files this log does not come in.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import fuxictr  # noqa: E402
import lifelong.log as ll  # noqa: E402
from fuxictr.features import FeatureMap  # noqa: E402
from fuxictr.pytorch.torch_utils import seed_everything  # noqa: E402

# The wheel installs FuxiCTR's model zoo beside the package.
sys.path.insert(0, str(Path(str(fuxictr.__file__)).resolve().parents[1] / "model_zoo" / "LongCTR"))
from SDIM.SDIM import SDIM  # noqa: E402

UNKNOWN, NOT_CLICKED, CLICKED = 1, 2, 3  # feedback values; 0 pads


class Tokens:
    """Behavior tokens (item, feedback) → rows of the item-info table; row 0 is padding."""

    def __init__(self, log: ll.Log, samples: ll.Samples):
        self.rows: Dict[Tuple[str, int], int] = {}
        items = sorted({b.item for seq in samples.sequences for b in seq} | set(log.items))
        categories = sorted({str(log.items[i].category) if i in log.items else "" for i in items})
        self.item_index = {item: k + 1 for k, item in enumerate(items)}
        self.category_index = {c: k + 1 for k, c in enumerate(categories)}
        self.log = log
        self.columns: Dict[str, List[int]] = {"item_id": [0], "cate_id": [0], "feedback": [0]}
        self.sequences = [np.array([self.row(b.item, self.feedback(b)) for b in seq], dtype=np.int64)
                          for seq in samples.sequences]

    @staticmethod
    def feedback(b: ll.Behavior) -> int:
        return UNKNOWN if b.label is None else CLICKED if b.label else NOT_CLICKED

    def row(self, item: str, feedback: int) -> int:
        key = (item, feedback)
        if key not in self.rows:
            self.rows[key] = len(self.columns["item_id"])
            category = str(self.log.items[item].category) if item in self.log.items else ""
            self.columns["item_id"].append(self.item_index[item])
            self.columns["cate_id"].append(self.category_index[category])
            self.columns["feedback"].append(feedback)
        return self.rows[key]

    def table(self) -> Dict[str, np.ndarray]:
        return {k: np.array(v, dtype=np.int64) for k, v in self.columns.items()}


class Loader:
    """Batches in FuxiCTR's LongCTR collator format: ({'label'}, {item feature: [B·(L+1)]}, mask [B, L]), the
    history padded on the left and the candidate last."""

    def __init__(self, samples: ll.Samples, part: Sequence[ll.Sample], tokens: Tokens, batch: int, shuffle: bool,
                 seed: int):
        self.samples, self.part, self.tokens, self.batch, self.shuffle = samples, list(part), tokens, batch, shuffle
        self.rng = np.random.default_rng(seed)
        self.candidates = np.array(
            [tokens.row(samples.sequences[s.user][s.position].item, UNKNOWN) for s in self.part], dtype=np.int64)
        self.table = tokens.table()  # with the candidates' rows

    def __len__(self) -> int:
        return math.ceil(len(self.part) / self.batch)

    def __iter__(self) -> Iterator[Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor], torch.Tensor]]:
        order = self.rng.permutation(len(self.part)) if self.shuffle else np.arange(len(self.part))
        for k in range(0, len(order), self.batch):
            idx = order[k:k + self.batch]
            length = max(1, max(self.part[i].position for i in idx))
            seqs = np.zeros((len(idx), length), dtype=np.int64)
            for r, i in enumerate(idx):
                s = self.part[i]
                if s.position:
                    seqs[r, length - s.position:] = self.tokens.sequences[s.user][:s.position]
            rows = np.hstack([seqs, self.candidates[idx, None]]).reshape(-1)
            items = {name: torch.from_numpy(column[rows]) for name, column in self.table.items()}
            labels = torch.tensor([float(self.part[i].label) for i in idx])
            yield {"label": labels}, items, torch.from_numpy(seqs > 0).float()


def feature_map(tokens: Tokens, work: Path, d_item: int, d_cat: int, d_feedback: int) -> FeatureMap:
    fm = FeatureMap("lifelong", str(work))
    fm.labels = ["label"]
    fm.default_emb_dim = d_item
    for name, dim, size in [("item_id", d_item, len(tokens.item_index) + 1),
                            ("cate_id", d_cat, len(tokens.category_index) + 1), ("feedback", d_feedback, 4)]:
        fm.features[name] = {"source": "item", "type": "categorical", "vocab_size": size, "padding_idx": 0,
                             "embedding_dim": dim}
    fm.num_fields = fm.get_num_fields()
    return fm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a behavior log lifelong reads (RecBole folder, JSON Lines, …)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3, help="FuxiCTR's SDIM default")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=100, help="at most; early stopping ends the run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.time()
    log = ll.read(a.data)
    samples = ll.Samples(log)
    tokens = Tokens(log, samples)
    train = Loader(samples, samples.train, tokens, a.batch, True, a.seed)
    valid = Loader(samples, samples.valid, tokens, a.batch * 8, False, a.seed)
    test = Loader(samples, samples.test, tokens, a.batch * 8, False, a.seed)
    print(f"{a.data}: {len(samples.train)} train, {len(samples.valid)} valid, {len(samples.test)} test samples; "
          f"{len(tokens.rows)} behavior tokens", flush=True)
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "lifelong").mkdir()  # FuxiCTR's checkpoint folder: model_root / dataset id
        seed_everything(a.seed)
        model = SDIM(feature_map(tokens, Path(work), 32, 16, 8), model_root=work, gpu=-1, verbose=0,
                     metrics=["AUC", "logloss"], optimizer="adam", loss="binary_crossentropy", learning_rate=a.lr,
                     dnn_hidden_units=[200, 80], attention_dim=32, num_heads=2, num_hashes=16, hash_bits=3,
                     l2_norm=True, short_seq_len=51, early_stop_patience=2)
        model.fit(train, epochs=a.epochs, validation_data=valid)
        figures: Dict[str, Any] = {
            "data": a.data, "seed": a.seed, "lr": a.lr, "batch": a.batch, "epochs": model._epoch_index + 1,
            "valid_auc": model.evaluate(valid)["AUC"], "test": model.evaluate(test), "seconds": time.time() - started,
        }
    print(f"FuxiCTR 2.3.10 SDIM: valid AUC {figures['valid_auc']:.4f}, test AUC {figures['test']['AUC']:.4f}, "
          f"logloss {figures['test']['logloss']:.4f}; {figures['epochs']} epochs, {figures['seconds']:.0f} s")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
