"""p50 of one request through the Python package, for `lifelong-bench embed` (which runs this file).

usage: score_bench.py MODEL STORE USER ITEMS_FILE REQUESTS   (ITEMS_FILE: one candidate id per line)
Prints "p50_seconds X" for `Scorer.score` and "p50_call_seconds X" for the C call alone (ids packed once),
alternating the two. Imports the package from this checkout's python/ folder.
"""

import sys
import time
from ctypes import POINTER, c_float, c_size_t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lifelong  # noqa: E402
import numpy as np  # noqa: E402
from lifelong._core import _packed  # noqa: E402


def p50(body, requests: int) -> float:
    for _ in range(5):
        body()
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    model, store, user, items_file, requests = sys.argv[1:6]
    items = Path(items_file).read_text().split("\n")
    with lifelong.Scorer(model, store) as scorer:
        ids, offsets = _packed(items)
        out = np.empty(len(items), dtype=np.float32)
        user_bytes = user.encode()

        def call() -> None:
            scorer._lib.lifelong_score_packed(
                scorer._handle, user_bytes, ids, offsets.ctypes.data_as(POINTER(c_size_t)), len(items), 0,
                out.ctypes.data_as(POINTER(c_float)))

        whole, alone = [], []
        for _ in range(4):
            whole.append(p50(lambda: scorer.score(user, items), int(requests) // 4))
            alone.append(p50(call, int(requests) // 4))
    print(f"p50_call_seconds {sorted(alone)[len(alone) // 2]}")
    print(f"p50_seconds {sorted(whole)[len(whole) // 2]}")


if __name__ == "__main__":
    main()
