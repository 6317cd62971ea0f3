"""The scorer from the wheel against the scorer of the build folder: p50 of one `bse` request (B = 1,000,
d = 128, L = 10^4) through the Python package over each liblifelong_c.so, interleaved in one run.

usage: wheel_bench.py WHEEL_LIBRARY BUILD_LIBRARY [--cli LIFELONG] [--rounds 6] [--requests 200]

The store is made once with the CLI (a synthetic user of 10^4 behaviors, a random bundle); each round runs
score_bench.py once per library, alternating which goes first; the report is the median over rounds of each
library's p50 and their ratio (goal: the wheel within 3 %).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's package, as score_bench.py imports it

from lifelong.bundle import Vocabulary  # noqa: E402


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def p50(library: str, model: Path, store: Path, items: Path, requests: int) -> float:
    env = {**os.environ, "LIFELONG_LIBRARY": library}
    out = subprocess.run([sys.executable, str(HERE / "score_bench.py"), str(model), str(store), "1", str(items),
                          str(requests)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"score_bench.py over {library} failed:\n{out.stderr[-2000:]}")
    return float(next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("p50_seconds")))


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("wheel_library")
    a.add_argument("build_library")
    a.add_argument("--cli", default=str(Path(a.parse_known_args()[0].build_library).parent / "lifelong"))
    a.add_argument("--rounds", type=int, default=6)
    a.add_argument("--requests", type=int, default=200)
    args = a.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = lambda *xs: subprocess.run([args.cli, *xs], check=True, capture_output=True)  # noqa: E731
        run("synth", "--out", str(root / "log"), "--users", "1", "--length", "10000,10000", "--seed", "5")
        run("init-model", "--data", str(root / "log"), "--out", str(root / "model"), "--feedback", "--d-item", "96",
            "--d-cat", "32")
        run("encode", "--model", str(root / "model"), "--data", str(root / "log"), "--store", str(root / "store"),
            "--quiet")
        vocab = root / "model" / "vocab.tsv"
        items = list(Vocabulary.parse(vocab.read_bytes(), str(vocab)).items)[:1000]
        (root / "items.txt").write_text("\n".join(items))
        times: dict[str, list[float]] = {"wheel": [], "build": []}
        libraries = {"wheel": args.wheel_library, "build": args.build_library}
        for r in range(args.rounds):
            for name in (("wheel", "build") if r % 2 == 0 else ("build", "wheel")):
                times[name].append(p50(libraries[name], root / "model", root / "store", root / "items.txt",
                                       args.requests))
    wheel, build = statistics.median(times["wheel"]), statistics.median(times["build"])
    print(f"# {cpu()}; bse request, B = {len(items)}, d = 128, L = 10^4, {args.rounds} rounds × {args.requests}")
    print(f"wheel p50 {wheel * 1e3:.3f} ms   build p50 {build * 1e3:.3f} ms   wheel / build {wheel / build:.3f} "
          "(goal ≤ 1.03)")


if __name__ == "__main__":
    main()
