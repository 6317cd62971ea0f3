"""The Lifelong model (docs/MODEL.md, v1 and v2) as a ``torch.nn.Module``, and bundles in and out.

Train it where you train, export it with :func:`save_bundle`, serve the folder with Lifelong (``lifelong
encode`` + the scorer); :func:`load_bundle` brings any bundle back for fine-tuning or analysis.

>>> import lifelong.torch as lt
>>> model, vocabulary = lt.load_bundle("Output/quickstart/model")
>>> logits = model(lt.Batch.of(...), long="sdim")

``long``: ``"sdim"`` (Eq. 12 over the whole history; served by the ``bse``/``online`` modes), ``"full"``
(exact attention over the whole history; the ``full`` mode) or ``"none"`` (``u_long = 0``; the ``short``
mode). Needs ``torch`` (``pip install ./python[torch]``).
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from . import bundle as _bundle
from .bundle import FEEDBACK_ROWS, TEXT_WIDTH, Config, Vocabulary, gaussian_projection

if TYPE_CHECKING:
    from .log import Behavior, Item, Log, Sample, Samples

__all__ = ["Config", "Vocabulary", "Batch", "LifelongModel", "save_bundle", "load_bundle", "gaussian_projection",
           "make_batch", "request_batch", "vocabulary_of", "auc", "predict", "Run", "fit", "train",
           "SEARCHED_LEARNING_RATES"]

@dataclass
class Batch:
    """A padded batch. History position j < lengths[b] is valid (oldest first); padding is ignored.

    ``candidate_text`` / ``history_text``: the items' frozen text atoms x (zeros for an item without text);
    only for a model with a text projection. ``history_feedback``: 0 unknown, 1 not clicked, 2 clicked (v2).
    """

    candidate_item: Tensor  # [B] long
    candidate_category: Tensor  # [B] long
    history_item: Tensor  # [B, L] long
    history_category: Tensor  # [B, L] long
    lengths: Tensor  # [B] long
    history_feedback: Optional[Tensor] = None  # [B, L] long
    candidate_text: Optional[Tensor] = None  # [B, 384]
    history_text: Optional[Tensor] = None  # [B, L, 384]


def vocabulary_of(log: Log) -> Vocabulary:
    """The vocabulary ``lifelong init-model`` and ``lifelong train`` give a log."""
    items, categories = log.vocabulary_ids()
    return Vocabulary.of(items, categories)


def make_batch(samples: Samples, batch: Sequence[Sample], vocabulary: Vocabulary,
               texts: Optional[Dict[str, np.ndarray]] = None,
               dtype: torch.dtype = torch.float32) -> Tuple[Batch, Tensor]:
    """The padded batch of ``batch`` (samples of ``samples``) and its labels (0/1): each sample's candidate is
    its behavior, its history every earlier behavior of its user. ``texts``: item id → x (for a model with a
    text projection; an item without one gets zeros, i.e. ``b_t``)."""
    rows = [(samples.sequences[s.user][:s.position], samples.sequences[s.user][s.position].item) for s in batch]
    labels = torch.tensor([1.0 if s.label else 0.0 for s in batch], dtype=dtype)
    return _pad(rows, samples.items, vocabulary, texts, dtype), labels


def request_batch(history: Sequence[Behavior], candidates: Sequence[str], vocabulary: Vocabulary,
                  items: Dict[str, Item], texts: Optional[Dict[str, np.ndarray]] = None,
                  dtype: torch.dtype = torch.float32) -> Batch:
    """One request as the scorer sees it: ``candidates`` after the user's whole ``history`` (oldest first)."""
    return _pad([(list(history), c) for c in candidates], items, vocabulary, texts, dtype)


