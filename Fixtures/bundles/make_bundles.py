"""Writes the bundle corpus: one folder per case under Fixtures/bundles/ with model.safetensors, vocab.tsv and
expected.json — a good bundle's shape and fingerprint, or a damaged bundle's error (kind and message; {bundle}
stands for the case folder). Swift's ModelBundle and Python's lifelong.bundle.load (under lifelong.torch's
load_bundle) must treat every case alike (Tests/ModelTests/BundleCorpusTests.swift,
python/tests/test_bundle_corpus.py).

The files are written here with numpy and the safetensors layout itself (8-byte length, JSON header, data),
not with either implementation's writer. Each damaged case changes one thing of the good v1 bundle.
Run from the repository root: python3 Fixtures/bundles/make_bundles.py (it rewrites every case folder).
"""

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
D_ITEM, D_CAT, M, TAU, WINDOW, HEADS, DA, H1, H2 = 4, 2, 6, 3, 3, 2, 4, 3, 2
D = D_ITEM + D_CAT
VOCAB = "item\ta\t1\nitem\tb\t2\nitem\tc\t3\ncategory\tx\t1\n"


def base(feedback=False, d_text=0):
    rng = np.random.default_rng(20261203)
    d = D + d_text

    def t(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    tensors = {"item_embedding": t(4, D_ITEM), "category_embedding": t(2, D_CAT), "sdim.projection": t(M, d)}
    for p in ("query", "key", "value"):
        tensors[f"short_attention.{p}.weight"], tensors[f"short_attention.{p}.bias"] = t(DA, d), t(DA)
    tensors["short_attention.output.weight"], tensors["short_attention.output.bias"] = t(d, DA), t(d)
    tensors["mlp.0.weight"], tensors["mlp.0.bias"] = t(H1, 5 * d), t(H1)
    tensors["mlp.1.weight"], tensors["mlp.1.bias"] = t(H2, H1), t(H2)
    tensors["mlp.2.weight"], tensors["mlp.2.bias"] = t(1, H2), t(1)
    if d_text:
        tensors["text_projection.weight"], tensors["text_projection.bias"] = t(d_text, 384), t(d_text)
    if feedback:
        tensors["feedback_embedding"] = t(3, d)
    meta = {"format": "lifelong.model.v2" if feedback else "lifelong.model.v1", "tau": str(TAU),
            "short_window": str(WINDOW), "heads": str(HEADS), "projection_seed": "7", "created_by": "make_bundles.py"}
    if d_text:
        meta["text_model"], meta["text_layers"] = "all-MiniLM-L6-v2", "2"
    return tensors, meta


def safetensors(tensors, meta, dtype="F32", header_patch=None):
    codes = {"F32": "<f4", "F16": "<f2"}
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if dtype == "BF16":
            raw = (np.ascontiguousarray(a, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
        else:
            raw = np.ascontiguousarray(a, dtype=codes[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if header_patch:
        header_patch(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


CASES = {}


def good(name, model, vocab=VOCAB, config=None):
    CASES[name] = ({"model.safetensors": model, "vocab.tsv": vocab.encode() if isinstance(vocab, str) else vocab},
                   {"config": config})


def bad(name, kind, message, model=None, vocab=VOCAB, drop=()):
    files = {"model.safetensors": model if model is not None else safetensors(*base()),
             "vocab.tsv": vocab.encode() if isinstance(vocab, str) else vocab}
    for f in drop:
        del files[f]
    CASES[name] = (files, {"error": {"kind": kind, "message": message}})


def config(feedback=False, d_text=0):
    return {"format": "lifelong.model.v2" if feedback else "lifelong.model.v1", "d": D + d_text, "d_item": D_ITEM,
            "d_cat": D_CAT, "d_text": d_text, "m": M, "tau": TAU, "window": WINDOW, "heads": HEADS,
            "attention_dim": DA, "hidden": [H1, H2], "n_items": 4, "n_categories": 2, "projection_seed": 7,
            "items": 3, "categories": 1}


def variant(change):
    tensors, meta = base()
    change(tensors, meta)
    return safetensors(tensors, meta)


MODEL = "{bundle}/model.safetensors"

# ---- good bundles ---------------------------------------------------------------------------------------
good("good-v1", safetensors(*base()), config=config())
good("good-v2", safetensors(*base(feedback=True)), config=config(feedback=True))
good("good-text", safetensors(*base(d_text=2)), config=config(d_text=2))
good("good-f16", safetensors(*base(), dtype="F16"), config=config())
good("good-bf16", safetensors(*base(), dtype="BF16"), config=config())
good("good-vocab-crlf", safetensors(*base()), VOCAB.replace("\n", "\r\n"), config=config())
good("good-vocab-blank-lines", safetensors(*base()), "\n" + VOCAB.replace("\n", "\n\n"), config=config())
good("good-extra-metadata-and-tensor", variant(lambda t, m: (m.update(long_term="sdim", note="a/b"),
                                                               t.update(extra=np.zeros((2,), np.float32)))),
     config=config())

# ---- missing files ------------------------------------------------------------------------------------
missing = "missing (a model bundle folder holds model.safetensors and vocab.tsv)"
bad("missing-model", "not_found", f"{MODEL}: {missing}", drop=["model.safetensors"])
bad("missing-vocab", "not_found", f"{{bundle}}/vocab.tsv: {missing}", drop=["vocab.tsv"])

# ---- safetensors layout -------------------------------------------------------------------------------
good_bytes = safetensors(*base())
bad("st-truncated-length", "damaged", f"{MODEL}: truncated: 5 bytes, not even the 8-byte header length",
    model=good_bytes[:5])
bad("st-header-too-long", "damaged", f"{MODEL}: header length 1099511627776 does not fit in a file of "
    f"{len(good_bytes)} bytes (truncated or not safetensors)", model=struct.pack("<Q", 1 << 40) + good_bytes[8:])
bad("st-header-not-json", "damaged", f"{MODEL}: header is not valid JSON",
    model=struct.pack("<Q", 8) + b"{not jso")
bad("st-header-not-object", "damaged", f"{MODEL}: header is not a JSON object",
    model=struct.pack("<Q", 8) + b"[1,2,3] ")
bad("st-metadata-not-object", "damaged", f"{MODEL}: __metadata__ is not an object",
    model=safetensors(*base(), header_patch=lambda h: h.update(__metadata__=[1])))
bad("st-metadata-not-string", "damaged", f"{MODEL}: __metadata__ value for 'tau' is not a string",
    model=safetensors(*base(), header_patch=lambda h: h["__metadata__"].update(tau=3)))
bad("st-entry-not-object", "damaged", f"{MODEL}: tensor 'mlp.2.bias': entry is not an object",
    model=safetensors(*base(), header_patch=lambda h: h.update({"mlp.2.bias": 4})))
bad("st-missing-dtype", "damaged", f"{MODEL}: tensor 'mlp.2.bias': missing dtype",
    model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].pop("dtype")))
bad("st-unsupported-dtype", "damaged", f"{MODEL}: tensor 'mlp.2.bias': unsupported dtype I8 (F32, F16, BF16, I64)",
    model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].update(dtype="I8")))
bad("st-bad-shape", "damaged", f"{MODEL}: tensor 'mlp.2.bias': shape is not a list of non-negative integers",
    model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].update(shape=[-1])))
