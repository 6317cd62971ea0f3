"""Behavior logs read the way ``lifelong`` reads them (numpy only): RecBole atomic files and JSON Lines, the
replay order, the time split and the training samples (docs/CLI.md, ``lifelong train``).

>>> log = read("Data/ml-100k")                 # click = rating ≥ 4; category = the first genre
>>> samples = Samples(log, validFraction=0.8, testFraction=0.9)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["Behavior", "Item", "Log", "read", "ordered", "split_time", "Sample", "Samples", "FEEDBACK"]


@dataclass(frozen=True)
class Behavior:
    user: str
    item: str
    timestamp: float
    label: Optional[bool] = None  # the click, when the log has one


@dataclass(frozen=True)
class Item:
    category: Optional[str] = None
    text: Optional[str] = None


@dataclass
class Log:
    behaviors: List[Behavior]
    items: Dict[str, Item]

    def vocabulary_ids(self) -> Tuple[List[str], List[str]]:
        """Every item of the catalog and of the behaviors, and every catalog category (as ``init-model``)."""
        items = set(self.items) | {b.item for b in self.behaviors}
        categories = {i.category for i in self.items.values() if i.category is not None}
        return sorted(items, key=_bytes), sorted(categories, key=_bytes)


def _bytes(s: str) -> bytes:
    return s.encode("utf-8")


class InputError(ValueError):
    """Bad input, naming the file and line."""

    def __init__(self, path: str, line: Optional[int], message: str):
        super().__init__(f"{path}{'' if line is None else f':{line}'}: {message}")


def read(path: os.PathLike | str, rating_threshold: float = 4.0) -> Log:
    """A RecBole folder (``NAME.inter`` + optional ``NAME.item``), a ``.inter`` file, a JSON Lines folder
    (``behaviors.jsonl`` + optional ``items.jsonl``) or a ``.jsonl`` file."""
    kind, behaviors = locate(path)
    return _recbole(behaviors, rating_threshold) if kind == "recbole" else _jsonl(behaviors)


def locate(path: os.PathLike | str) -> Tuple[str, Path]:
    """The log's kind and behaviors file: ``("recbole", NAME.inter)`` or ``("jsonl", behaviors.jsonl)``, for a
    dataset folder or the file itself (the layout `lifelong` reads)."""
    p = Path(path)
    if p.is_dir():
        if (p / f"{p.name}.inter").is_file():
            return "recbole", p / f"{p.name}.inter"
        if (p / "behaviors.jsonl").is_file():
            return "jsonl", p / "behaviors.jsonl"
        raise InputError(str(p), None, f"neither {p.name}.inter (RecBole) nor behaviors.jsonl (JSON Lines) is here")
    if p.suffix == ".inter":
        return "recbole", p
    if p.suffix == ".jsonl":
        return "jsonl", p
    raise InputError(str(p), None, "unknown input format (expected a .inter or .jsonl file, or a dataset folder)")


def column_names(header: str) -> List[str]:
    """A RecBole header's column names (``user_id:token`` → ``user_id``)."""
    return [f.split(":", 1)[0] for f in header.rstrip("\r").split("\t")]