def _pad(rows: List[Tuple[List[Behavior], str]], items: Dict[str, Item], vocabulary: Vocabulary,
         texts: Optional[Dict[str, np.ndarray]], dtype: torch.dtype) -> Batch:
    from .log import FEEDBACK

    B = len(rows)
    L = max((len(h) for h, _ in rows), default=0)
    hi = np.zeros((B, max(L, 1)), dtype=np.int64)
    hc, hf = np.zeros_like(hi), np.zeros_like(hi)
    ci, cc = np.zeros(B, dtype=np.int64), np.zeros(B, dtype=np.int64)
    lengths = np.array([len(h) for h, _ in rows], dtype=np.int64)
    ct = ht = None
    if texts is not None:
        ct, ht = np.zeros((B, TEXT_WIDTH), dtype=np.float32), np.zeros((B, max(L, 1), TEXT_WIDTH), dtype=np.float32)

    def category(item: str) -> int:
        info = items.get(item)
        return vocabulary.category_row(info.category if info else None)

    for b, (history, candidate) in enumerate(rows):
        ci[b], cc[b] = vocabulary.item_row(candidate), category(candidate)
        if texts is not None and ct is not None and candidate in texts:
            ct[b] = texts[candidate]
        for j, h in enumerate(history):
            hi[b, j], hc[b, j], hf[b, j] = vocabulary.item_row(h.item), category(h.item), FEEDBACK[h.label]
            if texts is not None and ht is not None and h.item in texts:
                ht[b, j] = texts[h.item]
    t = torch.from_numpy
    return Batch(t(ci), t(cc), t(hi), t(hc), t(lengths), t(hf),
                 None if ct is None else t(ct).to(dtype), None if ht is None else t(ht).to(dtype))