bad("st-fractional-shape", "damaged", f"{MODEL}: tensor 'mlp.2.bias': shape is not a list of non-negative integers",
    model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].update(shape=[0.5])))
bad("st-bad-offsets", "damaged", f"{MODEL}: tensor 'mlp.2.bias': data_offsets is not [begin, end]",
    model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].update(data_offsets=[0])))
truncated = good_bytes[:-8]
data_length = len(truncated) - 8 - struct.unpack("<Q", truncated[:8])[0]
last = sorted(base()[0])[-1]
last_offsets = json.loads(good_bytes[8:8 + struct.unpack("<Q", good_bytes[:8])[0]])[last]["data_offsets"]
bad("st-truncated-data", "damaged", f"{MODEL}: tensor '{last}': data_offsets {last_offsets} outside the data "
    f"region of {data_length} bytes (truncated file?)", model=truncated)
bad("st-size-mismatch", "damaged", f"{MODEL}: tensor 'mlp.2.bias': byte size 4 does not match shape [2] × "
    "4-byte F32", model=safetensors(*base(), header_patch=lambda h: h["mlp.2.bias"].update(shape=[2])))


def overlap(h):
    h["mlp.2.bias"]["data_offsets"] = list(h["mlp.1.bias"]["data_offsets"][:1]) + \
        [h["mlp.1.bias"]["data_offsets"][0] + 4]


