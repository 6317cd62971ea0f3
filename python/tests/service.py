"""Starting `lifelong serve` (the lifelong-serve binary of the build under test) on free loopback ports, and
small HTTP helpers, for the service's tests."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from conftest import cli


def serve_binary() -> Path:
    return cli().parent / "lifelong-serve"


class Service:
    """A running `lifelong serve --grpc-port 0 --http-port 0 ARGS`; `stop()` sends SIGTERM and returns the exit
    status and the log."""

    def __init__(self, *args: str, ready_seconds: float = 120):
        self.process = subprocess.Popen([str(serve_binary()), "--grpc-port", "0", "--http-port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log: List[str] = []
        line = self._first_line(ready_seconds)
        ports = dict(part.split("=", 1) for part in line.split()[1:])
        self.grpc, self.http = ports.get("grpc"), ports.get("http")
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _first_line(self, seconds: float) -> str:
        assert self.process.stdout is not None
        timer = threading.Timer(seconds, self.process.kill)
        timer.start()
        try:
            line = self.process.stdout.readline()
        finally:
            timer.cancel()
        if not line.startswith("listening"):
            err = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"lifelong serve did not start ({self.process.poll()}): {line}{err}")
        return line

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def url(self, path: str) -> str:
        return f"http://{self.http}{path}"

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, seconds: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http(method: str, url: str, body: Any = None, raw: Optional[bytes] = None,
         headers: Optional[Dict[str, str]] = None, timeout: float = 60) -> Tuple[int, Dict[str, str], Any]:
    """(status, headers, decoded JSON or text) of one request; never raises for an HTTP error status."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, head, payload = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, head, payload = e.code, dict(e.headers), e.read()
    text = payload.decode()
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text


def wait_until(condition: Any, seconds: float = 30) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
