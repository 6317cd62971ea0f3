"""The scorer over the C ABI (numpy + ctypes); ``lifelong`` re-exports it."""

from __future__ import annotations

import ctypes
import json
import math
import os
import threading
from ctypes import POINTER, c_char_p, c_float, c_size_t, c_void_p
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _native
from ._errors import InvalidArgumentError, error_for_status

__all__ = ["Scorer", "MODES", "version"]

PathLike = Union[str, "os.PathLike[str]"]

#: The scoring modes (docs/MODEL.md "Modes") and their C values.
MODES = {"bse": 0, "online": 1, "full": 2, "short": 3}

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                _lib = _native.load()
    return _lib


def version() -> str:
    """The version of the loaded library."""
    return _library().lifelong_version().decode()


def _check(status: int) -> None:
    if status != 0:
        message = _library().lifelong_last_error().decode("utf-8", "replace")
        raise error_for_status(status, message)


def _label_code(label: Any, name: str) -> int:
    """A label as the C ABI's code: None → -1 (unknown), False → 0, True → 1."""
    if label is None:
        return -1
    if label is True or label is False or label in (0, 1):
        return int(label)
    raise InvalidArgumentError(f"{name} is {label!r}; expected None, False or True")


def _utf8(value: Any, name: str) -> bytes:
    """A str (or path) argument as NUL-free UTF-8."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidArgumentError(f"{name} is not valid UTF-8 ({error.reason})") from None
    if b"\0" in data:
        raise InvalidArgumentError(f"{name} contains a NUL character")
    return data


def _mode(mode: str) -> int:
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"mode is {mode!r}; expected one of {', '.join(MODES)}") from None


def _packed(items: Sequence[str]) -> tuple[bytes, np.ndarray]:
    """Candidate ids as one UTF-8 buffer and n + 1 offsets (``lifelong_score_packed``)."""
    if isinstance(items, (str, bytes)):
        raise TypeError("items must be a sequence of str, not a single string")
    if not isinstance(items, (list, tuple)):
        items = list(items)  # a generator or an array is read once
    try:
        joined = "".join(items)
    except TypeError:
        bad = next(item for item in items if not isinstance(item, str))
        raise TypeError(f"items must be str, found {type(bad).__name__}") from None
    if joined.isascii():  # the usual case: byte lengths are str lengths, one join and one encode in C
        offsets = np.zeros(len(items) + 1, dtype=np.uintp)
        np.cumsum(np.fromiter(map(len, items), dtype=np.uintp, count=len(items)), out=offsets[1:])
        return joined.encode("ascii"), offsets
    try:
        encoded = [item.encode("utf-8") for item in items]
    except AttributeError:
        bad = next(item for item in items if not isinstance(item, str))
        raise TypeError(f"items must be str, found {type(bad).__name__}") from None
    except UnicodeEncodeError as error:
        raise InvalidArgumentError(f"an item is not valid UTF-8 ({error.reason})") from None
    offsets = np.zeros(len(encoded) + 1, dtype=np.uintp)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.uintp, count=len(encoded)), out=offsets[1:])
    return b"".join(encoded), offsets


class Scorer:
    """A model bundle and a store encoded with it, opened for scoring (and appending, if ``writable``).

    Safe to share between threads; ``append`` may run while other threads score (they see each append
    entirely or not at all). Use it as a context manager, or call ``close()``.
    """

    def __init__(self, model_dir: PathLike, store_dir: Optional[PathLike] = None, writable: bool = False, *,
                 manifest: Optional[PathLike] = None):
        """``store_dir``: a store encoded with the bundle; or ``manifest``: a sharded store's ``manifest.json``
        (``lifelong manifest``), every call then going to its user's shard."""
        lib = _library()
        handle = c_void_p()
        if (store_dir is None) == (manifest is None):
            raise InvalidArgumentError("give store_dir or manifest (one)")
        if manifest is not None:
            _check(lib.lifelong_scorer_open_manifest(_utf8(model_dir, "model_dir"), _utf8(manifest, "manifest"),
                                                     1 if writable else 0, ctypes.byref(handle)))
        else:
            _check(lib.lifelong_scorer_open(_utf8(model_dir, "model_dir"), _utf8(store_dir, "store_dir"),
                                            1 if writable else 0, ctypes.byref(handle)))
        self._lib = lib
        self._handle: Optional[int] = handle.value
        self.writable = bool(writable)
        size = c_size_t()
        _check(lib.lifelong_scorer_dimension(self._handle, ctypes.byref(size)))
        #: The width d of the item vectors and of ``long_term_interest`` rows.
        self.dimension = size.value

    # -- lifetime ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the scorer; later calls raise InvalidArgumentError. Closing twice is harmless."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            self._lib.lifelong_scorer_close(handle)

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _open_handle(self) -> int:
        handle = self._handle
        if handle is None:
            raise InvalidArgumentError("the scorer is closed")
        return handle

    # -- scoring ----------------------------------------------------------------------------------------

    def score(self, user: str, items: Sequence[str], mode: str = "bse") -> np.ndarray:
        """The probability that ``user`` clicks each of ``items``, in order, as float32.

        A user not in the store is scored with no history; an item not in the model's vocabulary uses
        row 0. ``mode``: "bse" (stored bucket sums, the serving path), "online" (re-hash the sequence),
        "full" (exact attention over the whole sequence) or "short" (no long-term term).
        """
        handle = self._open_handle()
        user_bytes, code = _utf8(user, "user"), _mode(mode)
        ids, offsets = _packed(items)
        out = np.empty(len(offsets) - 1, dtype=np.float32)
        _check(self._lib.lifelong_score_packed(
            handle, user_bytes, ids, offsets.ctypes.data_as(POINTER(c_size_t)), len(out), code,
            out.ctypes.data_as(POINTER(c_float))))
        return out

    def long_term_interest(self, user: str, items: Sequence[str], mode: str = "bse") -> np.ndarray:
        """The long-term interest u_long alone, ``[len(items), dimension]`` float32 (zeros in "short")."""
        handle = self._open_handle()
        user_bytes, code = _utf8(user, "user"), _mode(mode)
        encoded = [_utf8(item, "item") for item in items]
        array = (c_char_p * max(len(encoded), 1))(*encoded)
        out = np.empty((len(encoded), self.dimension), dtype=np.float32)
        _check(self._lib.lifelong_long_term_interest(
            handle, user_bytes, array, len(encoded), code, out.ctypes.data_as(POINTER(c_float))))
        return out

    # -- appending --------------------------------------------------------------------------------------

    def append(self, user: str, item: str, timestamp: float, label: Optional[bool] = None) -> None:
        """Appends one behavior (``label``: None unknown, False shown and not clicked, True clicked).

        O(m·d) in one write transaction. A behavior older than the user's last one is refused
        (InvalidArgumentError) and nothing is written. Needs ``writable=True``.
        """
        handle = self._open_handle()
        code = _label_code(label, "label")
        try:
            t = float(timestamp)
        except (TypeError, ValueError):
            raise TypeError(f"timestamp must be a number, not {type(timestamp).__name__}") from None
        if not math.isfinite(t):
            raise InvalidArgumentError(f"timestamp {t} is not finite")
        _check(self._lib.lifelong_append(handle, _utf8(user, "user"), _utf8(item, "item"), t, code))

    def append_many(self, users: Sequence[str], items: Sequence[str], timestamps: Any,
                    labels: Optional[Sequence[Optional[bool]]] = None) -> np.ndarray:
        """Appends behaviors ``(users[i], items[i], timestamps[i], labels[i])`` in order, exactly as one
        ``append`` each would, with each user's record written once, all in one write transaction.

        Returns one status per behavior (``numpy.int32``): 0 appended (or already the user's last behavior),
        else the status of its refusal, alone (``lifelong.InvalidArgumentError.status``: an older behavior than
        the user's last, a non-finite timestamp). ``labels``: None, or None / False / True per behavior.
        Raises, writing nothing, when the batch cannot be written (read-only scorer, lengths that differ).
        """
        handle = self._open_handle()
        n = len(users)
        if len(items) != n or len(timestamps) != n or (labels is not None and len(labels) != n):
            raise InvalidArgumentError(
                f"users, items, timestamps{', labels' if labels is not None else ''} have different lengths")
        try:
            times = np.ascontiguousarray(timestamps, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("timestamps must be numbers") from None
        codes = np.full(n, -1, dtype=np.intc)
        for i, label in enumerate(labels if labels is not None else ()):
            codes[i] = _label_code(label, f"labels[{i}]")
        user_ids = (c_char_p * n)(*[_utf8(u, f"users[{i}]") for i, u in enumerate(users)])
        item_ids = (c_char_p * n)(*[_utf8(v, f"items[{i}]") for i, v in enumerate(items)])
        status = np.zeros(n, dtype=np.intc)
        _check(self._lib.lifelong_append_batch(
            handle, n, user_ids, item_ids, times.ctypes.data_as(POINTER(ctypes.c_double)),
            codes.ctypes.data_as(POINTER(ctypes.c_int)), status.ctypes.data_as(POINTER(ctypes.c_int))))
        return status.astype(np.int32)

    # -- information ------------------------------------------------------------------------------------

    def describe(self) -> dict:
        """The library version, folders, model fingerprint and format, d, writable, users and items."""
        handle = self._open_handle()
        needed = c_size_t()
        _check(self._lib.lifelong_scorer_describe(handle, None, 0, ctypes.byref(needed)))
        buffer = ctypes.create_string_buffer(needed.value)
        _check(self._lib.lifelong_scorer_describe(handle, buffer, needed.value, ctypes.byref(needed)))
        return json.loads(buffer.value.decode())

    def __repr__(self) -> str:
        if self._handle is None:
            return "<lifelong.Scorer closed>"
        info = self.describe()
        where = f"manifest={info['manifest']!r}" if "manifest" in info else f"store={info['store']!r}"
        return f"<lifelong.Scorer model={info['model']!r} {where} users={info['users']}>"