bad("st-overlap", "damaged", f"{MODEL}: tensor 'mlp.2.bias': data overlaps tensor 'mlp.1.bias'",
    model=safetensors(*base(), header_patch=overlap))

# ---- the bundle's metadata and shapes -------------------------------------------------------------------
both = "expected 'lifelong.model.v1' or 'lifelong.model.v2'"
bad("format-wrong", "damaged", f"{MODEL}: metadata format is 'lifelong.model.v9', {both}",
    model=variant(lambda t, m: m.update(format="lifelong.model.v9")))
bad("format-missing", "damaged", f"{MODEL}: metadata format is missing, {both}",
    model=variant(lambda t, m: m.pop("format")))
bad("tau-zero", "damaged", f"{MODEL}: metadata 'tau' missing or not a positive integer",
    model=variant(lambda t, m: m.update(tau="0")))
bad("window-text", "damaged", f"{MODEL}: metadata 'short_window' missing or not a positive integer",
    model=variant(lambda t, m: m.update(short_window="fifty")))
bad("heads-missing", "damaged", f"{MODEL}: metadata 'heads' missing or not a positive integer",
    model=variant(lambda t, m: m.pop("heads")))
bad("seed-negative", "damaged", f"{MODEL}: metadata 'projection_seed' missing or not an unsigned integer",
    model=variant(lambda t, m: m.update(projection_seed="-1")))
bad("tensor-missing", "damaged", f"{MODEL}: tensor 'mlp.1.weight': missing",
    model=variant(lambda t, m: t.pop("mlp.1.weight")))
bad("item-embedding-1d", "damaged", f"{MODEL}: tensor 'item_embedding': shape [16], expected [n_items ≥ 1, d_item]",
    model=variant(lambda t, m: t.update(item_embedding=t["item_embedding"].reshape(-1))))
bad("text-width", "damaged", f"{MODEL}: tensor 'text_projection.weight': shape [2, 383], expected [d_text, 384]",
    model=variant(lambda t, m: t.update({"text_projection.weight": np.zeros((2, 383), np.float32),
                                         "text_projection.bias": np.zeros(2, np.float32)})))
bad("text-bias-alone", "damaged", f"{MODEL}: tensor 'text_projection.weight': missing",
    model=variant(lambda t, m: t.update({"text_projection.bias": np.zeros(2, np.float32)})))
bad("feedback-in-v1", "damaged", f"{MODEL}: tensor 'feedback_embedding': present in a 'lifelong.model.v1' bundle "
    "(feedback needs format 'lifelong.model.v2')",
    model=variant(lambda t, m: t.update(feedback_embedding=np.zeros((3, D), np.float32))))
bad("feedback-missing-in-v2", "damaged", f"{MODEL}: tensor 'feedback_embedding': missing",
    model=variant(lambda t, m: m.update(format="lifelong.model.v2")))
bad("feedback-shape", "damaged", f"{MODEL}: tensor 'feedback_embedding': shape [2, 6], expected [3, 6]",
    model=variant(lambda t, m: (m.update(format="lifelong.model.v2"),
                                t.update(feedback_embedding=np.zeros((2, D), np.float32)))))
bad("projection-width", "damaged", f"{MODEL}: tensor 'sdim.projection': shape [6, 5], expected [m, d = 6]",
    model=variant(lambda t, m: t.update({"sdim.projection": np.zeros((6, 5), np.float32)})))
bad("m-not-multiple-of-tau", "damaged", f"{MODEL}: tensor 'sdim.projection': m = 7 is not a multiple of tau = 3",
    model=variant(lambda t, m: t.update({"sdim.projection": np.zeros((7, D), np.float32)})))
bad("tau-over-8", "damaged", f"{MODEL}: metadata 'tau' = 9 exceeds 8 (buckets are stored as one byte)",
    model=variant(lambda t, m: (m.update(tau="9"), t.update({"sdim.projection": np.zeros((9, D), np.float32)}))))
bad("heads-do-not-divide", "damaged", f"{MODEL}: tensor 'short_attention.query.weight': d_a = 4 is not divisible "
    "by heads = 3", model=variant(lambda t, m: m.update(heads="3")))
