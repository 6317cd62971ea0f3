"""Lifelong: the long-sequence CTR scorer (SDIM bucket sums + target attention) from Python.

A thin layer over the C ABI of ``liblifelong_c.so`` (``lifelong.h``). Scores are those of the Swift scorer,
bit for bit; the model contract is ``docs/MODEL.md`` of the repository.

>>> import lifelong
>>> with lifelong.Scorer("Output/quickstart/model", "Output/quickstart/store") as scorer:
...     p = scorer.score("196", ["242", "302", "377"])   # numpy float32, one probability per item

The library is found at ``$LIFELONG_LIBRARY``, else next to this package, else in a source checkout's
``.build/release`` or ``.build/debug``. Calls release the GIL: threads score one scorer in parallel.

The scorer (numpy and the native library) loads on first use, so ``lifelong.log``, ``lifelong.manifest`` and
the error classes work without either.
"""

from __future__ import annotations

from typing import Any

from ._errors import (
    DamagedError,
    Error,
    InputError,
    InputOutputError,
    InternalError,
    InvalidArgumentError,
    ModelMismatchError,
    NotFoundError,
)


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lifelong")
    except PackageNotFoundError:  # imported from a source folder that was never installed
        return "0+unknown"


#: The package's version, as installed: ``lifelong.h``'s LIFELONG_VERSION_* (python/setup.py reads it), so it
#: is the library's and the CLI's too.
__version__ = _installed_version()

__all__ = ["Scorer", "MODES", "version", "Client", "ServiceError", "Error", "InvalidArgumentError", "NotFoundError",
           "ModelMismatchError", "DamagedError", "InputOutputError", "InternalError", "InputError"]

_CORE = ("Scorer", "MODES", "version")


def __getattr__(name: str) -> Any:
    if name in _CORE:
        from . import _core

        return getattr(_core, name)
    if name in ("Client", "ServiceError"):
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module 'lifelong' has no attribute {name!r}")
