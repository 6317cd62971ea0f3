"""`lifelong serve` under load, against the embedded scorer on the same cores, in one run (docs/SERVING.md).

usage: .venv/bin/python python/benchmarks/service_bench.py [--bin .build/release] [--seconds 10] [--work DIR]
       [--users 40] [--length 10000] [--candidates 1000] [--threads 2] [--pin] [--max-queue-delay MS] [--json FILE]

With --pin (and --threads 1) the comparison is fair on 2 cores: the service and the embedded scorer each run on
core 0, every load generator (h2load, wrk, the open-loop client, this script) on core 1, and each row reports the
generators' CPU share of core 1. Without it, everything shares every core.

Store: synthetic users of L = --length behaviors, d = 128 (d_item 96 + d_cat 32), B = --candidates per request;
then the MovieLens-100K store (d = 48, B = 100) for the cheap-request rows and the 10^5-request run. Prints:
- saturation: requests/s of the embedded scorer (the C ABI, --threads Python threads, ids packed once), of gRPC
  (h2load, --threads + 2 streams) and of HTTP (wrk, --threads + 2 connections), and service over embedded
  (goal ≥ 0.85);
- tails at 50 % and 80 % of each protocol's saturation, open-loop (loadgen.py): p50, p99, p99.9 (goal: p99 at
  50 % ≤ 1.5 × the embedded request's p50 on one thread);
- overload: 2 × saturation for 3 × --seconds: shed share, accepted p99 over its value at 50 % (goal ≤ 3), RSS;
- deadlines under overload: gRPC at 2 × saturation with a deadline of 3 × the embedded p50 on every call: the
  share of scoring-thread time spent on calls whose caller had already given up (goal < 1 %);
- appends under load: 5,000 behaviors/s through gRPC Append at 50 % score load: p99 rise (goal ≤ 20 %), and
  read-your-write checks against the embedded scorer reading the same store;
- roll-out: 20 reloads (model and store symlinks flipped between two encodes, POST /v1/admin/reload) during
  6 × --seconds at 50 %: failed requests (goal 0) and the fingerprints of the replies (old or new only);
- RSS and open file descriptors of the service before and after 10^5 requests (gRPC, MovieLens store).
Every load loop is bounded in count and time; all traffic goes to 127.0.0.1. The load generators share the
machine's cores with the service (2 cores here), as the embedded scorer does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from ctypes import POINTER, c_float, c_size_t
from pathlib import Path
from typing import Any, Dict, List, Tuple

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

import lifelong  # noqa: E402
import loadgen  # noqa: E402
import numpy as np  # noqa: E402
from lifelong._core import _packed  # noqa: E402
from lifelong.v1 import scorer_pb2 as pb  # noqa: E402

ROOT = HERE.parents[2]


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", info)
    flags = re.search(r"flags\s*:\s*(.*)", info)
    isa = [f for f in ("avx512f", "avx2", "fma") if flags and f in flags.group(1).split()]
    return f"{model.group(1) if model else '?'} ({', '.join(isa)}), {os.cpu_count()} cores"


PIN: Dict[str, List[str]] = {"service": [], "generators": []}


def pin(core: int) -> None:
    """This process (and the generators it starts from now on) on `core`, when --pin."""
    if PIN["service"]:
        os.sched_setaffinity(0, {core})


class GeneratorCPU:
    """The CPU seconds this process and its finished children take over a span, and the span's wall time."""

    def __enter__(self) -> GeneratorCPU:
        self.start = (time.perf_counter(), self.cpu())
        return self

    def __exit__(self, *exc: object) -> None:
        self.share = (self.cpu() - self.start[1]) / (time.perf_counter() - self.start[0])

    @staticmethod
    def cpu() -> float:
        own, children = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.user + own.system + children.ru_utime + children.ru_stime


def run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} … failed ({done.returncode}): "
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