class LifelongModel(nn.Module):
    """docs/MODEL.md: item vectors, SDIM's Eq. 12 (or full attention, or none), the short-term window's
    target attention and the MLP. Returns logits; ``sdim.projection`` is a buffer, never trained."""

    projection: Tensor
    #: The metadata a loaded bundle carried (``created_by``, ``long_term``, …), written again by save_bundle.
    bundle_metadata: Dict[str, str]

    def __init__(self, config: Config, projection: Optional[Tensor] = None):
        super().__init__()
        self.bundle_metadata = {}
        config.check()
        self.config = c = config
        d, da = c.d, c.attention_dim
        self.item_embedding = nn.Embedding(c.n_items, c.d_item)
        self.category_embedding = nn.Embedding(c.n_categories, c.d_cat)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        nn.init.normal_(self.category_embedding.weight, std=0.1)
        self.text_projection = nn.Linear(TEXT_WIDTH, c.d_text) if c.d_text > 0 else None
        self.feedback_embedding = nn.Embedding(FEEDBACK_ROWS, d) if c.feedback else None
        if self.feedback_embedding is not None:
            nn.init.normal_(self.feedback_embedding.weight, std=0.1)
        self.query, self.key, self.value = nn.Linear(d, da), nn.Linear(d, da), nn.Linear(d, da)
        self.output = nn.Linear(da, d)
        self.mlp0, self.mlp1, self.mlp2 = nn.Linear(5 * d, c.hidden[0]), nn.Linear(c.hidden[0], c.hidden[1]), \
            nn.Linear(c.hidden[1], 1)
        if projection is None:
            projection = torch.from_numpy(gaussian_projection(c.projection_seed, c.m, d))
        self.register_buffer("projection", projection.clone().to(torch.float32))

    # -- pieces of the model ----------------------------------------------------------------------------

    def item_vectors(self, items: Tensor, categories: Tensor, texts: Optional[Tensor]) -> Tensor:
        """``e(i) = [E_item[i], E_cat[cat], W_t x + b_t]``."""
        parts = [self.item_embedding(items), self.category_embedding(categories)]
        if self.text_projection is not None:
            if texts is None:
                texts = torch.zeros(*items.shape, TEXT_WIDTH, dtype=parts[0].dtype, device=items.device)
            parts.append(self.text_projection(texts.to(parts[0].dtype)))
        return torch.cat(parts, dim=-1)

    def signatures(self, vectors: Tensor) -> Tensor:
        """``sig_g(v) = Σ_t [P[gτ+t]·v > 0] 2^t`` for every signature g: ``[..., n_sig]`` (no gradient)."""
        c = self.config
        with torch.no_grad():
            bits = (vectors @ self.projection.to(vectors.dtype).T > 0).to(torch.long)
            bits = bits.reshape(*vectors.shape[:-1], c.signatures, c.tau)
            weights = 2 ** torch.arange(c.tau, device=vectors.device)
            return (bits * weights).sum(-1)

    def attend(self, q: Tensor, s: Tensor, mask: Tensor) -> Tensor:
        """Multi-head target attention of each candidate over its masked behaviors; 0 where none is valid."""
        c = self.config
        B, L, _ = s.shape
        H, dh = c.heads, c.attention_dim // c.heads
        Q = self.query(q).reshape(B, 1, H, dh).transpose(1, 2)  # [B, H, 1, dh]
        K = self.key(s).reshape(B, L, H, dh).transpose(1, 2)  # [B, H, L, dh]
        V = self.value(s).reshape(B, L, H, dh).transpose(1, 2)
        scores = (Q @ K.transpose(-1, -2)) / math.sqrt(dh)  # [B, H, 1, L]
        scores = scores.masked_fill(~mask[:, None, None, :], -1e30)  # exp underflows to exactly 0
        heads = (torch.softmax(scores, dim=-1) @ V).transpose(1, 2).reshape(B, c.attention_dim)
        u = self.output(heads)
        return torch.where(mask.any(dim=1, keepdim=True), u, torch.zeros_like(u))

    def sdim(self, q: Tensor, e_history: Tensor, s: Tensor, mask: Tensor) -> Tensor:
        """Eq. 12: per signature, the sum of the behaviors in the candidate's bucket, ℓ2-normalised; the mean."""
        sig_q, sig_h = self.signatures(q), self.signatures(e_history)  # [B, G], [B, L, G]
        match = ((sig_h == sig_q[:, None, :]) & mask[:, :, None]).to(s.dtype)  # [B, L, G]
        sums = torch.einsum("blg,bld->bgd", match, s)  # [B, G, d]
        square = (sums * sums).sum(-1, keepdim=True)
        nonempty = square > 0
        norm = torch.sqrt(torch.where(nonempty, square, torch.ones_like(square)))
        unit = torch.where(nonempty, sums / norm.clamp(min=1e-12), torch.zeros_like(sums))
        return unit.mean(dim=1)

    # -- forward ----------------------------------------------------------------------------------------

    def forward(self, batch: Batch, long: str = "sdim") -> Tensor:
        if long not in ("sdim", "full", "none"):
            raise ValueError(f"long is {long!r}; expected 'sdim', 'full' or 'none'")
        c = self.config
        q = self.item_vectors(batch.candidate_item, batch.candidate_category, batch.candidate_text)
        e = self.item_vectors(batch.history_item, batch.history_category, batch.history_text)
        s = e
        if self.feedback_embedding is not None:
            if batch.history_feedback is None:
                raise ValueError("a v2 model needs history_feedback")
            s = e + self.feedback_embedding(batch.history_feedback)
        L = s.shape[1]
        positions = torch.arange(L, device=s.device)[None, :]
        lengths = batch.lengths[:, None]
        valid = positions < lengths
        window = valid & (positions >= lengths - c.window)
        u_short = self.attend(q, s, window)
        if long == "sdim":
            u_long = self.sdim(q, e, s, valid)
        elif long == "full":
            u_long = self.attend(q, s, valid)
        else:
            u_long = torch.zeros_like(q)
        z = torch.cat([q, u_long, u_short, q * u_long, q * u_short], dim=-1)
        return self.mlp2(torch.relu(self.mlp1(torch.relu(self.mlp0(z))))).squeeze(-1)

    # -- tensors by bundle name -------------------------------------------------------------------------

    def named_bundle_tensors(self) -> Dict[str, Tensor]:
        """Every tensor under its ``model.safetensors`` name (docs/MODEL.md)."""
        t = {
            "item_embedding": self.item_embedding.weight, "category_embedding": self.category_embedding.weight,
            "sdim.projection": self.projection,
        }
        for name, layer in (("query", self.query), ("key", self.key), ("value", self.value), ("output", self.output)):
            t[f"short_attention.{name}.weight"], t[f"short_attention.{name}.bias"] = layer.weight, layer.bias
        for k, layer in enumerate((self.mlp0, self.mlp1, self.mlp2)):
            t[f"mlp.{k}.weight"], t[f"mlp.{k}.bias"] = layer.weight, layer.bias
        if self.text_projection is not None:
            t["text_projection.weight"], t["text_projection.bias"] = self.text_projection.weight, \
                self.text_projection.bias
        if self.feedback_embedding is not None:
            t["feedback_embedding"] = self.feedback_embedding.weight
        return t


