"""``lifelong.Client``: the scoring service (``lifelong serve``, docs/SERVING.md) over gRPC, with the
signatures of ``lifelong.Scorer``. Needs grpcio and protobuf (``pip install lifelong[client]``), not the
native library."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from ._errors import Error, InvalidArgumentError

__all__ = ["Client", "ServiceError"]


class ServiceError(Error):
    """A call the service did not answer; ``code`` is the gRPC status name (``RESOURCE_EXHAUSTED`` when it
    sheds load, ``UNAUTHENTICATED`` without the write token, ``FAILED_PRECONDITION`` for an append to a
    read-only service, ``DEADLINE_EXCEEDED``, ``UNAVAILABLE``)."""

    kind = "service"

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _label(label: Any, name: str) -> Optional[bool]:
    if label is None or isinstance(label, bool):
        return label
    if isinstance(label, (int, np.integer)) and int(label) in (0, 1):
        return bool(label)
    raise InvalidArgumentError(f"{name} must be None, False/0 or True/1, not {label!r}")


class Client:
    """A connection to ``lifelong serve``'s gRPC port.

    >>> with lifelong.Client("127.0.0.1:50051") as client:
    ...     p = client.score("196", ["242", "302", "377"])   # numpy float32, as Scorer.score gives

    ``token``: the bearer token of ``--write-token-file`` (sent with appends). ``root_certificates``: PEM
    bytes to trust when the service uses TLS. ``timeout``: seconds per call (None: no limit).
    """

    def __init__(self, target: str, *, token: Optional[str] = None, root_certificates: Optional[bytes] = None,
                 timeout: Optional[float] = None, tls: bool = False):
        import grpc

        from .v1 import scorer_pb2, scorer_pb2_grpc

        self._grpc, self._pb = grpc, scorer_pb2
        options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        if tls or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = scorer_pb2_grpc.ScorerStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any, writes: bool = False) -> Any:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata if writes else ())
        except self._grpc.RpcError as e:
            code, details = e.code(), e.details()
            if code == self._grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgumentError(details) from None
            raise ServiceError(f"{code.name}: {details}", code.name) from None

    def score(self, user: str, items: Sequence[str], mode: str = "bse", timeout_ms: float = 0) -> np.ndarray:
        """``Scorer.score`` over the service: float32 probabilities, bit for bit the embedded scorer's.
        ``timeout_ms``: dropped with ``DEADLINE_EXCEEDED`` if still queued after it (0: no limit)."""
        request = self._pb.ScoreRequest(user=user, candidates=list(items), mode=mode, timeout_ms=timeout_ms)
        reply = self._call(self._stub.Score, request)
        self.fingerprint: str = reply.fingerprint
        return np.asarray(reply.probabilities, dtype=np.float32)

    def append(self, user: str, item: str, timestamp: float, label: Optional[bool] = None) -> None:
        """``Scorer.append``: one behavior; a refused one raises InvalidArgumentError, nothing written."""
        status = self._append([user], [item], [timestamp], [label])
        if status[0].code == self._pb.EventStatus.REFUSED:
            raise InvalidArgumentError(status[0].reason)

    def append_many(self, users: Sequence[str], items: Sequence[str], timestamps: Any,
                    labels: Optional[Sequence[Optional[bool]]] = None) -> np.ndarray:
        """``Scorer.append_many``: one status per behavior (int32: 0 appended or already there,
        ``InvalidArgumentError.status`` refused alone); the service commits them with concurrent appends."""
        n = len(users)
        if len(items) != n or len(timestamps) != n or (labels is not None and len(labels) != n):
            raise InvalidArgumentError(
                f"users, items, timestamps{', labels' if labels is not None else ''} have different lengths")
        status = self._append(users, items, timestamps, labels if labels is not None else [None] * n)
        refused = self._pb.EventStatus.REFUSED
        return np.array([InvalidArgumentError.status if s.code == refused else 0 for s in status], dtype=np.int32)

    def _append(self, users: Sequence[str], items: Sequence[str], timestamps: Any,
                labels: Sequence[Optional[bool]]) -> Any:
        events = []
        for i, (u, v, t, label) in enumerate(zip(users, items, timestamps, labels)):
            try:
                ts = float(t)
            except (TypeError, ValueError):
                raise TypeError(f"timestamps[{i}] must be a number, not {type(t).__name__}") from None
            if not math.isfinite(ts):
                raise InvalidArgumentError(f"timestamps[{i}] = {ts} is not finite")
            event = self._pb.Event(user=u, item=v, timestamp=ts)
            flag = _label(label, f"labels[{i}]")
            if flag is not None:
                event.label = flag
            events.append(event)
        return self._call(self._stub.Append, self._pb.AppendRequest(events=events), writes=True).statuses

    def describe(self) -> dict:
        """The model's fingerprint, d, items, users, shards, the service's limits."""
        reply = self._call(self._stub.Describe, self._pb.DescribeRequest())
        return {field.name: getattr(reply, field.name) for field in reply.DESCRIPTOR.fields}
