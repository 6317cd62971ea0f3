"""Model bundles without PyTorch (numpy only): ``model.safetensors`` + ``vocab.tsv`` read with every check the
Swift loader makes (``ModelBundle``), in the same order and with the same messages — the shared corpus
``Fixtures/bundles`` holds both to that — and written byte for byte as Lifelong writes them.

>>> from lifelong.bundle import load
>>> b = load("Output/quickstart/model")      # raises lifelong.DamagedError / NotFoundError naming the file
>>> b.config.d, b.vocabulary.item_row("242"), b.tensors["sdim.projection"].shape
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._errors import DamagedError, InputOutputError, NotFoundError

__all__ = ["FORMAT_V1", "FORMAT_V2", "FEEDBACK_ROWS", "TEXT_WIDTH", "Config", "Vocabulary", "Bundle", "load",
           "read_safetensors", "write_safetensors", "metadata", "gaussian_projection"]

FORMAT_V1 = "lifelong.model.v1"
FORMAT_V2 = "lifelong.model.v2"
FEEDBACK_ROWS = 3  # unknown, not clicked, clicked
#: The width of a text atom x(text): all-MiniLM-L6-v2's hidden size.
TEXT_WIDTH = 384
_DTYPES: Dict[str, Tuple[np.dtype, int]] = {
    "F32": (np.dtype("<f4"), 4), "F16": (np.dtype("<f2"), 2), "BF16": (np.dtype("<u2"), 2), "I64": (np.dtype("<i8"), 8),
}


@dataclass
class Config:
    """What a bundle records about the model's shape (docs/MODEL.md "The bundle")."""

    n_items: int  # rows of item_embedding, row 0 = unknown
    n_categories: int  # rows of category_embedding
    d_item: int = 32
    d_cat: int = 16
    d_text: int = 0
    m: int = 48
    tau: int = 3
    window: int = 50
    heads: int = 2
    attention_dim: int = 32
    hidden: Tuple[int, int] = (200, 80)
    projection_seed: int = 1
    feedback: bool = True  # v2: behaviors carry their feedback
    text_model: str = "all-MiniLM-L6-v2"
    text_layers: int = 2

    @property
    def d(self) -> int:
        return self.d_item + self.d_cat + self.d_text

    @property
    def signatures(self) -> int:
        return self.m // self.tau

    def check(self) -> None:
        if self.m % self.tau != 0:
            raise ValueError(f"m = {self.m} is not a multiple of tau = {self.tau}")
        if not 1 <= self.tau <= 8:
            raise ValueError(f"tau = {self.tau} is outside 1…8")
        if self.attention_dim % self.heads != 0:
            raise ValueError(f"attention_dim = {self.attention_dim} is not divisible by heads = {self.heads}")
        if self.n_items < 1 or self.n_categories < 1:
            raise ValueError("the tables need at least row 0")