def _tsv(path: Path) -> Tuple[List[str], List[Tuple[int, List[str]]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if not lines or not lines[0]:
        raise InputError(str(path), None, "empty file")
    names = column_names(lines[0])
    rows = [(n, line.rstrip("\r").split("\t")) for n, line in enumerate(lines[1:], start=2) if line.rstrip("\r")]
    return names, rows


def _recbole(inter: Path, rating_threshold: float) -> Log:
    names, rows = _tsv(inter)

    def column(name: str) -> int:
        if name not in names:
            raise InputError(str(inter), 1, f"missing column '{name}' (header has {', '.join(names)})")
        return names.index(name)

    user, item, ts = column("user_id"), column("item_id"), column("timestamp")
    rating = names.index("rating") if "rating" in names else None
    label = names.index("label") if "label" in names else None
    behaviors = []
    for n, f in rows:
        try:
            t = float(f[ts])
        except ValueError:
            raise InputError(str(inter), n, f"timestamp '{f[ts]}' is not a number") from None
        if not math.isfinite(t):
            raise InputError(str(inter), n, f"timestamp '{f[ts]}' is not a number")
        click = None
        if label is not None:
            click = float(f[label]) > 0
        elif rating is not None:
            click = float(f[rating]) >= rating_threshold
        if not f[user] or not f[item]:
            raise InputError(str(inter), n, "empty user_id or item_id")
        behaviors.append(Behavior(f[user], f[item], t, click))
    items: Dict[str, Item] = {}
    item_path = inter.with_suffix(".item")
    if item_path.is_file():
        names, rows = _tsv(item_path)
        iid = names.index("item_id")
        cat = next((names.index(c) for c in ("class", "categories", "category", "genre") if c in names), None)
        title = next((names.index(c) for c in ("title", "movie_title", "name") if c in names), None)
        year = next((names.index(c) for c in ("release_year", "year") if c in names), None)
        for n, f in rows:
            text = f[title] if title is not None else None
            if year is not None and f[year] and text is not None:
                text = f"{text} ({f[year]})"
            category = f[cat].split(" ")[0] if cat is not None and f[cat].split(" ")[0] else None
            if f[iid] in items:
                raise InputError(str(item_path), n, f"item '{f[iid]}' listed twice")
            items[f[iid]] = Item(category, text)
    return Log(behaviors, items)


def _jsonl(path: Path) -> Log:
    def records(p: Path):
        for n, line in enumerate(p.read_text(encoding="utf-8").split("\n"), start=1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except ValueError as error:
                    raise InputError(str(p), n, f"not JSON ({error})") from None

    def ident(o: dict, key: str, p: Path, n: int) -> str:
        v = o.get(key)
        if isinstance(v, str) and v:
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise InputError(str(p), n, f'missing or empty "{key}" (a string or an integer)')

    behaviors = []
    for n, o in records(path):
        t = o.get("timestamp")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise InputError(str(path), n, 'missing or non-numeric "timestamp"')
        label = o.get("label")
        behaviors.append(Behavior(ident(o, "user", path, n), ident(o, "item", path, n), float(t),
                                  None if label is None else float(label) > 0))
    items: Dict[str, Item] = {}
    items_path = path.with_name("items.jsonl")
    if items_path.is_file():
        for n, o in records(items_path):
            c = o.get("category")
            items[ident(o, "item", items_path, n)] = Item(None if c is None else str(c), o.get("text"))
    return Log(behaviors, items)


def ordered(behaviors: List[Behavior]) -> List[Behavior]:
    """Replay order: (timestamp, item id, user id), ids compared as UTF-8 bytes."""
    return sorted(behaviors, key=lambda b: (b.timestamp, _bytes(b.item), _bytes(b.user)))


def split_time(fraction: float, in_order: List[Behavior]) -> float:
    """The timestamp of the event at ``fraction`` of the log in replay order (history is strictly before)."""
    if fraction <= 0 or not in_order:
        return -math.inf
    return in_order[min(len(in_order) - 1, int(math.floor(fraction * len(in_order))))].timestamp


#: A behavior's feedback row (docs/MODEL.md v2): unknown, not clicked, clicked.
FEEDBACK = {None: 0, False: 1, True: 2}


@dataclass(frozen=True)
class Sample:
    user: int  # index into Samples.users
    position: int  # index in the user's sequence = the length of its history
    label: bool
    order: int  # index in the whole log in replay order


class Samples:
    """Each user's behaviors in replay order, and the labelled ones split by time into train / valid / test,
    exactly as ``lifelong train`` builds them (a sample's history is every earlier behavior of its user)."""

    def __init__(self, log: Log, valid_fraction: float = 0.8, test_fraction: float = 0.9):
        in_order = ordered(log.behaviors)
        self.valid_time = split_time(valid_fraction, in_order)
        self.test_time = split_time(test_fraction, in_order)
        self.users: List[str] = []
        self.sequences: List[List[Behavior]] = []
        index: Dict[str, int] = {}
        self.train: List[Sample] = []
        self.valid: List[Sample] = []
        self.test: List[Sample] = []
        for order, b in enumerate(in_order):
            u = index.setdefault(b.user, len(self.users))
            if u == len(self.users):
                self.users.append(b.user)
                self.sequences.append([])
            position = len(self.sequences[u])
            self.sequences[u].append(b)
            if b.label is None:
                continue
            s = Sample(u, position, b.label, order)
            (self.train if b.timestamp < self.valid_time else
             self.valid if b.timestamp < self.test_time else self.test).append(s)
        self.items = log.items
