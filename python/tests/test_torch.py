"""lifelong.torch: the model in PyTorch equals the Swift scorer and trainer, and bundles go both ways."""

from __future__ import annotations

import filecmp
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import lifelong
import lifelong.log as ll
import lifelong.torch as lt
import numpy as np
import pytest
import torch
from conftest import DATA, ROOT, run_cli

MODES = {"bse": "sdim", "online": "sdim", "full": "full", "short": "none"}


def write_log(folder: Path, seed: int = 4, users: int = 12) -> Path:
    """A JSON Lines log: histories of 0 to 60 behaviors, ties in time, unknown labels, items without text."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for u in range(users):
        t = 1_000_000 + u
        for _ in range(rng.randrange(1, 60)):
            t += rng.choice([0, 0, 5, 60])  # equal timestamps are ordered by item id
            label = rng.choice([0, 1, None])
            entry = {"user": f"u{u}", "item": f"i{rng.randrange(30)}", "timestamp": t}
            if label is not None:
                entry["label"] = label
            lines.append(json.dumps(entry))
    (folder / "behaviors.jsonl").write_text("\n".join(lines) + "\n")
    items = [json.dumps({"item": f"i{k}", "category": f"c{k % 5}", **({"text": f"title number {k}"} if k % 3 else {})})
             for k in range(30)]
    (folder / "items.jsonl").write_text("\n".join(items) + "\n")
    return folder


def random_model(log: ll.Log, feedback: bool, text: bool, seed: int) -> tuple[lt.LifelongModel, lt.Vocabulary]:
    torch.manual_seed(seed)
    vocabulary = lt.vocabulary_of(log)
    config = lt.Config(n_items=len(vocabulary.items) + 1, n_categories=len(vocabulary.categories) + 1, d_item=8,
                       d_cat=4, d_text=3 if text else 0, m=12, tau=3, window=6, heads=2, attention_dim=8,
                       hidden=(16, 8), projection_seed=seed, feedback=feedback, text_layers=1)
    model = lt.LifelongModel(config)
    with torch.no_grad():  # spread the probabilities over (0, 1), so that errors cannot hide near 0.5
        for name, t in model.named_bundle_tensors().items():
            if name != "sdim.projection":
                t.mul_(8.0 if "embedding" in name else 2.5)
    return model, vocabulary


def text_atoms(log: ll.Log, layers: int) -> dict[str, np.ndarray]:
    """x(text) of every catalog item with a text, from `lifelong embed-text` (what the encoder caches)."""
    ids = [i for i, info in log.items.items() if info.text]
    out = run_cli("embed-text", "--layers", str(layers), "--model-dir", str(DATA / "all-MiniLM-L6-v2"),
                  *[str(log.items[i].text) for i in ids])
    vectors = [np.array(json.loads(line)["vector"], dtype=np.float32) for line in out.splitlines()]
    return dict(zip(ids, vectors))


@pytest.mark.parametrize("feedback,text", [(False, False), (True, False), (True, True)])
def test_a_bundle_saved_from_pytorch_scores_the_same_in_lifelong(tmp_path: Path, feedback: bool, text: bool) -> None:
    data = write_log(tmp_path / "log")
    log = ll.read(data)
    model, vocabulary = random_model(log, feedback, text, seed=7)
    lt.save_bundle(model, vocabulary, tmp_path / "model")
    run_cli("encode", "--model", str(tmp_path / "model"), "--data", str(data), "--store", str(tmp_path / "store"),
            "--quiet", *(["--text-model", str(DATA / "all-MiniLM-L6-v2")] if text else []))
    texts = text_atoms(log, 1) if text else None
    samples = ll.Samples(log, valid_fraction=0.0, test_fraction=0.0)
    candidates = [f"i{k}" for k in range(30)] + ["not-in-the-vocabulary"]
    worst = 0.0
    with lifelong.Scorer(tmp_path / "model", tmp_path / "store") as scorer:
        for u, user in enumerate(samples.users + ["cold-user"]):
            sequence = samples.sequences[u] if u < len(samples.users) else []
            batch = lt.request_batch(sequence, candidates, vocabulary, log.items, texts)
            for mode, long in MODES.items():
                swift = scorer.score(user, candidates, mode=mode)
                with torch.no_grad():
                    mine = torch.sigmoid(model(batch, long)).numpy()
                worst = max(worst, float(np.abs(mine - swift).max()))
    assert worst <= 1e-5, f"largest |PyTorch − Lifelong| = {worst}"


def test_a_bundle_trained_by_lifelong_reproduces_the_trainers_test_predictions(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    run_cli("synth", "--out", str(data), "--users", "30", "--length", "20,200", "--items", "300", "--clusters", "10",
            "--seed", "5")
    run_cli("train", "--data", str(data), "--out", str(tmp_path / "model"), "--long", "sdim", "--epochs", "2",
            "--d-item", "12", "--d-cat", "4", "--hidden", "16,8", "--predictions", str(tmp_path / "test.jsonl"),
            "--quiet")
    expected = [json.loads(line) for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    model, vocabulary = lt.load_bundle(tmp_path / "model")
    log = ll.read(data)
    samples = ll.Samples(log)
    assert [(samples.users[s.user], samples.sequences[s.user][s.position].item) for s in samples.test] == \
        [(e["user"], e["item"]) for e in expected]
    batch, _ = lt.make_batch(samples, samples.test, vocabulary)
    with torch.no_grad():
        mine = torch.sigmoid(model(batch, "sdim")).numpy()
    assert np.abs(mine - np.array([e["p"] for e in expected])).max() <= 1e-5
    # And the bundle round-trips byte for byte.
    lt.save_bundle(model, vocabulary, tmp_path / "again")
    for name in ("model.safetensors", "vocab.tsv"):
        assert filecmp.cmp(tmp_path / "model" / name, tmp_path / "again" / name, shallow=False), name


def test_padding_never_changes_a_result_and_gradients_flow(tmp_path: Path) -> None:
    log = ll.read(write_log(tmp_path / "log"))
    model, vocabulary = random_model(log, feedback=True, text=False, seed=3)
    samples = ll.Samples(log, valid_fraction=0.0, test_fraction=0.0)
    chosen = samples.test[:40]
    batch, labels = lt.make_batch(samples, chosen, vocabulary)
    for long in ("sdim", "full", "none"):
        together = model(batch, long)
        alone = torch.cat([model(lt.make_batch(samples, [s], vocabulary)[0], long) for s in chosen])
        assert torch.allclose(together, alone, atol=1e-5), long
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch, "sdim"), labels)
    loss.backward()
    assert model.projection.grad is None  # a buffer: never trained
    for name, t in model.named_bundle_tensors().items():
        if name != "sdim.projection" and name != "short_attention.key.bias":  # softmax ignores a shared shift
            assert t.grad is not None and t.grad.abs().sum() > 0, name


def test_a_model_saved_loads_back_the_same(tmp_path: Path) -> None:
    log = ll.read(write_log(tmp_path / "log"))
    model, vocabulary = random_model(log, feedback=True, text=True, seed=9)
    lt.save_bundle(model, vocabulary, tmp_path / "a")
    loaded, vocabulary2 = lt.load_bundle(tmp_path / "a")
    assert vocabulary2 == vocabulary and loaded.config == model.config
    lt.save_bundle(loaded, vocabulary2, tmp_path / "b")
    for name in ("model.safetensors", "vocab.tsv"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    with pytest.raises(FileNotFoundError, match="vocab.tsv"):
        lt.load_bundle(tmp_path / "log")


def test_readme_pytorch_example_runs(quickstart: Path, tmp_path: Path, movielens: Path) -> None:
    """The README's PyTorch example (the second Python block), with Data/ and Output/ beside it."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2, "README.md has no PyTorch example"
    example = blocks[1]
    assert len(example.strip().splitlines()) <= 20
    (tmp_path / "Data").mkdir()
    (tmp_path / "Data" / "ml-100k").symlink_to(movielens)
    (tmp_path / "Output").mkdir()
    # LIFELONG_CLI (the build under test) is in the environment; the example reads it.
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "Output" / "torch-model" / "model.safetensors").is_file()
    assert re.search(r"0\.\d+", result.stdout), result.stdout