@dataclass
class Vocabulary:
    """``vocab.tsv``: raw item and category ids → rows (row 0, unknown, is never listed)."""

    items: Dict[str, int] = field(default_factory=dict)
    categories: Dict[str, int] = field(default_factory=dict)

    @staticmethod
    def of(items: List[str], categories: List[str]) -> Vocabulary:
        """Rows 1… in UTF-8 byte order of the ids, as ``lifelong init-model`` and ``lifelong train`` assign them."""
        def order(ids: List[str]) -> List[str]:
            return sorted(set(ids), key=lambda s: s.encode("utf-8"))
        return Vocabulary({i: r + 1 for r, i in enumerate(order(items))},
                          {c: r + 1 for r, c in enumerate(order(categories))})

    def item_row(self, item: str) -> int:
        return self.items.get(item, 0)

    def category_row(self, category: Optional[str]) -> int:
        return self.categories.get(category, 0) if category is not None else 0

    @property
    def tsv(self) -> str:
        lines = [f"item\t{i}\t{r}\n" for i, r in sorted(self.items.items(), key=lambda kv: kv[1])]
        lines += [f"category\t{c}\t{r}\n" for c, r in sorted(self.categories.items(), key=lambda kv: kv[1])]
        return "".join(lines)

    @staticmethod
    def parse(data: bytes, path: str = "vocab.tsv") -> Vocabulary:
        """``kind<TAB>raw_id<TAB>row`` lines (LF or CRLF; empty lines skipped), errors naming the line."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DamagedError(f"{path}: not valid UTF-8") from None
        v = Vocabulary()
        spellings: Dict[Tuple[str, str], str] = {}  # (kind, NFC form) → the id as written
        for number, line in enumerate(text.split("\n"), start=1):
            line = line[:-1] if line.endswith("\r") else line
            if not line:
                continue
            f = line.split("\t")
            where = f"{path}:{number}"
            if len(f) != 3:
                raise DamagedError(f"{where}: expected kind<TAB>raw_id<TAB>row, found {len(f)} fields")
            if re.fullmatch(r"[+-]?[0-9]+", f[2], re.ASCII) is None or not 0 < int(f[2]) < 1 << 63:
                raise DamagedError(f"{where}: row '{f[2]}' is not an integer ≥ 1 (row 0 is reserved)")
            if f[0] not in ("item", "category"):
                raise DamagedError(f"{where}: kind '{f[0]}' is neither 'item' nor 'category'")
            table = v.items if f[0] == "item" else v.categories
            if f[1] in table:
                raise DamagedError(f"{where}: {f[0]} '{f[1]}' listed twice")
            if not f[1].isascii():  # Swift's String equates NFC and NFD spellings; bytes do not
                prior = spellings.setdefault((f[0], unicodedata.normalize("NFC", f[1])), f[1])
                if prior != f[1]:
                    raise DamagedError(f"{where}: {f[0]} '{f[1]}' is '{prior}' in another Unicode normalization "
                                       "form: write every id in one form (NFC)")
            table[f[1]] = int(f[2])
        return v


# -- safetensors ------------------------------------------------------------------------------------------

def _integers(xs: Any) -> Optional[List[int]]:
    """A JSON list of integral numbers (as Foundation reads them: 2.0 and true count), or None."""
    if not isinstance(xs, list):
        return None
    out = []
    for x in xs:
        if isinstance(x, bool) or isinstance(x, int):
            out.append(int(x))
        elif isinstance(x, float) and x.is_integer():
            out.append(int(x))
        else:
            return None
    return out


def read_safetensors(path: os.PathLike | str,
                     data: Optional[bytes] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """The tensors (as float32, row-major) and metadata of a safetensors file, with every check and message of
    Lifelong's reader: header length within the file, JSON, known dtypes, offsets inside the data region,
    byte size = element count × dtype size, no two tensors overlapping."""
    path = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise InputOutputError(f"{path}: cannot read the file ({error.strerror})") from None

    def fail(message: str, tensor: Optional[str] = None) -> DamagedError:
        return DamagedError(f"{path}: " + (f"tensor '{tensor}': " if tensor is not None else "") + message)
    if len(data) < 8:
        raise fail(f"truncated: {len(data)} bytes, not even the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if not 2 <= n <= len(data) - 8:
        raise fail(f"header length {n} does not fit in a file of {len(data)} bytes (truncated or not safetensors)")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        raise fail("header is not valid JSON") from None
    if not isinstance(header, dict):
        raise fail("header is not a JSON object")
    length = len(data) - 8 - n
    meta: Dict[str, str] = {}
    entries: Dict[str, Tuple[str, List[int], int, int]] = {}
    for name, value in header.items():
        if name == "__metadata__":
            if not isinstance(value, dict):
                raise fail("__metadata__ is not an object")
            for k, v in value.items():
                if not isinstance(v, str):
                    raise fail(f"__metadata__ value for '{k}' is not a string")
                meta[k] = v
            continue
        if not isinstance(value, dict):
            raise fail("entry is not an object", name)
        dtype = value.get("dtype")
        if not isinstance(dtype, str):
            raise fail("missing dtype", name)
        if dtype not in _DTYPES:
            raise fail(f"unsupported dtype {dtype} (F32, F16, BF16, I64)", name)
        shape = _integers(value.get("shape"))
        if shape is None or any(x < 0 for x in shape):
            raise fail("shape is not a list of non-negative integers", name)
        offsets = _integers(value.get("data_offsets"))
        if offsets is None or len(offsets) != 2:
            raise fail("data_offsets is not [begin, end]", name)
        if not 0 <= offsets[0] <= offsets[1] <= length:
            raise fail(f"data_offsets {offsets} outside the data region of {length} bytes (truncated file?)", name)
        size = _DTYPES[dtype][1]
        if offsets[1] - offsets[0] != math.prod(shape) * size:
            raise fail(f"byte size {offsets[1] - offsets[0]} does not match shape {shape} × {size}-byte {dtype}", name)
        entries[name] = (dtype, shape, offsets[0], offsets[1])
    spans = sorted((b, name, e) for name, (_, _, b, e) in entries.items() if e > b)
    for (_, a, end_a), (begin_b, b, _) in zip(spans, spans[1:]):
        if begin_b < end_a:
            raise fail(f"data overlaps tensor '{a}'", b)
    tensors = {}
    for name, (dtype, shape, begin, end) in entries.items():
        raw = np.frombuffer(data, dtype=_DTYPES[dtype][0], count=(end - begin) // _DTYPES[dtype][1],
                            offset=8 + n + begin)
        if dtype == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = raw.astype(np.float32).reshape(shape)
    return tensors, meta


def write_safetensors(path: os.PathLike | str, tensors: Dict[str, np.ndarray], metadata: Dict[str, str]) -> None:
    """F32 tensors in name order and string metadata, byte for byte as Lifelong writes them (the header as
    Foundation's JSONSerialization writes it: sorted keys, compact, "/" escaped; spaces to 8-byte alignment),
    through a temporary file renamed into place."""
    path = Path(path)
    header: Dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name in sorted(tensors, key=lambda s: s.encode("utf-8")):
        a = tensors[name]
        header[name] = {"data_offsets": [offset, offset + 4 * a.size], "dtype": "F32", "shape": list(a.shape)}
        offset += 4 * a.size
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")
    encoded = text.encode("utf-8")
    encoded += b" " * ((8 - (8 + len(encoded)) % 8) % 8)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for name in sorted(tensors, key=lambda s: s.encode("utf-8")):
            out.write(np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
    os.replace(partial, path)


# -- the bundle -------------------------------------------------------------------------------------------

@dataclass
class Bundle:
    """A loaded bundle: its shape, every tensor (float32), the metadata, the vocabulary and the fingerprint
    (SHA-256 of ``model.safetensors`` then ``vocab.tsv``, as the store records it)."""

    folder: Path
    config: Config
    tensors: Dict[str, np.ndarray]
    metadata: Dict[str, str]
    vocabulary: Vocabulary
    fingerprint: str


def load(folder: os.PathLike | str) -> Bundle:
    """A bundle folder, checked as ``ModelBundle`` checks it: both files there, valid safetensors, a valid
    vocabulary, the format and every shape against the metadata and each other."""
    folder = Path(folder)
    model_path, vocab_path = folder / "model.safetensors", folder / "vocab.tsv"
    for p in (model_path, vocab_path):
        if not p.exists():
            raise NotFoundError(f"{p}: missing (a model bundle folder holds model.safetensors and vocab.tsv)")
    try:
        model_bytes = model_path.read_bytes()
    except OSError as error:
        raise InputOutputError(f"{model_path}: cannot read the file ({error.strerror})") from None
    tensors, meta = read_safetensors(model_path, model_bytes)
    try:
        vocab_bytes = vocab_path.read_bytes()
    except OSError as error:
        raise InputOutputError(f"{vocab_path}: cannot read ({error.strerror})") from None
    vocabulary = Vocabulary.parse(vocab_bytes, str(vocab_path))
    config = _check(str(model_path), tensors, meta, vocabulary)
    fingerprint = hashlib.sha256(model_bytes + vocab_bytes).hexdigest()
    return Bundle(folder, config, tensors, meta, vocabulary, fingerprint)


def _check(path: str, tensors: Dict[str, np.ndarray], meta: Dict[str, str], vocabulary: Vocabulary) -> Config:
    """The bundle's config, or the first error ModelBundle would report (same order, same words)."""
    return _BundleShapes(path, tensors, meta, vocabulary).config()


class _BundleShapes:
    """The metadata and tensor shapes checked against each other, part by part, as Swift's BundleShapes does."""

    def __init__(self, path: str, tensors: Dict[str, np.ndarray], meta: Dict[str, str], vocabulary: Vocabulary):
        self.path, self.tensors, self.meta, self.vocabulary = path, tensors, meta, vocabulary

    def fail(self, message: str, tensor: Optional[str] = None) -> DamagedError:
        return DamagedError(f"{self.path}: " + (f"tensor '{tensor}': " if tensor is not None else "") + message)

    def shape(self, name: str) -> List[int]:
        if name not in self.tensors:
            raise self.fail("missing", name)
        return list(self.tensors[name].shape)

    def expect(self, name: str, want: List[int]) -> None:
        got = self.shape(name)
        if got != want:
            raise self.fail(f"shape {got}, expected {want}", name)

    def meta_int(self, key: str) -> int:
        text = self.meta.get(key)
        if text is None or re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII) is None or not 0 < int(text) < 1 << 63:
            raise self.fail(f"metadata '{key}' missing or not a positive integer")
        return int(text)

    def config(self) -> Config:
        meta = self.meta
        form = meta.get("format")
        if form not in (FORMAT_V1, FORMAT_V2):
            raise self.fail(f"metadata format is {'missing' if form is None else repr(form)}, expected '{FORMAT_V1}' "
                            f"or '{FORMAT_V2}'")
        feedback = form == FORMAT_V2
        tau, window, heads = self.meta_int("tau"), self.meta_int("short_window"), self.meta_int("heads")
        seed = meta.get("projection_seed")
        if seed is None or re.fullmatch(r"\+?[0-9]+", seed, re.ASCII) is None or int(seed) >= 1 << 64:
            raise self.fail("metadata 'projection_seed' missing or not an unsigned integer")
        item, cat, d_text = self.embeddings(feedback)
        d = item[1] + cat[1] + d_text
        m = self.projection(d, tau)
        da = self.attention(d, heads)
        hidden = self.mlp(d)
        self.vocabulary_rows(item[0], cat[0])
        return Config(n_items=item[0], n_categories=cat[0], d_item=item[1], d_cat=cat[1], d_text=d_text, m=m,
                      tau=tau, window=window, heads=heads, attention_dim=da, hidden=hidden,
                      projection_seed=int(seed), feedback=feedback,
                      text_model=meta.get("text_model", "all-MiniLM-L6-v2"),
                      text_layers=_integer(meta.get("text_layers"), 2))

    def embeddings(self, feedback: bool) -> Tuple[List[int], List[int], int]:
        item, cat = self.shape("item_embedding"), self.shape("category_embedding")
        if len(item) != 2 or item[0] < 1:
            raise self.fail(f"shape {item}, expected [n_items ≥ 1, d_item]", "item_embedding")
        if len(cat) != 2 or cat[0] < 1:
            raise self.fail(f"shape {cat}, expected [n_categories ≥ 1, d_cat]", "category_embedding")
        d_text = 0
        if "text_projection.weight" in self.tensors or "text_projection.bias" in self.tensors:
            w = self.shape("text_projection.weight")
            if len(w) != 2 or w[1] != TEXT_WIDTH:
                raise self.fail(f"shape {w}, expected [d_text, {TEXT_WIDTH}]", "text_projection.weight")
            d_text = w[0]
            self.expect("text_projection.bias", [d_text])
        d = item[1] + cat[1] + d_text
        if feedback:
            self.expect("feedback_embedding", [FEEDBACK_ROWS, d])
        elif "feedback_embedding" in self.tensors:
            raise self.fail(f"present in a '{FORMAT_V1}' bundle (feedback needs format '{FORMAT_V2}')",
                            "feedback_embedding")
        return item, cat, d_text

    def projection(self, d: int, tau: int) -> int:
        proj = self.shape("sdim.projection")
        if len(proj) != 2 or proj[1] != d:
            raise self.fail(f"shape {proj}, expected [m, d = {d}]", "sdim.projection")
        m = proj[0]
        if m % tau != 0:
            raise self.fail(f"m = {m} is not a multiple of tau = {tau}", "sdim.projection")
        if tau > 8:
            raise self.fail(f"metadata 'tau' = {tau} exceeds 8 (buckets are stored as one byte)")
        return m

    def attention(self, d: int, heads: int) -> int:
        q = self.shape("short_attention.query.weight")
        if len(q) != 2 or q[1] != d:
            raise self.fail(f"shape {q}, expected [d_a, d = {d}]", "short_attention.query.weight")
        da = q[0]
        if da % heads != 0:
            raise self.fail(f"d_a = {da} is not divisible by heads = {heads}", "short_attention.query.weight")
        for p in ("query", "key", "value"):
            self.expect(f"short_attention.{p}.weight", [da, d])
            self.expect(f"short_attention.{p}.bias", [da])
        self.expect("short_attention.output.weight", [d, da])
        self.expect("short_attention.output.bias", [d])
        return da

    def mlp(self, d: int) -> Tuple[int, int]:
        m0 = self.shape("mlp.0.weight")
        if len(m0) != 2 or m0[1] != 5 * d:
            raise self.fail(f"shape {m0}, expected [h_1, 5d = {5 * d}]", "mlp.0.weight")
        m1 = self.shape("mlp.1.weight")
        if len(m1) != 2 or m1[1] != m0[0]:
            raise self.fail(f"shape {m1}, expected [h_2, h_1 = {m0[0]}]", "mlp.1.weight")
        self.expect("mlp.2.weight", [1, m1[0]])
        self.expect("mlp.0.bias", [m0[0]])
        self.expect("mlp.1.bias", [m1[0]])
        self.expect("mlp.2.bias", [1])
        return m0[0], m1[0]

    def vocabulary_rows(self, items: int, categories: int) -> None:
        vocabulary = self.vocabulary
        max_item = max(vocabulary.items.values(), default=0)
        max_cat = max(vocabulary.categories.values(), default=0)
        if max_item >= items:
            raise self.fail(f"vocab.tsv uses item row {max_item} but the table has {items} rows", "item_embedding")
        if max_cat >= categories:
            raise self.fail(f"vocab.tsv uses category row {max_cat} but the table has {categories} rows",
                            "category_embedding")