# -- bundles ----------------------------------------------------------------------------------------------

def save_bundle(model: LifelongModel, vocabulary: Vocabulary, folder: os.PathLike | str,
                created_by: Optional[str] = None, metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes ``model.safetensors`` + ``vocab.tsv`` (float32) into ``folder``: a bundle Lifelong serves.

    The metadata is what the configuration implies, plus what a loaded bundle carried besides
    (``created_by``, ``long_term``, …), plus ``metadata``; so a loaded bundle saved again is the same bytes.
    """
    c = model.config
    carried = dict(getattr(model, "bundle_metadata", {}))
    if created_by is None:
        created_by = carried.get("created_by", "lifelong.torch")
    carried.update(metadata or {})
    metadata = carried
    if max(vocabulary.items.values(), default=0) >= c.n_items or \
            max(vocabulary.categories.values(), default=0) >= c.n_categories:
        raise ValueError("the vocabulary has rows outside the model's embedding tables")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().to(torch.float32).cpu().numpy() for name, t in model.named_bundle_tensors().items()}
    _bundle.write_safetensors(folder / "model.safetensors", tensors, _bundle.metadata(c, created_by, metadata))
    partial = folder / "vocab.tsv.partial"
    partial.write_text(vocabulary.tsv, encoding="utf-8")
    os.replace(partial, folder / "vocab.tsv")


def load_bundle(folder: os.PathLike | str, dtype: torch.dtype = torch.float32) -> Tuple[LifelongModel, Vocabulary]:
    """A bundle folder as a ``LifelongModel`` (in ``dtype``) and its vocabulary, after every check the Swift
    loader makes (``lifelong.bundle.load``: a damaged bundle raises ``lifelong.DamagedError`` naming the file
    and the tensor, a missing file ``lifelong.NotFoundError``)."""
    loaded = _bundle.load(folder)
    model = LifelongModel(loaded.config, projection=torch.from_numpy(loaded.tensors["sdim.projection"].copy()))
    model.bundle_metadata = dict(loaded.metadata)
    with torch.no_grad():
        for name, t in model.named_bundle_tensors().items():
            t.copy_(torch.from_numpy(loaded.tensors[name].copy()))
    return model.to(dtype), loaded.vocabulary


# -- training ---------------------------------------------------------------------------------------------

#: The learning rates ``lifelong train`` tries when none is given (``TrainingOptions.searchedLearningRates``).
SEARCHED_LEARNING_RATES: Tuple[float, ...] = (3e-4, 1e-3, 3e-3)


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve of scores ``p`` for 0/1 labels ``y`` (tied scores get half credit)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    positives = y.sum()
    if positives == 0 or positives == len(y):
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(len(p))
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], len(p)]
    for i, j in zip(starts, ends):  # a run of equal scores shares its mean rank
        ranks[order[i:j]] = (i + j - 1) / 2 + 1
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def predict(model: LifelongModel, samples: Samples, part: Sequence[Sample], vocabulary: Vocabulary,
            long: str = "sdim", size: int = 2048) -> np.ndarray:
    """P(click) of each sample of ``part``, in its order (batched by history length, without gradients)."""
    out = np.empty(len(part))
    order = sorted(range(len(part)), key=lambda k: part[k].position)
    with torch.no_grad():
        for k in range(0, len(order), size):
            idx = order[k:k + size]
            batch, _ = make_batch(samples, [part[i] for i in idx], vocabulary)
            out[idx] = torch.sigmoid(model(batch, long)).numpy()
    return out


@dataclass
class Run:
    """One training run: its learning rate, how it ended, and the model at its best valid AUC."""

    learning_rate: float
    valid_auc: float
    best_epoch: int
    epochs: int
    seconds: float
    stopped_by_epoch_cap: bool  # still improving when the epoch cap ended it
    model: LifelongModel


def _batches(samples: Sequence[Sample], size: int, rng: random.Random) -> List[List[Sample]]:
    """Batches of samples of similar history length (little padding), in a seeded random order."""
    by_length = sorted(samples, key=lambda s: (s.position, rng.random()))
    chunks = [by_length[k:k + size] for k in range(0, len(by_length), size)]
    rng.shuffle(chunks)
    return chunks


def fit(config: Config, samples: Samples, vocabulary: Vocabulary, learning_rate: float, *, seed: int = 1,
        long: str = "sdim", epochs: int = 100, batch: int = 1024, patience: int = 2,
        log: Optional[Callable[[str], None]] = None) -> Run:
    """Adam on ``samples.train`` from the initial weights of ``seed`` (``torch.manual_seed``), batches of
    ``batch`` samples in the seed's order, the valid AUC after every epoch, stopping after ``patience`` epochs
    without a better one (``epochs`` is a safety net); the model ends at its best epoch's weights."""
    started = time.time()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = LifelongModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    valid_y = np.array([s.label for s in samples.valid], dtype=float)
    best = (-math.inf, 0, {k: v.clone() for k, v in model.state_dict().items()})
    epoch = 0
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        for part in _batches(samples.train, batch, rng):
            inputs, labels = make_batch(samples, part, vocabulary)
            loss = nn.functional.binary_cross_entropy_with_logits(model(inputs, long), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        valid_auc = auc(predict(model, samples, samples.valid, vocabulary, long), valid_y)
        if log:
            log(f"epoch {epoch}: valid AUC {valid_auc:.4f} "
                f"({len(samples.train) / max(time.time() - t0, 1e-9):.0f} samples/s)")
        if valid_auc > best[0]:
            best = (valid_auc, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        if epoch - best[1] >= patience:
            break
    model.load_state_dict(best[2])
    return Run(learning_rate, best[0], best[1], epoch, time.time() - started, best[1] == epochs, model)


def train(config: Config, samples: Samples, vocabulary: Vocabulary,
          learning_rates: Sequence[float] = SEARCHED_LEARNING_RATES, *, seed: int = 1, long: str = "sdim",
          epochs: int = 100, batch: int = 1024, patience: int = 2,
          log: Optional[Callable[[str], None]] = None) -> Tuple[Run, List[Run]]:
    """What ``lifelong train`` does without ``--lr``: one :func:`fit` per learning rate, each from the same
    initial weights and sample order, and the run with the best valid AUC kept (the first on a tie; the test
    split is never read). Returns the kept run and every run in order."""
    if not learning_rates:
        raise ValueError("learning_rates is empty")
    runs: List[Run] = []
    for k, rate in enumerate(learning_rates):
        if log and len(learning_rates) > 1:
            log(f"learning rate {rate:g} (run {k + 1} of {len(learning_rates)}; the best valid AUC is kept)")
        run = fit(config, samples, vocabulary, rate, seed=seed, long=long, epochs=epochs, batch=batch,
                  patience=patience, log=log)
        if log:
            log(f"learning rate {rate:g}: valid AUC {run.valid_auc:.4f}, best epoch {run.best_epoch} of "
                f"{run.epochs}, {run.seconds:.1f} s" + (" (still improving at the epoch cap)"
                                                         if run.stopped_by_epoch_cap else ""))
        runs.append(run)
    # max keeps the first of equal values; a run without a valid AUC (one class in the split) ranks last
    kept = max(runs, key=lambda r: r.valid_auc if not math.isnan(r.valid_auc) else -math.inf)
    return kept, runs