class Server:
    """lifelong-serve on free loopback ports."""

    def __init__(self, binary: Path, *args: str):
        command = [*PIN["service"], str(binary), "--grpc-port", "0", "--http-port", "0", "--log-level", "warning"]
        self.process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        ports = dict(p.split("=", 1) for p in line.split()[1:])
        self.grpc, self.http = ports["grpc"], ports["http"]
        self.http_port = int(self.http.rsplit(":", 1)[1])

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.http}{path}", timeout=60) as r:
            return r.read().decode()

    def reload(self) -> int:
        request = urllib.request.Request(f"http://{self.http}/v1/admin/reload", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status

    def memory(self) -> Tuple[int, int, int]:
        """(RSS KiB, peak RSS KiB, open file descriptors)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s*(\d+)", status).group(1))  # type: ignore[union-attr]
        hwm = int(re.search(r"VmHWM:\s*(\d+)", status).group(1))  # type: ignore[union-attr]
        return rss, hwm, len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def failed_grpc_scores(self) -> int:
        """gRPC Score calls answered with a status other than OK so far (h2load sees only HTTP statuses), but
        for those cancelled: h2load resets the calls in flight when its time is up."""
        pattern = r'^lifelong_requests_total\{([^}]*)\} ([0-9.e+]+)$'
        return sum(int(float(value)) for labels, value in re.findall(pattern, self.get("/metrics"), re.M)
                   if 'method="score"' in labels and 'transport="grpc"' in labels
                   and 'status="ok"' not in labels and 'status="cancelled"' not in labels)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(120)


def requests_for(users: List[str], items: List[str], count: int, b: int, seed: int) -> List[Tuple[str, List[str]]]:
    g = random.Random(seed)
    return [(g.choice(users), [g.choice(items) for _ in range(b)]) for _ in range(count)]


def embedded(model: Path, store: Path, requests: List[Tuple[str, List[str]]], threads: int,
             seconds: float) -> Tuple[float, float]:
    """(requests/s over `threads` threads, p50 seconds of one request on one thread): the C ABI with ids
    packed once, so only the scorer's own work is timed."""
    with lifelong.Scorer(model, store) as scorer:
        packed = [(u.encode(), *_packed(c), np.empty(len(c), dtype=np.float32)) for u, c in requests]

        def call(k: int, out: np.ndarray) -> None:
            user, ids, offsets, _ = packed[k % len(packed)]
            scorer._lib.lifelong_score_packed(scorer._handle, user, ids, offsets.ctypes.data_as(POINTER(c_size_t)),
                                              len(offsets) - 1, 0, out.ctypes.data_as(POINTER(c_float)))

        single = []
        out0 = np.empty(max(len(c) for _, c in requests), dtype=np.float32)
        for k in range(min(200, 10 * len(packed))):
            t = time.perf_counter()
            call(k, out0)
            single.append(time.perf_counter() - t)
        single.sort()
        counts = [0] * threads
        end = time.perf_counter() + seconds

        def loop(t: int) -> None:
            out = np.empty_like(out0)
            k = t
            while time.perf_counter() < end:
                call(k, out)
                counts[t] += 1
                k += threads

        workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(counts) / (time.perf_counter() - start), single[len(single) // 2]


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def h2load(server: Server, frame: Path, threads: int, *, seconds: float = 0, count: int = 0) -> float:
    """gRPC Score calls with h2load (one HTTP/2 connection, threads + 2 streams in flight: every thread busy and
    two waiting, which the queue always admits); requests/s."""
    budget = ["-D", str(int(seconds))] if seconds else ["-n", str(count)]
    failed = server.failed_grpc_scores()
    out = run("h2load", *budget, "-c", "1", "-m", str(threads + 2), "-t", "1", "-d", str(frame), "-H",
              "content-type: application/grpc", "-H", "te: trailers", f"http://{server.grpc}/lifelong.v1.Scorer/Score")
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out)
    assert m and ok and int(ok.group(2)) == 0, out
    assert server.failed_grpc_scores() == failed, "gRPC calls under h2load were refused: " + "; ".join(
        line for line in server.get("/metrics").splitlines() if line.startswith("lifelong_requests_total"))
    return float(m.group(1))


def wrk(server: Server, bodies: Path, seconds: float, work: Path, threads: int) -> float:
    """HTTP POST /v1/score with wrk (threads + 2 connections, one thread), cycling through `bodies`."""
    script = work / "score.lua"
    script.write_text(f"""
local bodies = {{}}
for line in io.lines("{bodies}") do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/score", {{["Content-Type"] = "application/json"}}, bodies[i])
end
""")
    out = run("wrk", "-t1", f"-c{threads + 2}", f"-d{int(seconds)}s", "-s", str(script), f"http://{server.http}")
    assert "Non-2xx" not in out, out
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    assert m, out
    return float(m.group(1))


def build(cli: str, work: Path, users: int, length: int) -> Dict[str, Path]:
    """Two encodes of one synthetic log with two models (for the roll-out), and the MovieLens store."""
    run(cli, "synth", "--out", str(work / "log"), "--users", str(users), "--length", f"{length},{length}",
        "--seed", "1")
    paths: Dict[str, Path] = {}
    for name, seed in (("a", "1"), ("b", "2")):
        run(cli, "init-model", "--data", str(work / "log"), "--out", str(work / f"model-{name}"), "--d-item", "96",
            "--d-cat", "32", "--feedback", "--seed", seed)
        run(cli, "encode", "--model", str(work / f"model-{name}"), "--data", str(work / "log"), "--store",
            str(work / f"store-{name}"), "--quiet")
        paths[f"model-{name}"], paths[f"store-{name}"] = work / f"model-{name}", work / f"store-{name}"
    for name in ("model", "store"):
        (work / name).symlink_to(work / f"{name}-a")
    data = Path(os.environ.get("LIFELONG_DATA", ROOT / "Data")) / "ml-100k"
    run(cli, "init-model", "--data", str(data), "--out", str(work / "ml-model"), "--feedback")
    run(cli, "encode", "--model", str(work / "ml-model"), "--data", str(data), "--store", str(work / "ml-store"),
        "--quiet")
    paths.update(model=work / "model", store=work / "store", ml_model=work / "ml-model", ml_store=work / "ml-store",
                 log=work / "log", ml_data=data)
    return paths


def ids_of(log: Path, column: int, suffix: str) -> List[str]:
    lines = next(log.glob(f"*.{suffix}")).read_text().splitlines()[1:]
    return sorted({line.split("\t")[column] for line in lines if line})


def bodies(requests: List[Tuple[str, List[str]]], work: Path, name: str) -> Tuple[List[bytes], List[bytes], Path,
                                                                                     Path]:
    """JSON bodies, protobuf messages, the JSON lines file for wrk and the first message framed for h2load."""
    json_bodies = [json.dumps({"user": u, "candidates": c}).encode() for u, c in requests]
    messages = [pb.ScoreRequest(user=u, candidates=c).SerializeToString() for u, c in requests]
    lines, frame = work / f"{name}.jsonl", work / f"{name}.grpc"
    lines.write_bytes(b"\n".join(json_bodies) + b"\n")
    frame.write_bytes(grpc_frame(messages[0]))
    return json_bodies, messages, lines, frame


def tail_row(name: str, o: loadgen.Outcome, generator: float = float("nan")) -> Dict[str, Any]:
    row = {"p50_ms": o.percentile(0.5) * 1e3, "p99_ms": o.percentile(0.99) * 1e3,
           "p999_ms": o.percentile(0.999) * 1e3, "statuses": o.statuses, "accepted": len(o.latencies),
           "generator_cpu": generator}
    print(f"| {name} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['p999_ms']:.2f} | "
          f"{', '.join(f'{k}: {v}' for k, v in sorted(o.statuses.items()))} | {generator:.0%} |")
    return row


def open_loop(load: Any) -> Tuple[loadgen.Outcome, float]:
    """An open-loop run and the generator's CPU share."""
    with GeneratorCPU() as g:
        outcome = asyncio.run(load)
    return outcome, g.share


def scoring_seconds(server: Server) -> Tuple[float, float]:
    """Seconds the scoring threads spent for callers still waiting and for callers gone."""
    text = server.get("/metrics")
    found = dict(re.findall(r'^lifelong_scoring_seconds_total\{caller="(\w+)"\} ([0-9.e+-]+)$', text, re.M))
    return float(found.get("waiting", 0)), float(found.get("gone", 0))


def saturation(server: Server, args: argparse.Namespace, json_file: Path, frame: Path, work: Path,
               model: Path, store: Path, requests: List[Tuple[str, List[str]]], label: str) -> Dict[str, Any]:
    pin(0)  # the embedded scorer where the service runs
    rate, p50 = embedded(model, store, requests, args.threads, args.seconds)
    pin(1)
    with GeneratorCPU() as g:
        grpc_rate = h2load(server, frame, args.threads, seconds=args.seconds)
    with GeneratorCPU() as h:
        http_rate = wrk(server, json_file, args.seconds, work, args.threads)
    print(f"| {label} | {rate:.0f} | {grpc_rate:.0f} ({grpc_rate / rate:.3f}) | {http_rate:.0f} "
          f"({http_rate / rate:.3f}) | {p50 * 1e3:.3f} | {g.share:.0%}, {h.share:.0%} |")
    return {"embedded_rps": rate, "grpc_rps": grpc_rate, "http_rps": http_rate, "grpc_ratio": grpc_rate / rate,
            "http_ratio": http_rate / rate, "embedded_p50_ms": p50 * 1e3, "generator_cpu": (g.share, h.share)}


def appends_under_load(server: Server, args: argparse.Namespace, paths: Dict[str, Path], messages: List[bytes],
                       rate: float, users: List[str], items: List[str], requests: List[Tuple[str, List[str]]],
                       quiet: loadgen.Outcome) -> Dict[str, Any]:
    """5,000 behaviors/s (50 appends of 100) beside scores at `rate`; then read-your-write checks."""
    seconds = 2 * args.seconds
    g = random.Random(5)
    appends = []
    for k in range(int(50 * seconds)):
        events = [pb.Event(user=g.choice(users), item=g.choice(items), timestamp=3e9 + k * 100 + j, label=j % 2 == 0)
                  for j in range(100)]
        appends.append(pb.AppendRequest(events=events).SerializeToString())

    async def both() -> Tuple[loadgen.Outcome, loadgen.Outcome]:
        scores = loadgen.grpc_load(server.grpc, messages, rate, seconds)
        writes = loadgen.grpc_appends(server.grpc, appends, 50, seconds)
        s, w = await asyncio.gather(scores, writes)
        return s, w

    scores, writes = asyncio.run(both())
    row = tail_row("gRPC at 50 %, 5,000 behaviors/s appended", scores)
    row["append_statuses"] = writes.statuses
    row["append_p99_ms"] = writes.percentile(0.99) * 1e3
    row["p99_rise"] = scores.percentile(0.99) / quiet.percentile(0.99) - 1
    # Read your write: each append is in the very next score of that user, as the embedded scorer reading
    # the same store sees it.
    mismatches = 0
    with lifelong.Client(server.grpc) as client, lifelong.Scorer(paths["model"], paths["store"]) as reader:
        for k in range(100):
            user, candidates = f"ryw-{k}", requests[k % len(requests)][1][:50]
            cold = client.score(user, candidates)
            client.append(user, items[k % len(items)], 4e9 + k)
            warm = client.score(user, candidates)
            if np.array_equal(warm, cold) or not np.array_equal(warm, reader.score(user, candidates)):
                mismatches += 1
    row["read_your_write_failures"] = mismatches
    print(f"append p99 {row['append_p99_ms']:.2f} ms ({writes.statuses}); score p99 rise "
          f"{row['p99_rise'] * 100:+.1f} % (goal ≤ +20 %); read-your-write failures {mismatches} of 100")
    return row


def rollout(server: Server, args: argparse.Namespace, paths: Dict[str, Path], bodies_: List[bytes],
            rate: float) -> Dict[str, Any]:
    """20 reloads during 6 × --seconds at `rate`: model and store symlinks flipped a ↔ b, then the admin call."""
    seconds = 6 * args.seconds
    reloads: List[int] = []

    def flipper() -> None:
        for k in range(20):
            time.sleep(seconds / 21)
            target = "b" if k % 2 == 0 else "a"
            for name in ("model", "store"):
                link = paths[name].with_name(name + ".next")
                link.symlink_to(paths[name].with_name(f"{name}-{target}"))
                os.replace(link, paths[name])
            reloads.append(server.reload())

    t = threading.Thread(target=flipper)
    t.start()
    outcome = asyncio.run(loadgen.http_load("127.0.0.1", server.http_port, bodies_, rate, seconds))
    t.join()
    fingerprints = set()
    for n in ("a", "b"):
        with lifelong.Scorer(paths[f"model-{n}"], paths[f"store-{n}"]) as s:
            fingerprints.add(s.describe()["fingerprint"])
    row = tail_row("HTTP at 50 %, 20 reloads", outcome)
    row.update(reloads=len(reloads), reload_statuses=sorted(set(reloads)), fingerprints=outcome.fingerprints)
    failed = sum(v for k, v in outcome.statuses.items() if k != "200")
    row["failed"] = failed
    row["foreign_fingerprints"] = sum(v for k, v in outcome.fingerprints.items() if k not in fingerprints)
    print(f"reloads {len(reloads)} (HTTP {sorted(set(reloads))}); failed requests {failed} (goal 0); replies by "
          f"model: {sorted(outcome.fingerprints.values())}, of neither model: {row['foreign_fingerprints']}")
    return row


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--bin", default=str(ROOT / ".build" / "release"))
    a.add_argument("--seconds", type=float, default=10)
    a.add_argument("--work", default=tempfile.gettempdir())
    a.add_argument("--users", type=int, default=40)
    a.add_argument("--length", type=int, default=10_000)
    a.add_argument("--candidates", type=int, default=1000)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--pin", action="store_true",
                   help="service and embedded scorer on core 0, load generators on core 1 (use with --threads 1)")
    a.add_argument("--max-queue-delay", help="passed to lifelong serve (ms; its default when absent)")
    a.add_argument("--json", help="also write the figures here")
    args = a.parse_args()
    binary = Path(args.bin)
    if args.pin:
        PIN["service"] = ["taskset", "-c", "0"]
    os.environ.setdefault("LIFELONG_LIBRARY", str(binary / "liblifelong_c.so"))
    work = Path(tempfile.mkdtemp(prefix="lifelong-service-bench-", dir=args.work))
    figures: Dict[str, Any] = {"cpu": cpu()}
    try:
        paths = build(str(binary / "lifelong"), work, args.users, args.length)
        users, items = ids_of(paths["log"], 0, "inter"), ids_of(paths["log"], 0, "item")
        requests = requests_for(users, items, 64, args.candidates, 1)
        json_bodies, messages, json_file, frame = bodies(requests, work, "synthetic")
        print(f"{cpu()}; synthetic store: {len(users)} users of L = {args.length:,}, d = 128, "
              f"B = {args.candidates}; --threads {args.threads}, --max-queue-delay {args.max_queue_delay or 'default'}"
              f"{'; service and embedded scorer on core 0, load generators on core 1' if args.pin else ''}")
        delay = ["--max-queue-delay", args.max_queue_delay] if args.max_queue_delay else []
        server = Server(binary / "lifelong-serve", "--model", str(paths["model"]), "--store", str(paths["store"]),
                        "--threads", str(args.threads), "--writable", *delay)
        print("\n| requests | embedded req/s | gRPC req/s (over embedded) | HTTP req/s (over embedded) | "
              "embedded p50 ms, 1 thread | generators' CPU (gRPC, HTTP) |\n|---|---:|---:|---:|---:|---:|")
        sat = saturation(server, args, json_file, frame, work, paths["model"], paths["store"], requests,
                         f"L = {args.length:,}, d = 128, B = {args.candidates}")
        figures["saturation"] = sat
        print("\n| load (open loop) | p50 ms | p99 ms | p99.9 ms | statuses | generator's CPU |\n"
              "|---|---:|---:|---:|---|---:|")
        tails: Dict[str, Any] = {}
        quiet = None
        for share in (0.5, 0.8):
            o, g = open_loop(loadgen.grpc_load(server.grpc, messages, share * sat["grpc_rps"], 2 * args.seconds))
            tails[f"grpc_{int(share * 100)}"] = tail_row(f"gRPC at {int(share * 100)} %", o, g)
            quiet = quiet or o
            o, g = open_loop(loadgen.http_load("127.0.0.1", server.http_port, json_bodies, share * sat["http_rps"],
                                               2 * args.seconds))
            tails[f"http_{int(share * 100)}"] = tail_row(f"HTTP at {int(share * 100)} %", o, g)
        before = server.memory()
        o, g = open_loop(loadgen.http_load("127.0.0.1", server.http_port, json_bodies, 2 * sat["http_rps"],
                                           3 * args.seconds, connections=256))
        tails["http_overload"] = tail_row("HTTP at 2 × saturation", o, g)
        after = server.memory()
        # Every call with a deadline of 3 × the embedded p50: what share of the scoring threads' time went to
        # calls whose caller had given up by the time they ended?
        spent = scoring_seconds(server)
        deadline = 3 * sat["embedded_p50_ms"] / 1e3
        o, g = open_loop(loadgen.grpc_load(server.grpc, messages, 2 * sat["grpc_rps"], 3 * args.seconds,
                                           timeout=deadline))
        tails["grpc_overload_deadline"] = tail_row(f"gRPC at 2 × saturation, deadline {deadline * 1e3:.1f} ms", o, g)
        waiting, gone = (b - a for a, b in zip(spent, scoring_seconds(server)))
        tails["grpc_overload_deadline"]["gone_share"] = gone / max(waiting + gone, 1e-9)
        tails["http_overload"].update(rss_before_kib=before[0], rss_after_kib=after[0], fds=(before[2], after[2]))
        figures["tails"] = tails
        p50_1 = sat["embedded_p50_ms"]
        print(f"\np99 at 50 % over the embedded p50 (goal ≤ 1.5): gRPC "
              f"{tails['grpc_50']['p99_ms'] / p50_1:.2f}, HTTP {tails['http_50']['p99_ms'] / p50_1:.2f}; overload: "
              f"accepted p99 over p99 at 50 % {tails['http_overload']['p99_ms'] / tails['http_50']['p99_ms']:.2f} "
              f"(goal ≤ 3), RSS {before[0] / 1024:.0f} → {after[0] / 1024:.0f} MiB, fds {before[2]} → {after[2]}; "
              f"scoring time for callers gone under deadlines "
              f"{tails['grpc_overload_deadline']['gone_share']:.2%} (goal < 1 %)")
        assert quiet is not None
        figures["appends"] = appends_under_load(server, args, paths, messages, 0.5 * sat["grpc_rps"], users, items,
                                                requests, quiet)
        figures["rollout"] = rollout(server, args, paths, json_bodies, 0.5 * sat["http_rps"])
        figures["stop_status"] = server.stop()
        figures["movielens"] = movielens(binary, args, paths, work)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def movielens(binary: Path, args: argparse.Namespace, paths: Dict[str, Path], work: Path) -> Dict[str, Any]:
    """The MovieLens store, B = 100: saturation, then RSS and descriptors around 10^5 gRPC requests."""
    users = ids_of(paths["ml_data"], 0, "inter")
    items = ids_of(paths["ml_data"], 0, "item")
    requests = requests_for(users, items, 64, 100, 2)
    _, _, json_file, frame = bodies(requests, work, "movielens")
    server = Server(binary / "lifelong-serve", "--model", str(paths["ml_model"]), "--store", str(paths["ml_store"]),
                    "--threads", str(args.threads))
    print("\n| requests | embedded req/s | gRPC req/s (over embedded) | HTTP req/s (over embedded) | "
          "embedded p50 ms, 1 thread | generators' CPU (gRPC, HTTP) |\n|---|---:|---:|---:|---:|---:|")
    row = saturation(server, args, json_file, frame, work, paths["ml_model"], paths["ml_store"], requests,
                     "MovieLens-100K, d = 48, B = 100")
    before = server.memory()
    h2load(server, frame, args.threads, count=100_000)
    after = server.memory()
    row.update(rss_kib=(before[0], after[0]), peak_rss_kib=(before[1], after[1]), fds=(before[2], after[2]))
    print(f"10^5 gRPC requests: RSS {before[0] / 1024:.1f} → {after[0] / 1024:.1f} MiB, peak "
          f"{before[1] / 1024:.1f} → {after[1] / 1024:.1f} MiB, open fds {before[2]} → {after[2]}")
    row["stop_status"] = server.stop()
    return row


if __name__ == "__main__":
    main()
