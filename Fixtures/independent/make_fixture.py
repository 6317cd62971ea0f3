"""Writes an independent lifelong.model.v1 bundle, a behavior log and reference probabilities.

Independent of the Swift code: it follows docs/MODEL.md only, with numpy (float64 math) and the
Hugging Face `safetensors` package. Run once; its outputs are committed and checked by
Tests/ScorerTests (IndependentBundleTests). Re-run only to change the fixture:

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install numpy safetensors
    /tmp/fx/bin/python Fixtures/independent/make_fixture.py
"""
import json
import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261122)

# Shapes (small, but every part of the model is present; d = 10 is not a multiple of 4 or 16).
n_items, n_cats, d_item, d_cat = 30, 5, 7, 3
d = d_item + d_cat
m, tau, K, H, d_a, h1, h2 = 15, 3, 4, 2, 6, 9, 5
n_sig, buckets = m // tau, 2 ** tau

def linear(out, inp):
    a = 3 / np.sqrt(inp)   # wider than PyTorch's default so probabilities spread out and errors show
    return rng.uniform(-a, a, (out, inp)).astype(np.float32), rng.uniform(-a, a, out).astype(np.float32)

T = {
    "item_embedding": rng.normal(0, 1, (n_items + 1, d_item)).astype(np.float32),
    "category_embedding": rng.normal(0, 1, (n_cats + 1, d_cat)).astype(np.float32),
    "sdim.projection": rng.normal(0, 1, (m, d)).astype(np.float32),
}
layers = {"short_attention.query": (d_a, d), "short_attention.key": (d_a, d), "short_attention.value": (d_a, d),
          "short_attention.output": (d, d_a), "mlp.0": (h1, 5 * d), "mlp.1": (h2, h1), "mlp.2": (1, h2)}
for name, (o, i) in layers.items():
    T[name + ".weight"], T[name + ".bias"] = linear(o, i)

os.makedirs(os.path.join(HERE, "model"), exist_ok=True)
save_file(T, os.path.join(HERE, "model", "model.safetensors"),
          metadata={"format": "lifelong.model.v1", "tau": str(tau), "short_window": str(K), "heads": str(H),
                    "projection_seed": "20261122", "created_by": "Fixtures/independent/make_fixture.py"})
# Vocabulary: items "a0".."a29" on rows 1..30 in a shuffled order; categories "k0".."k4".
item_ids = [f"a{i}" for i in range(n_items)]
rows = rng.permutation(n_items) + 1
item_row = dict(zip(item_ids, rows.tolist()))
cat_row = {f"k{c}": c + 1 for c in range(n_cats)}
with open(os.path.join(HERE, "model", "vocab.tsv"), "w") as f:
    for i in item_ids:
        f.write(f"item\t{i}\t{item_row[i]}\n")
    for c, r in cat_row.items():
        f.write(f"category\t{c}\t{r}\n")

# Items "a30", "a31" are outside the vocabulary (row 0); "a5" has no category (row 0).
catalog = {f"a{i}": f"k{i % n_cats}" for i in range(n_items + 2) if i != 5}
users = {"alice": 0, "bob": 1, "carol": 3, "dave": 4, "erin": 5, "frank": 37}
log = []
for u, n in users.items():
    t = 1_700_000_000
    for _ in range(n):
        t += int(rng.integers(0, 2))   # ties: ordered by item id as bytes ("a10" < "a9")
        log.append({"user": u, "item": f"a{int(rng.integers(0, n_items + 2))}", "timestamp": t})
os.makedirs(os.path.join(HERE, "log"), exist_ok=True)
with open(os.path.join(HERE, "log", "behaviors.jsonl"), "w") as f:
    for b in log:
        f.write(json.dumps(b) + "\n")
with open(os.path.join(HERE, "log", "items.jsonl"), "w") as f:
    for i in sorted(catalog):
        f.write(json.dumps({"item": i, "category": catalog[i]}) + "\n")

W = {k: v.astype(np.float64) for k, v in T.items()}

def e(item):
    r = item_row.get(item, 0)
    c = cat_row.get(catalog.get(item, ""), 0)
    return np.concatenate([W["item_embedding"][r], W["category_embedding"][c]])

def sig(v):
    bits = (W["sdim.projection"] @ v > 0).astype(int)
    return [sum(bits[g * tau + t] << t for t in range(tau)) for g in range(n_sig)]

def lin(name, x):
    return W[name + ".weight"] @ x + W[name + ".bias"]

def long_sdim(q, seq):
    sq, u = sig(q), np.zeros(d)
    sigs = [sig(s) for s in seq]
    for g in range(n_sig):
        S = sum((s for s, ss in zip(seq, sigs) if ss[g] == sq[g]), np.zeros(d))
        norm = np.linalg.norm(S)
        if norm > 0:
            u += S / max(norm, 1e-12) / n_sig
    return u

def attention(q, xs):
    if not xs:
        return np.zeros(d)
    dh = d_a // H
    Q = lin("short_attention.query", q)
    Ks = np.array([lin("short_attention.key", x) for x in xs])
    Vs = np.array([lin("short_attention.value", x) for x in xs])
    o = np.zeros(d_a)
    for h in range(H):
        sl = slice(h * dh, (h + 1) * dh)
        logits = Ks[:, sl] @ Q[sl] / np.sqrt(dh)
        w = np.exp(logits - logits.max())
        o[sl] = (w / w.sum()) @ Vs[:, sl]
    return lin("short_attention.output", o)

def probability(user, item, mode):
    mine = sorted((b for b in log if b["user"] == user), key=lambda b: (b["timestamp"], b["item"].encode()))
    seq = [e(b["item"]) for b in mine]
    q = e(item)
    long = {"bse": lambda: long_sdim(q, seq), "online": lambda: long_sdim(q, seq),
            "full": lambda: attention(q, seq), "short": lambda: np.zeros(d)}[mode]()
    short = attention(q, seq[-K:])
    z = np.concatenate([q, long, short, q * long, q * short])
    a1 = np.maximum(lin("mlp.0", z), 0)
    a2 = np.maximum(lin("mlp.1", a1), 0)
    return float(1 / (1 + np.exp(-lin("mlp.2", a2)[0])))

rows_out = []
for u in list(users) + ["stranger"]:
    for item in ["a0", "a5", "a10", "a9", "a30", "zz"]:
        for mode in ["bse", "online", "full", "short"]:
            rows_out.append({"user": u, "item": item, "mode": mode, "p": probability(u, item, mode)})
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump({"generator": "Fixtures/independent/make_fixture.py", "rows": rows_out}, f, indent=0)
print(f"wrote {len(rows_out)} reference probabilities")
