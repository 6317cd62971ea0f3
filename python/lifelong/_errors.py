"""The error vocabulary of every Lifelong layer (docs/ARCHITECTURE.md): one class per kind, the same kinds as
the C ABI's statuses (``lifelong_status``) and the Swift ``ErrorKind``. Pure Python: the log reader and the
Spark job raise them without numpy or the native library."""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = ["Error", "InvalidArgumentError", "NotFoundError", "ModelMismatchError", "DamagedError",
           "InputOutputError", "InternalError", "InputError", "error_for_status"]


class Error(Exception):
    """A failed call. ``kind`` names the kind of failure (``ErrorKind`` in Swift), ``status`` is its C status
    (``LIFELONG_*``); the message is the library's."""

    kind: str = "internal"
    status: int = 6

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgumentError(Error, ValueError):
    """An argument the callee cannot use: an empty or overlong id, an unknown mode, a label other than
    None/0/1, an append older than the user's last behavior, an append on a read-only scorer, a closed
    scorer."""

    kind, status = "invalid_argument", 1


class NotFoundError(Error, FileNotFoundError):
    """The model or store folder, the manifest, or a file in them, does not exist."""

    kind, status = "not_found", 2


class ModelMismatchError(Error):
    """The store or manifest was encoded with another model bundle (the fingerprints differ)."""

    kind, status = "model_mismatch", 3


class DamagedError(Error, ValueError):
    """A bundle, store record or manifest is not what its format says (or is of another version)."""

    kind, status = "damaged", 4


class InputOutputError(Error, OSError):
    """Reading or writing failed below the format: permissions, a full disk, an LMDB call."""

    kind, status = "io", 5


class InternalError(Error):
    """Anything else; the message says what."""

    kind, status = "internal", 6


class InputError(Error, ValueError):
    """A behavior log that breaks the log rules (docs/FORMATS.md "Behavior logs"). ``path`` is the file,
    ``line`` its 1-based line (None when the error is about the whole file); ``reason`` is the message
    without them, ``str(error)`` is ``PATH:LINE: reason`` as the Swift reader and the CLI print it."""

    kind, status = "input", 7

    def __init__(self, path: str, line: Optional[int], reason: str):
        super().__init__(f"{path}{'' if line is None else f':{line}'}: {reason}")
        self.path, self.line, self.reason = path, line, reason


_BY_STATUS: Dict[int, Type[Error]] = {cls.status: cls for cls in (
    InvalidArgumentError, NotFoundError, ModelMismatchError, DamagedError, InputOutputError, InternalError)}


def error_for_status(status: int, message: str) -> Error:
    """The exception of a failed C call (``InputError`` carries a file and a line, so the C ABI never
    returns its status for a call that reads no log)."""
    return _BY_STATUS.get(status, InternalError)(message, status)
