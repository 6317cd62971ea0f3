"""Loading liblifelong_c.so and declaring the functions of lifelong.h for ctypes."""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_size_t, c_void_p
from pathlib import Path

LIBRARY_NAME = "liblifelong_c.so"
#: The ABI these declarations describe (LIFELONG_ABI_VERSION of lifelong.h).
ABI_VERSION = 2


def _candidates() -> list[Path]:
    """Where the library is looked for: $LIFELONG_LIBRARY alone when it is set, else next to this package
    (copied there before `pip install ./python`), else the SwiftPM build folders of a source checkout."""
    explicit = os.environ.get("LIFELONG_LIBRARY")
    if explicit:
        return [Path(explicit)]
    here = Path(__file__).resolve().parent
    root = here.parent.parent
    return [here / LIBRARY_NAME] + [root / ".build" / config / LIBRARY_NAME for config in ("release", "debug")]


def load() -> ctypes.CDLL:
    """Loads the shared library; raises OSError naming every place that was tried."""
    candidates = _candidates()
    for path in candidates:
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            abi = lib.lifelong_abi_version() if hasattr(lib, "lifelong_abi_version") else 1
            if abi != ABI_VERSION:
                raise OSError(f"{path} speaks ABI {abi}; this package speaks ABI {ABI_VERSION} (rebuild the library "
                              "from the same checkout, or install the matching package)")
            _declare(lib)
            return lib
    raise OSError(
        f"{LIBRARY_NAME} not found (tried: {', '.join(map(str, candidates))}); install the wheel of "
        "Tools/build-wheel.sh, or build the library (`swift build -c release --product lifelong_c`) and set "
        "LIFELONG_LIBRARY to its path"
    )


def _declare(lib: ctypes.CDLL) -> None:
    scorer = c_void_p
    lib.lifelong_version.argtypes = []
    lib.lifelong_version.restype = c_char_p
    lib.lifelong_abi_version.argtypes = []
    lib.lifelong_abi_version.restype = c_int
    lib.lifelong_status_name.argtypes = [c_int]
    lib.lifelong_status_name.restype = c_char_p
    lib.lifelong_last_error.argtypes = []
    lib.lifelong_last_error.restype = c_char_p
    lib.lifelong_scorer_open.argtypes = [c_char_p, c_char_p, c_int, POINTER(c_void_p)]
    lib.lifelong_scorer_open.restype = c_int
    lib.lifelong_scorer_open_manifest.argtypes = [c_char_p, c_char_p, c_int, POINTER(c_void_p)]
    lib.lifelong_scorer_open_manifest.restype = c_int
    lib.lifelong_scorer_close.argtypes = [scorer]
    lib.lifelong_scorer_close.restype = None
    lib.lifelong_score.argtypes = [scorer, c_char_p, POINTER(c_char_p), c_size_t, c_int, POINTER(c_float)]
    lib.lifelong_score.restype = c_int
    lib.lifelong_score_packed.argtypes = [
        scorer, c_char_p, c_char_p, POINTER(c_size_t), c_size_t, c_int, POINTER(c_float)
    ]
    lib.lifelong_score_packed.restype = c_int
    lib.lifelong_scorer_dimension.argtypes = [scorer, POINTER(c_size_t)]
    lib.lifelong_scorer_dimension.restype = c_int
    lib.lifelong_long_term_interest.argtypes = [
        scorer, c_char_p, POINTER(c_char_p), c_size_t, c_int, POINTER(c_float)
    ]
    lib.lifelong_long_term_interest.restype = c_int
    lib.lifelong_scorer_describe.argtypes = [scorer, c_char_p, c_size_t, POINTER(c_size_t)]
    lib.lifelong_scorer_describe.restype = c_int
    lib.lifelong_append.argtypes = [scorer, c_char_p, c_char_p, c_double, c_int]
    lib.lifelong_append.restype = c_int
    lib.lifelong_append_batch.argtypes = [
        scorer, c_size_t, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_double), POINTER(c_int), POINTER(c_int)
    ]
    lib.lifelong_append_batch.restype = c_int