def _integer(text: Optional[str], default: int) -> int:
    return int(text) if text is not None and re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII) else default


def metadata(c: Config, created_by: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The ``__metadata__`` of a bundle with this config (as ``ModelBundle.metadata`` writes it), plus ``extra``
    entries that do not override it."""
    m = {"format": FORMAT_V2 if c.feedback else FORMAT_V1, "tau": str(c.tau), "short_window": str(c.window),
         "heads": str(c.heads), "projection_seed": str(c.projection_seed), "created_by": created_by}
    if c.d_text > 0:
        m["text_model"], m["text_layers"] = c.text_model, str(c.text_layers)
    for key, value in (extra or {}).items():
        m.setdefault(key, value)
    return m


def gaussian_projection(seed: int, m: int, d: int) -> np.ndarray:
    """``sdim.projection`` as ``lifelong init-model`` draws it: SplitMix64 + Box–Muller from ``seed``
    (``Tensors.Gaussian``), checked against Fixtures/golden/projection.json."""
    mask = 0xFFFFFFFFFFFFFFFF
    state = seed & mask
    out = np.empty(m * d, dtype=np.float32)
    spare = None

    def bits() -> int:
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    for k in range(m * d):
        if spare is not None:
            out[k], spare = spare, None
            continue
        u1 = max((bits() >> 11) / float(1 << 53), 1e-300)
        u2 = (bits() >> 11) / float(1 << 53)
        r = math.sqrt(-2 * math.log(u1))
        spare = np.float32(r * math.sin(2 * math.pi * u2))
        out[k] = np.float32(r * math.cos(2 * math.pi * u2))
    return out.reshape(m, d)
