"""Behavior logs read by the rules ``lifelong`` reads them by (pure Python): RecBole atomic files and JSON
Lines (docs/FORMATS.md "Behavior logs"; the shared corpus ``Fixtures/logs`` holds this reader and the Swift
one to the same parses and the same errors), the replay order, the time split and the training samples
(docs/CLI.md, ``lifelong train``). A log that breaks a rule raises ``lifelong.InputError`` with the file, the
line and the message the CLI prints.

>>> log = read("Data/ml-100k")                 # click = rating ≥ 4; category = the first genre
>>> samples = Samples(log, validFraction=0.8, testFraction=0.9)
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ._errors import InputError

__all__ = ["Behavior", "Item", "Log", "InputError", "read", "locate", "column_names", "ordered", "split_time",
           "Sample", "Samples", "FEEDBACK"]


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


def read(path: os.PathLike | str, rating_threshold: float = 4.0) -> Log:
    """A RecBole folder (``NAME.inter`` + optional ``NAME.item``), a ``.inter`` file, a JSON Lines folder
    (``behaviors.jsonl`` + optional ``items.jsonl``) or a ``.jsonl`` file. Behaviors keep the file's order."""
    kind, behaviors = locate(path)
    return _recbole(behaviors, rating_threshold) if kind == "recbole" else _jsonl(behaviors)