bad("key-shape", "damaged", f"{MODEL}: tensor 'short_attention.key.weight': shape [4, 5], expected [4, 6]",
    model=variant(lambda t, m: t.update({"short_attention.key.weight": np.zeros((4, 5), np.float32)})))
bad("value-bias", "damaged", f"{MODEL}: tensor 'short_attention.value.bias': shape [3], expected [4]",
    model=variant(lambda t, m: t.update({"short_attention.value.bias": np.zeros(3, np.float32)})))
bad("output-shape", "damaged", f"{MODEL}: tensor 'short_attention.output.weight': shape [4, 6], expected [6, 4]",
    model=variant(lambda t, m: t.update({"short_attention.output.weight": np.zeros((4, 6), np.float32)})))
bad("mlp0-input", "damaged", f"{MODEL}: tensor 'mlp.0.weight': shape [3, 29], expected [h_1, 5d = 30]",
    model=variant(lambda t, m: t.update({"mlp.0.weight": np.zeros((3, 29), np.float32)})))
bad("mlp1-input", "damaged", f"{MODEL}: tensor 'mlp.1.weight': shape [2, 4], expected [h_2, h_1 = 3]",
    model=variant(lambda t, m: t.update({"mlp.1.weight": np.zeros((2, 4), np.float32)})))
bad("mlp2-shape", "damaged", f"{MODEL}: tensor 'mlp.2.weight': shape [2, 2], expected [1, 2]",
    model=variant(lambda t, m: t.update({"mlp.2.weight": np.zeros((2, 2), np.float32)})))
bad("mlp-bias", "damaged", f"{MODEL}: tensor 'mlp.0.bias': shape [4], expected [3]",
    model=variant(lambda t, m: t.update({"mlp.0.bias": np.zeros(4, np.float32)})))
bad("vocab-item-row-past-table", "damaged", f"{MODEL}: tensor 'item_embedding': vocab.tsv uses item row 4 but the "
    "table has 4 rows", vocab=VOCAB + "item\td\t4\n")
bad("vocab-category-row-past-table", "damaged", f"{MODEL}: tensor 'category_embedding': vocab.tsv uses category row "
    "2 but the table has 2 rows", vocab=VOCAB + "category\ty\t2\n")

# ---- vocab.tsv ------------------------------------------------------------------------------------------
VOCAB_PATH = "{bundle}/vocab.tsv"
bad("vocab-two-fields", "damaged", f"{VOCAB_PATH}:2: expected kind<TAB>raw_id<TAB>row, found 2 fields",
    vocab="item\ta\t1\nitem\tb\n")
bad("vocab-row-zero", "damaged", f"{VOCAB_PATH}:1: row '0' is not an integer ≥ 1 (row 0 is reserved)",
    vocab="item\ta\t0\n")
bad("vocab-row-text", "damaged", f"{VOCAB_PATH}:1: row ' 1' is not an integer ≥ 1 (row 0 is reserved)",
    vocab="item\ta\t 1\n")
bad("vocab-kind", "damaged", f"{VOCAB_PATH}:1: kind 'user' is neither 'item' nor 'category'", vocab="user\ta\t1\n")
bad("vocab-duplicate", "damaged", f"{VOCAB_PATH}:2: item 'a' listed twice", vocab="item\ta\t1\nitem\ta\t2\n")
bad("vocab-duplicate-category", "damaged", f"{VOCAB_PATH}:3: category 'x' listed twice",
    vocab="category\tx\t1\nitem\ta\t1\ncategory\tx\t1\n")
bad("vocab-two-spellings", "damaged",
    f"{VOCAB_PATH}:2: item 'cafe\u0301' is 'caf\u00e9' in another Unicode normalization form: write every id "
    "in one form (NFC)", vocab="item\tcaf\u00e9\t1\nitem\tcafe\u0301\t2\n")
bad("vocab-invalid-utf8", "damaged", f"{VOCAB_PATH}: not valid UTF-8", vocab=b"item\t\xff\t1\n")


def main():
    for old in ROOT.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    for name, (files, expected) in sorted(CASES.items()):
        folder = ROOT / name
        folder.mkdir()
        for file, content in files.items():
            (folder / file).write_bytes(content)
        if "config" in expected:
            expected["fingerprint"] = hashlib.sha256(files["model.safetensors"] + files["vocab.tsv"]).hexdigest()
        (folder / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
