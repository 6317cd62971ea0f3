"""Open-loop load at a fixed arrival rate, for service_bench.py: request i is due at t0 + i / rate whatever
happened to the ones before it, and its latency runs from when it was due (so a stalled service is charged for
the requests it delayed: no coordinated omission). HTTP/1.1 over a pool of keep-alive connections, gRPC over
one HTTP/2 channel (grpcio's asyncio API); bodies are pre-encoded, so the client does little per request."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import grpc


@dataclass
class Outcome:
    """Latencies (seconds) of the accepted requests, and a count per status ("200", "503", "OK", ...)."""

    latencies: List[float] = field(default_factory=list)
    statuses: Dict[str, int] = field(default_factory=dict)
    fingerprints: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class HTTPPool:
    """Keep-alive HTTP/1.1 connections to host:port; a request waits for a free one."""

    def __init__(self, host: str, port: int, connections: int):
        self.host, self.port, self.size = host, port, connections
        self.free: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def post(self, path: str, body: bytes, headers: str = "") -> tuple:
        reader, writer = await self.free.get()
        try:
            writer.write((f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"{headers}Content-Length: {len(body)}\r\n\r\n").encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1].decode()
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            return status, await reader.readexactly(length)
        finally:
            self.free.put_nowait((reader, writer))

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait()[1].close()


def fingerprint_of(reply: bytes) -> Optional[str]:
    """The fingerprint of a JSON score reply (its last field), without parsing the probabilities."""
    at = reply.rfind(b'"fingerprint":"')
    return reply[at + 15:at + 79].decode() if at >= 0 else None


async def paced(rate: float, seconds: float, send) -> Outcome:
    """Calls `send(i, outcome)` for request i at its due time, for `seconds`; waits for every call to end."""
    outcome = Outcome()
    count = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(send, i, due, outcome)))
    await asyncio.gather(*tasks)
    outcome.seconds = time.perf_counter() - start
    return outcome


async def timed(send, i: int, due: float, outcome: Outcome) -> None:
    accepted = await send(i, outcome)
    if accepted:
        outcome.latencies.append(time.perf_counter() - due)


async def http_load(host: str, port: int, bodies: Sequence[bytes], rate: float, seconds: float,
                    connections: int = 32) -> Outcome:
    pool = HTTPPool(host, port, connections)
    await pool.open()

    async def send(i: int, outcome: Outcome) -> bool:
        status, reply = await pool.post("/v1/score", bodies[i % len(bodies)])
        outcome.count(status)
        if status == "200":
            fp = fingerprint_of(reply)
            if fp:
                outcome.fingerprints[fp] = outcome.fingerprints.get(fp, 0) + 1
        return status == "200"

    try:
        return await paced(rate, seconds, send)
    finally:
        pool.close()


async def grpc_load(target: str, messages: Sequence[bytes], rate: float, seconds: float,
                    timeout: float = 60) -> Outcome:
    """Score calls at `rate` per second, each with the gRPC deadline `timeout` seconds."""
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)]) as ch:
        score = ch.unary_unary("/lifelong.v1.Scorer/Score", request_serializer=None, response_deserializer=None)

        async def send(i: int, outcome: Outcome) -> bool:
            try:
                await score(messages[i % len(messages)], timeout=timeout)
                outcome.count("OK")
                return True
            except grpc.aio.AioRpcError as e:
                outcome.count(e.code().name)
                return False

        return await paced(rate, seconds, send)


async def grpc_appends(target: str, messages: Sequence[bytes], rate: float, seconds: float) -> Outcome:
    """Append requests (pre-encoded AppendRequest messages) at `rate` per second."""
    async with grpc.aio.insecure_channel(target) as ch:
        append = ch.unary_unary("/lifelong.v1.Scorer/Append", request_serializer=None, response_deserializer=None)

        async def send(i: int, outcome: Outcome) -> bool:
            try:
                await append(messages[i % len(messages)], timeout=60)
                outcome.count("OK")
                return True
            except grpc.aio.AioRpcError as e:
                outcome.count(e.code().name)
                return False

        return await paced(rate, seconds, send)
