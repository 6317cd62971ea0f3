"""Sharded stores (pure Python): the routing hash and ``manifest.json`` (``lifelong.manifest.v1``,
docs/FORMATS.md), read with the checks of Swift's ``ShardManifest`` and written as the Spark job publishes it.
Tested against the Swift side on shared vectors (Fixtures/golden/fnv1a64.json, manifest-*.json)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List

from ._errors import DamagedError, InputOutputError, InvalidArgumentError, ModelMismatchError, NotFoundError

__all__ = ["FORMAT", "HASH", "fnv1a64", "shard_of", "Shard", "Manifest", "read", "write"]

FORMAT = "lifelong.manifest.v1"
HASH = "fnv1a64-utf8-mod"
_OFFSET, _PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv1a64(text: str) -> int:
    """FNV-1a 64 of the UTF-8 bytes: the store's stable hash (``Tensors.Hashing.fnv1a64``)."""
    h = _OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * _PRIME) & _MASK
    return h


def shard_of(user: str, count: int) -> int:
    """The shard of ``user`` among ``count``: FNV-1a-64 of its UTF-8 id mod ``count`` (``encode --shard K/N``)."""
    return fnv1a64(user) % count


@dataclass
class Shard:
    shard: int
    path: str  # the store folder, relative to the manifest's folder (or absolute)
    users: int
    behaviors: int
    bytes: int  # of data.mdb
    sha256: str
    fingerprint: str  # the model the shard was encoded with


@dataclass
class Manifest:
    shard_count: int
    fingerprint: str
    shards: List[Shard] = field(default_factory=list)
    format: str = FORMAT
    hash: str = HASH

    def folder(self, shard: Shard, manifest_path: os.PathLike | str) -> Path:
        """A shard's store folder, resolved against the manifest's folder."""
        p = Path(shard.path)
        return p if p.is_absolute() else Path(manifest_path).parent / p


def read(path: os.PathLike | str) -> Manifest:
    """Reads and checks a manifest as ``ShardManifest(contentsOf:)`` does: its format and hash, and exactly one
    store for each shard 0 … count − 1, each encoded with the manifest's model."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"manifest {path}: no such file")
    if p.is_dir():
        raise InvalidArgumentError(f"manifest {path} is a folder; give its manifest.json")
    try:
        data = p.read_bytes()
    except OSError as error:
        raise InputOutputError(f"manifest {path}: cannot read ({error.strerror})") from None

    def fail(message: str) -> DamagedError:
        return DamagedError(f"manifest {path}: {message}")
    try:
        o = json.loads(data)
        shards = [Shard(**{k: s[k] for k in Shard.__dataclass_fields__}) for s in o["shards"]]
        m = Manifest(int(o["shard_count"]), str(o["fingerprint"]), shards, str(o["format"]), str(o["hash"]))
    except (ValueError, KeyError, TypeError) as error:
        raise fail(f"not a shard manifest ({error!r})") from None
    if m.format != FORMAT:
        raise fail(f"format is '{m.format}', expected '{FORMAT}'")
    if m.hash != HASH:
        raise fail(f"hash is '{m.hash}', expected '{HASH}'")
    if m.shard_count < 1:
        raise fail(f"shard_count is {m.shard_count}")
    for k in range(m.shard_count):
        rows = [s for s in m.shards if s.shard == k]
        if not rows:
            raise fail(f"shard {k} of {m.shard_count} has no store")
        if len(rows) > 1:
            raise fail(f"shard {k} is listed {len(rows)} times")
        if rows[0].fingerprint != m.fingerprint:
            raise ModelMismatchError(f"manifest {path}: shard {k} ({rows[0].path}) was encoded with model "
                                     f"{rows[0].fingerprint}, the manifest's model is {m.fingerprint}")
    stray = next((s for s in m.shards if not 0 <= s.shard < m.shard_count), None)
    if stray is not None:
        raise fail(f"shard {stray.shard} is outside 0 ..< {m.shard_count}")
    return m


def write(manifest: Manifest, path: os.PathLike | str) -> None:
    """Writes the manifest as JSON (keys sorted), through a temporary file renamed into place."""
    p = Path(path)
    o = {"format": manifest.format, "hash": manifest.hash, "shard_count": manifest.shard_count,
         "fingerprint": manifest.fingerprint, "shards": [asdict(s) for s in manifest.shards]}
    partial = p.with_name(p.name + ".partial")
    partial.write_text(json.dumps(o, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, p)