def locate(path: os.PathLike | str) -> Tuple[str, Path]:
    """The log's kind and behaviors file: ``("recbole", NAME.inter)`` or ``("jsonl", behaviors.jsonl)``, for a
    dataset folder or the file itself (the layout `lifelong` reads)."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(path), None, "no such file or folder")
    if p.is_dir():
        if (p / f"{p.name}.inter").exists():
            return "recbole", p / f"{p.name}.inter"
        if (p / "behaviors.jsonl").exists():
            return "jsonl", p / "behaviors.jsonl"
        raise InputError(str(path), None,
                         f"neither {p.name}.inter (RecBole) nor behaviors.jsonl (JSON Lines) is in this folder")
    if p.suffix == ".inter":
        return "recbole", p
    if p.suffix == ".jsonl":
        return "jsonl", p
    raise InputError(str(path), None,
                     "unknown input format (expected a .inter or .jsonl file, or a dataset folder)")


# -- the file rules (docs/FORMATS.md "Behavior logs"; the corpus Fixtures/logs holds both readers to them) ---

_BOM = b"\xef\xbb\xbf"
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_SAFE_INTEGER = 2 ** 53
#: How deep a JSON Lines value may nest (objects and arrays; the line's object is level 1).
JSON_MAXIMUM_DEPTH = 64


class _Line:
    __slots__ = ("number", "text", "unterminated_last")

    def __init__(self, number: int, text: str, unterminated_last: bool):
        self.number, self.text, self.unterminated_last = number, text, unterminated_last

    @property
    def blank(self) -> bool:
        return not self.text.strip(" \t")

    @property
    def truncation_hint(self) -> str:
        return " (truncated last line?)" if self.unterminated_last else ""


def _lines(path: Path) -> List[_Line]:
    """Every line of a log file: UTF-8 (the first bad byte's line is named), a leading byte order mark
    ignored, LF or CRLF line ends, a 0-byte file refused; a file that is only a byte order mark is one empty
    line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), None, f"cannot read ({error.strerror})") from None
    if not data:
        raise InputError(str(path), None, "empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(str(path), data.count(b"\n", 0, error.start) + 1, "not valid UTF-8") from None
    if data.startswith(_BOM):
        text = text[1:]
    parts = text.split("\n")
    ended = parts[-1] == ""
    if ended and len(parts) > 1:
        parts.pop()
    last = len(parts) - 1
    return [_Line(n + 1, part[:-1] if part.endswith("\r") else part, n == last and not ended)
            for n, part in enumerate(parts)]


class _Forms:
    """One Unicode normalization form per id, as Swift's IdentifierForms: ids are bytes to the store and here,
    text to Swift's String, where NFC and NFD spellings are equal; a log with both spellings is refused."""

    def __init__(self) -> None:
        self.first: Dict[str, Tuple[str, str, int]] = {}

    def check(self, ident: str, kind: str, path: Path, line: int) -> None:
        if ident.isascii():
            return
        key = unicodedata.normalize("NFC", ident)
        prior = self.first.get(key)
        if prior is None:
            self.first[key] = (ident, path.name, line)
        elif prior[0] != ident:
            raise InputError(str(path), line, f"{kind} '{ident}' is '{prior[0]}' (line {prior[2]} of {prior[1]}) in "
                             "another Unicode normalization form: write every id in one form (NFC)")


def _number(text: str) -> Optional[float]:
    """A decimal field: ``[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?``, finite; None otherwise."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


# -- RecBole ----------------------------------------------------------------------------------------------

class _Table:
    """A RecBole file: the header's column names and the rows, each field without its surrounding spaces."""

    def __init__(self, path: Path):
        self.path = path
        lines = _lines(path)
        if lines[0].blank:
            raise InputError(str(path), 1, "the header is empty")
        self.names = column_names(lines[0].text)
        self.lines = lines[1:]

    def column(self, name: str) -> int:
        if name not in self.names:
            raise InputError(str(self.path), 1, f"missing column '{name}' (header has {', '.join(self.names)})")
        return self.names.index(name)

    def optional(self, *names: str) -> Optional[int]:
        return next((self.names.index(n) for n in names if n in self.names), None)

    def rows(self) -> Iterator[Tuple[int, List[str]]]:
        for line in self.lines:
            if line.blank:
                continue
            fields = [f.strip(" ") for f in line.text.split("\t")]
            if len(fields) != len(self.names):
                raise InputError(str(self.path), line.number, f"expected {len(self.names)} tab-separated fields, "
                                 f"found {len(fields)}{line.truncation_hint}")
            yield line.number, fields


def column_names(header: str) -> List[str]:
    """A RecBole header's column names (``user_id:token`` → ``user_id``), without surrounding spaces."""
    return [f.strip(" ").split(":", 1)[0].strip(" ") for f in header.rstrip("\r").split("\t")]


def _recbole(inter: Path, rating_threshold: float) -> Log:
    table = _Table(inter)
    user, item, ts = table.column("user_id"), table.column("item_id"), table.column("timestamp")
    label, rating = table.optional("label"), table.optional("rating")

    def number(f: List[str], column: int, name: str, n: int) -> float:
        value = _number(f[column])
        if value is None:
            raise InputError(str(inter), n, f"{name} '{f[column]}' is not a number")
        return value

    behaviors = []
    users, items = _Forms(), _Forms()
    for n, f in table.rows():
        if not f[user] or not f[item]:
            raise InputError(str(inter), n, "empty user_id or item_id")
        t = number(f, ts, "timestamp", n)
        click = None
        if label is not None:
            click = number(f, label, "label", n) > 0
        elif rating is not None:
            click = number(f, rating, "rating", n) >= rating_threshold
        users.check(f[user], "user", inter, n)
        items.check(f[item], "item", inter, n)
        behaviors.append(Behavior(f[user], f[item], t, click))
    if not behaviors:
        raise InputError(str(inter), None, "no behaviors (only a header)")
    catalog = inter.with_suffix(".item")
    return Log(behaviors, _recbole_catalog(catalog, items) if catalog.is_file() else {})


def _recbole_catalog(path: Path, ids: _Forms) -> Dict[str, Item]:
    table = _Table(path)
    iid = table.column("item_id")
    cat = table.optional("class", "categories", "category", "genre")
    title = table.optional("title", "movie_title", "name")
    year = table.optional("release_year", "year")
    items: Dict[str, Item] = {}
    categories = _Forms()
    for n, f in table.rows():
        if not f[iid]:
            raise InputError(str(path), n, "empty item_id")
        tokens = [t for t in f[cat].split(" ") if t] if cat is not None else []
        text = f[title] if title is not None and f[title] else None
        if text is not None and year is not None and f[year]:
            text = f"{text} ({f[year]})"
        ids.check(f[iid], "item", path, n)
        if tokens:
            categories.check(tokens[0], "category", path, n)
        if f[iid] in items:
            raise InputError(str(path), n, f"item '{f[iid]}' listed twice")
        items[f[iid]] = Item(tokens[0] if tokens else None, text)
    return items


# -- JSON Lines -------------------------------------------------------------------------------------------

class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    raise _NotJSON(name)


def _too_deep(text: str) -> bool:
    """Whether brackets outside strings nest deeper than JSON_MAXIMUM_DEPTH."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > JSON_MAXIMUM_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _json_object(line: _Line, path: Path) -> dict:
    """The line as one strict JSON object (RFC 8259: no NaN or Infinity, no lone surrogate escapes, at most
    JSON_MAXIMUM_DEPTH levels), or the error naming the line."""
    text = line.text
    try:
        if text.count("[") + text.count("{") > JSON_MAXIMUM_DEPTH and _too_deep(text):
            raise _NotJSON("too deep")
        value = json.loads(text, parse_constant=_refuse_constant)
        if not isinstance(value, dict) or ("\\u" in text and _has_surrogate(value)):
            raise _NotJSON("not an object")
    except (ValueError, RecursionError):
        raise InputError(str(path), line.number, f"not a JSON object{line.truncation_hint}") from None
    return value


def _integral_text(v: Any) -> Optional[str]:
    """A JSON number as an id: an integer as its digits, another integral number below 2^53 as that integer."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < _SAFE_INTEGER:
        return str(int(v))
    return None


def _ident(o: dict, key: str, path: Path, n: int) -> str:
    v = o.get(key)
    if isinstance(v, str) and v:
        return v
    text = _integral_text(v)
    if text is None:
        raise InputError(str(path), n, f'missing or empty "{key}" (a string or an integer)')
    return text


def _finite(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _objects(path: Path) -> Iterator[Tuple[int, dict]]:
    for line in _lines(path):
        if not line.blank:
            yield line.number, _json_object(line, path)


def _jsonl(path: Path) -> Log:
    behaviors = []
    users, items = _Forms(), _Forms()
    for n, o in _objects(path):
        user, item = _ident(o, "user", path, n), _ident(o, "item", path, n)
        t = _finite(o.get("timestamp"))
        if t is None:
            raise InputError(str(path), n, 'missing or non-numeric "timestamp"')
        label = o.get("label")
        if label is not None and not isinstance(label, (bool, int, float)):
            raise InputError(str(path), n, '"label" is not a number or boolean')
        users.check(user, "user", path, n)
        items.check(item, "item", path, n)
        behaviors.append(Behavior(user, item, t, None if label is None else label > 0))
    if not behaviors:
        raise InputError(str(path), None, "no behaviors (only blank lines)")
    catalog = path.with_name("items.jsonl")
    return Log(behaviors, _jsonl_catalog(catalog, items) if catalog.is_file() else {})


def _jsonl_catalog(path: Path, ids: _Forms) -> Dict[str, Item]:
    items: Dict[str, Item] = {}
    categories = _Forms()
    for n, o in _objects(path):
        iid = _ident(o, "item", path, n)
        c, text = o.get("category"), o.get("text")
        if c is not None and not isinstance(c, str):
            c = _integral_text(c)
            if c is None:
                raise InputError(str(path), n, '"category" is not a string or an integer')
        if text is not None and not isinstance(text, str):
            raise InputError(str(path), n, '"text" is not a string')
        ids.check(iid, "item", path, n)
        if c:
            categories.check(c, "category", path, n)
        if iid in items:
            raise InputError(str(path), n, f"item '{iid}' listed twice")
        items[iid] = Item(c or None, text or None)
    return items


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