def test_auc_equals_the_share_of_ordered_pairs() -> None:
    """lt.auc against counting every (positive, negative) pair, ties as half, on scores with many ties."""
    rng = np.random.default_rng(3)
    p = rng.integers(0, 6, size=300) / 5.0
    y = (rng.random(300) < 0.3).astype(float)
    pos, neg = p[y == 1], p[y == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert abs(lt.auc(p, y) - pairs / (len(pos) * len(neg))) < 1e-12
    assert np.isnan(lt.auc(p, np.ones(300)))


def test_the_searched_learning_rates_are_lifelong_trains() -> None:
    help_text = " ".join(run_cli("train", "--help").split())
    assert "each of " + ", ".join(f"{r:g}" for r in lt.SEARCHED_LEARNING_RATES) + ", keeping" in help_text


def test_the_learning_rate_search_keeps_the_best_valid_auc_and_never_reads_the_test_split(tmp_path: Path) -> None:
    def small(log: ll.Log) -> tuple[lt.Config, ll.Samples, lt.Vocabulary]:
        vocabulary = lt.vocabulary_of(log)
        config = lt.Config(n_items=len(vocabulary.items) + 1, n_categories=len(vocabulary.categories) + 1,
                           d_item=8, d_cat=4, m=12, tau=3, window=6, heads=2, attention_dim=8, hidden=(16, 8),
                           projection_seed=5, feedback=True)
        return config, ll.Samples(log), vocabulary

    folder = write_log(tmp_path / "log", seed=7, users=40)
    config, samples, vocabulary = small(ll.read(folder))
    kept, runs = lt.train(config, samples, vocabulary, seed=5, epochs=3, batch=64)
    assert [r.learning_rate for r in runs] == list(lt.SEARCHED_LEARNING_RATES)
    valid = [r.valid_auc for r in runs]
    assert kept is runs[valid.index(max(valid))], valid
    assert all(1 <= r.best_epoch <= r.epochs <= 3 for r in runs)
    # One rate alone is that run again: the same initial weights and sample order.
    alone = lt.fit(config, samples, vocabulary, kept.learning_rate, seed=5, epochs=3, batch=64)
    for name, t in kept.model.state_dict().items():
        assert torch.equal(t, alone.model.state_dict()[name]), name

    # Every label of the test period flipped: every run and the choice stay the same.
    lines = (folder / "behaviors.jsonl").read_text().splitlines()
    flipped = []
    for line in lines:
        entry = json.loads(line)
        if "label" in entry and entry["timestamp"] >= samples.test_time:
            entry["label"] = 1 - entry["label"]
        flipped.append(json.dumps(entry))
    (folder / "behaviors.jsonl").write_text("\n".join(flipped) + "\n")
    config2, samples2, vocabulary2 = small(ll.read(folder))
    assert [s.label for s in samples2.test] != [s.label for s in samples.test]
    kept2, runs2 = lt.train(config2, samples2, vocabulary2, seed=5, epochs=3, batch=64)
    assert [r.valid_auc for r in runs2] == valid
    assert kept2.learning_rate == kept.learning_rate
    for name, t in kept.model.state_dict().items():
        assert torch.equal(t, kept2.model.state_dict()[name]), name
