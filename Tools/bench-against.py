"""Runs one `lifelong-bench` command against a build of another revision, in one run.

usage: bench-against.py [--rev REV] [--rounds N] [--baseline-cli] -- SUBCOMMAND [ARGS...]

Builds REV (default HEAD~1) in release into .build/baseline (a git worktree of the checkout and its own
build folder), builds the checkout in release, then runs the bench with the baseline binary and with the
checkout's alternately, N rounds (default 3), so both see the same machine state. Every figure of the last
JSON line the bench prints is reported as the median over rounds for each binary, with their ratio
(checkout over baseline). The CPU is named first, as every figure here depends on it.

With --baseline-cli, the checkout's bench alone runs, given the baseline's `lifelong` binary as
`--baseline-cli PATH` (for `encode`, whose text-log rows time both binaries on the same files in one run,
figures the baseline's bench does not have); its output is printed as it is.

Example: Tools/bench-against.py --rev main~3 -- score --lengths 100,10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(command: list[str], cwd: Path = ROOT) -> str:
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


def build(source: Path) -> Path:
    print(f"bench-against: building {source} in release", file=sys.stderr)
    for product in ("lifelong-bench", "lifelong"):
        subprocess.run(
            ["swift", "build", "-c", "release", "--product", product],
            cwd=source,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return Path(run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=source).strip()) / "lifelong-bench"


def baseline(rev: str) -> tuple[str, Path]:
    sha = run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"]).strip()
    tree = ROOT / ".build" / "baseline"
    if not (tree / ".git").exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
        )
    subprocess.run(["git", "checkout", "--quiet", "--detach", sha], cwd=tree, check=True)
    return sha, build(tree)


def figures(binary: Path, args: list[str]) -> dict[str, float]:
    out = run([str(binary), *args])
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"bench-against: {binary} {' '.join(args)} printed no JSON line")
    return {k: float(v) for k, v in json.loads(lines[-1]).items() if isinstance(v, (int, float))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="HEAD~1", help="the revision to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument(
        "--baseline-cli", action="store_true", help="run the checkout's bench alone with --baseline-cli BASELINE"
    )
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- SUBCOMMAND [ARGS...] of lifelong-bench")
    a = parser.parse_args()
    bench = a.bench[1:] if a.bench[:1] == ["--"] else a.bench
    if not bench or a.rounds < 1:
        parser.error("give a lifelong-bench subcommand after --, and --rounds ≥ 1")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    sha, old = baseline(a.rev)
    new = build(ROOT)
    head = run(["git", "rev-parse", "--short", "HEAD"]).strip()
    if a.baseline_cli:
        print(f"# CPU: {cpu}; lifelong-bench {' '.join(bench)} --baseline-cli <{a.rev} = {sha[:7]}>; checkout {head}")
        sys.stdout.flush()
        subprocess.run([str(new), *bench, "--baseline-cli", str(old.parent / "lifelong")], check=True)
        return
    dirty = " (with uncommitted changes)" if run(["git", "status", "--porcelain", "--untracked-files=no"]) else ""
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "checkout": []}
    for r in range(a.rounds):
        for name, binary in (("baseline", old), ("checkout", new)):
            print(f"bench-against: round {r + 1}/{a.rounds}, {name}", file=sys.stderr)
            runs[name].append(figures(binary, bench))
    print(f"# CPU: {cpu}; lifelong-bench {' '.join(bench)}; median of {a.rounds} alternating rounds")
    print(f"# baseline {a.rev} = {sha[:7]}, checkout {head}{dirty}")
    print("| figure | baseline | checkout | checkout / baseline |")
    print("|---|---:|---:|---:|")
    for key in runs["checkout"][0]:
        if not all(key in f for f in runs["baseline"]):
            continue
        before = statistics.median(f[key] for f in runs["baseline"])
        after = statistics.median(f[key] for f in runs["checkout"])
        ratio = after / before if before else float("nan")
        print(f"| {key} | {before:.6g} | {after:.6g} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
