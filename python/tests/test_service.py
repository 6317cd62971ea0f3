"""The scoring service (`lifelong serve`) on free loopback ports: scores over gRPC and HTTP equal the embedded
scorer's bit for bit, bad requests get their status and a message naming the field, a full queue sheds, a failed
reload keeps the old model, SIGTERM drains, appends need --writable and the token, the Python client."""

from __future__ import annotations

import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Tuple

import grpc
import lifelong
import numpy as np
import pytest
from conftest import ROOT, run_cli
from service import Service, http, serve_binary, wait_until

ITEMS = ["242", "302", "377", "51", "346", "474", "265", "465", "not-an-item"]
USERS = ["196", "1", "943", "cold-user"]


def bits(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def served(quickstart: Path) -> Any:
    with Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store")) as service:
        yield service


def test_scores_over_grpc_and_http_equal_the_embedded_scorer_bit_for_bit(served: Service, quickstart: Path) -> None:
    with lifelong.Scorer(quickstart / "model", quickstart / "store") as embedded, \
            lifelong.Client(served.grpc) as client:
        for user in USERS:
            for mode in lifelong.MODES:
                want = embedded.score(user, ITEMS, mode)
                np.testing.assert_array_equal(bits(client.score(user, ITEMS, mode)), bits(want))
                status, _, reply = http("POST", served.url("/v1/score"),
                                        {"user": user, "candidates": ITEMS, "mode": mode})
                assert status == 200, reply
                np.testing.assert_array_equal(bits(reply["probabilities"]), bits(want))
                assert reply["fingerprint"] == client.fingerprint == embedded.describe()["fingerprint"]
        # No mode is bse; no candidates, no probabilities.
        status, _, reply = http("POST", served.url("/v1/score"), {"user": "196", "candidates": ITEMS})
        np.testing.assert_array_equal(bits(reply["probabilities"]), bits(embedded.score("196", ITEMS)))
        assert client.score("196", []).shape == (0,)


def test_a_manifest_serves_like_one_store(quickstart: Path, movielens: Path, tmp_path: Path) -> None:
    model = quickstart / "model"
    shards = [tmp_path / f"shard-{k}" for k in range(2)]
    for k, shard in enumerate(shards):
        run_cli("encode", "--model", str(model), "--data", str(movielens), "--store", str(shard), "--shard", f"{k}/2",
                "--quiet")
    run_cli("manifest", "--model", str(model), "--out", str(tmp_path / "manifest.json"), *map(str, shards))
    with Service("--model", str(model), "--manifest", str(tmp_path / "manifest.json")) as service, \
            lifelong.Scorer(model, quickstart / "store") as one, lifelong.Client(service.grpc) as client:
        assert client.describe()["shards"] == 2 and client.describe()["users"] == 943
        for user in USERS:
            for mode in lifelong.MODES:
                np.testing.assert_array_equal(bits(client.score(user, ITEMS, mode)), bits(one.score(user, ITEMS, mode)))


BAD_HTTP: List[Any] = [
    ({"candidates": ["1"]}, "field 'user' is missing"),
    ({"user": 5, "candidates": ["1"]}, "field 'user': expected a string"),
    ({"user": "1", "candidates": "242"}, "field 'candidates': expected an array"),
    ({"user": "1", "candidates": ["242", 3]}, "field 'candidates[1]': expected a string"),
    ({"user": "1", "candidates": ["242", "x" * 401]}, "field 'candidates[1]'"),
    ({"user": "a\u0000b", "candidates": ["242"]}, "field 'user'"),
    ({"user": "", "candidates": ["242"]}, "field 'user'"),
    ({"user": "1", "candidates": ["242"], "mode": "fast"}, "field 'mode': unknown mode 'fast'"),
    ({"user": "1", "candidates": ["242"], "timeout_ms": -1}, "field 'timeout_ms'"),
    ({"user": "1", "candidates": ["c"] * 11}, "at most 10 per request"),
]


def test_bad_requests_get_400_or_invalid_argument_naming_the_field(quickstart: Path) -> None:
    with Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--max-candidates",
                 "10", "--max-request-bytes", "4096") as service, lifelong.Client(service.grpc) as client:
        for body, message in BAD_HTTP:
            status, _, reply = http("POST", service.url("/v1/score"), body)
            assert status == 400 and reply["error"]["code"] == "invalid_argument", (body, reply)
            assert message in reply["error"]["message"], (body, reply)
        for raw, message in [(b"{not json", "not a JSON object"), (b'{"user": "\xff", "candidates": []}', "UTF-8"),
                             (b"[1, 2]", "expected an object"), (b"x" * 5000, "longer than 4096 bytes")]:
            status, _, reply = http("POST", service.url("/v1/score"), raw=raw)
            assert status == 400 and message in reply["error"]["message"], (raw[:20], reply)
        status, _, reply = http("POST", service.url("/v1/append"), {"events": [{"user": "1"}]})
        assert status == 409 or status == 400, reply  # read-only is checked first or the body: both refuse
        assert http("GET", service.url("/v1/nothing"))[0] == 404
        bad_calls: List[Any] = [({"mode": "fast"}, "unknown mode"), ({"items": ["242", "y" * 401]}, "candidates[1]"),
                                ({"items": ["c"] * 11}, "at most 10"), ({"user": "x" * 401}, "field 'user'")]
        for kwargs, message in bad_calls:
            args: Dict[str, Any] = {"user": "1", "items": ["242"], **kwargs}
            with pytest.raises(lifelong.InvalidArgumentError, match=re.escape(message)):
                client.score(**args)
        channel = grpc.insecure_channel(service.grpc)
        raw_score = channel.unary_unary("/lifelong.v1.Scorer/Score", request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        for garbage in [b"\xff\xff\xff", b"\x0a\x02\xc3\x28", b"\x12" + b"\x7f" + b"x" * 3]:
            with pytest.raises(grpc.RpcError) as caught:
                raw_score(garbage, timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as caught:
            raw_score(b"\x0a" + b"\xff\xff\xff\x7f" + b"x" * 16, timeout=30)  # a length beyond the message
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        health = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        assert health(b"", timeout=30) == b"\x08\x01"  # status: SERVING
        with pytest.raises(grpc.RpcError) as caught:
            health(b"\x0a\x05other", timeout=30)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        channel.close()
        assert client.score("1", ["242"]).shape == (1,)  # still serving after all of it


def heavy(service: Service, results: List[Any], n: int) -> None:
    body = {"user": "196", "candidates": [str(i % 1682 + 1) for i in range(n)], "mode": "full"}
    results.append(http("POST", service.url("/v1/score"), body))


def one_thread(quickstart: Path) -> Service:
    """A service with one scoring thread and a queue bounded by count alone, which the tests below fill."""
    return Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--threads", "1",
                   "--queue", "64", "--max-queue-delay", "0")


def start_heavy(service: Service, count: int) -> Tuple[List[Any], List[threading.Thread]]:
    """`count` slow HTTP score requests (10^4 candidates, `full`) under way: their replies, and their threads."""
    results: List[Any] = []
    threads = [threading.Thread(target=heavy, args=(service, results, 10000)) for _ in range(count)]
    for t in threads:
        t.start()
    return results, threads


def test_a_full_queue_sheds_at_once_with_503_and_resource_exhausted(quickstart: Path) -> None:
    with Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--threads", "1",
                 "--queue", "1") as service, lifelong.Client(service.grpc) as client:
        results: List[Any] = []
        shed_grpc: List[str] = []

        def heavy_grpc() -> None:
            try:
                client.score("196", ["242"] * 5000, "full")
            except lifelong.ServiceError as e:
                shed_grpc.append(e.code)

        # Both protocols at once, so that each finds the one thread busy and the one queue slot taken.
        threads = [threading.Thread(target=heavy, args=(service, results, 10000)) for _ in range(12)]
        threads += [threading.Thread(target=heavy_grpc) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = [r[0] for r in results]
        assert 200 in statuses and 503 in statuses, statuses
        shed = [r for r in results if r[0] == 503]
        assert all(r[1].get("Retry-After") == "1" and r[2]["error"]["code"] == "resource_exhausted" for r in shed)
        assert "RESOURCE_EXHAUSTED" in shed_grpc
        _, _, metrics = http("GET", service.url("/metrics"))
        assert 'status="resource_exhausted"' in metrics and "lifelong_request_duration_seconds_bucket" in metrics


def test_a_request_whose_time_runs_out_in_the_queue_is_dropped(quickstart: Path) -> None:
    with one_thread(quickstart) as service:
        results, threads = start_heavy(service, 3)
        status, _, reply = http("POST", service.url("/v1/score"),
                                {"user": "196", "candidates": ["242"], "timeout_ms": 0.001})
        for t in threads:
            t.join()
        assert status == 504 and reply["error"]["code"] == "deadline_exceeded", reply
        assert all(r[0] == 200 for r in results)
        assert runs(service) == 3 and metric(service, "lifelong_dropped_requests_total", 'reason="deadline"') == 1


def metric(service: Service, name: str, labels: str = "") -> float:
    """The sum of the samples of /metrics named `name` whose labels include each of `labels` (`a="x",b="y"`)."""
    text = http("GET", service.url("/metrics"))[2]
    wanted = [part for part in labels.split(",") if part]
    total = 0.0
    for have, value in re.findall(rf"^{name}(?:\{{([^}}]*)\}})? ([0-9.e+]+)$", text, re.M):
        if all(w in have.split(",") for w in wanted):
            total += float(value)
    return total


def runs(service: Service) -> float:
    """Requests the scoring threads have run, for callers waiting or gone."""
    return sum(metric(service, "lifelong_scoring_runs_total", f'caller="{c}"') for c in ("waiting", "gone"))


def test_a_grpc_deadline_shorter_than_the_queue_wait_never_reaches_a_scoring_thread(quickstart: Path) -> None:
    with one_thread(quickstart) as service, lifelong.Client(service.grpc, timeout=0.05) as hasty:
        results, threads = start_heavy(service, 6)
        wait_until(lambda: metric(service, "lifelong_in_flight") >= 3)
        failed = []
        for _ in range(10):
            try:
                hasty.score("196", ["242"] * 100, "full")
            except lifelong.ServiceError as e:
                failed.append(e.code)
        for t in threads:
            t.join()
        assert failed == ["DEADLINE_EXCEEDED"] * 10, failed
        assert all(r[0] == 200 for r in results)
        # The six heavy requests ran; the ten with a deadline left the queue (or were refused) unrun.
        assert wait_until(lambda: runs(service) == 6), runs(service)
        # Most by the deadline; a client's reset can reach the server before its own timer fires.
        assert metric(service, "lifelong_dropped_requests_total") == 10
        assert metric(service, "lifelong_dropped_requests_total", 'reason="deadline"') >= 8
        assert metric(service, "lifelong_requests_total",
                      'method="score",mode="full",status="ok",transport="grpc"') == 0


def test_a_cancelled_grpc_call_leaves_the_queue_unrun(quickstart: Path) -> None:
    with one_thread(quickstart) as service:
        results, threads = start_heavy(service, 4)
        wait_until(lambda: metric(service, "lifelong_in_flight") >= 3)
        channel = grpc.insecure_channel(service.grpc)
        score = channel.unary_unary("/lifelong.v1.Scorer/Score")
        # ScoreRequest{user: "196", candidates: ["242"]}, by hand: the call is made and then cancelled.
        futures = [score.future(b"\x0a\x03196\x12\x03242") for _ in range(5)]
        wait_until(lambda: metric(service, "lifelong_in_flight") >= 8)
        for f in futures:
            f.cancel()
        assert wait_until(lambda: metric(service, "lifelong_dropped_requests_total", 'reason="cancelled"') == 5)
        for t in threads:
            t.join()
        channel.close()
        assert all(r[0] == 200 for r in results)
        assert wait_until(lambda: runs(service) == 4), runs(service)


def in_flight(service: Service) -> int:
    match = re.search(r"^lifelong_in_flight ([0-9.]+)$", http("GET", service.url("/metrics"))[2], re.M)
    return int(float(match.group(1))) if match else 0


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_failed_reload_keeps_the_old_model_serving(quickstart: Path, tmp_path: Path) -> None:
    model = copy_model(quickstart / "model", tmp_path / "model")
    with Service("--model", str(model), "--store", str(quickstart / "store")) as service, \
            lifelong.Client(service.grpc) as client:
        before = client.score("196", ITEMS)
        fingerprint = client.fingerprint
        # The bundle is swapped for one the store was not encoded with: the reload is refused.
        shutil.rmtree(model)
        shutil.copytree(quickstart / "other", model)
        status, _, reply = http("POST", service.url("/v1/admin/reload"))
        assert status == 409 and "old model keeps serving" in reply["error"]["message"], reply
        # The caller and /readyz learn the kind; only the log names the files.
        assert "(model_mismatch)" in reply["error"]["message"] and str(tmp_path) not in reply["error"]["message"]
        status, _, ready = http("GET", service.url("/readyz"))
        assert status == 200 and ready["fingerprint"] == fingerprint and ready["last_rollout"]["ok"] is False
        assert "(model_mismatch)" in ready["last_rollout"]["error"] and str(tmp_path) not in json.dumps(ready)
        assert wait_until(lambda: any("reload failed" in line and str(model) in line for line in service.log))
        np.testing.assert_array_equal(bits(client.score("196", ITEMS)), bits(before))
        # A damaged bundle: refused the same way, by SIGHUP.
        (model / "model.safetensors").write_bytes(b"damaged")
        service.signal(signal.SIGHUP)
        assert wait_until(lambda: any("reload failed" in line for line in service.log))
        np.testing.assert_array_equal(bits(client.score("196", ITEMS)), bits(before))
        # The right bundle back: SIGHUP rolls it out (the same fingerprint).
        shutil.rmtree(model)
        shutil.copytree(quickstart / "model", model)
        service.signal(signal.SIGHUP)
        assert wait_until(lambda: http("GET", service.url("/readyz"))[2]["last_rollout"]["ok"] is True)
        np.testing.assert_array_equal(bits(client.score("196", ITEMS)), bits(before))
        _, _, metrics = http("GET", service.url("/metrics"))
        assert 'lifelong_reloads_total{outcome="failed"} 2' in metrics
        assert f'lifelong_model_info{{fingerprint="{fingerprint}"}} 1' in metrics


def test_sigterm_lets_in_flight_requests_finish_and_exits_0(quickstart: Path) -> None:
    service = Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--threads", "1")
    results: List[Any] = []
    threads = [threading.Thread(target=heavy, args=(service, results, 10000)) for _ in range(4)]
    for t in threads:
        t.start()
    assert wait_until(lambda: in_flight(service) == 4, 60)
    service.signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert service.stop() == 0
    assert [r[0] for r in results] == [200] * 4, results


def test_appends_need_writable_and_the_token_and_are_read_your_write(
        quickstart: Path, store_copy: Path, tmp_path: Path) -> None:
    model = quickstart / "model"
    with Service("--model", str(model), "--store", str(store_copy)) as service, \
            lifelong.Client(service.grpc) as client:
        with pytest.raises(lifelong.ServiceError) as caught:
            client.append("196", "242", 2e9)
        assert caught.value.code == "FAILED_PRECONDITION" and "--writable" in str(caught.value)
        status, _, reply = http("POST", service.url("/v1/append"),
                                {"events": [{"user": "196", "item": "242", "timestamp": 2e9}]})
        assert status == 409 and reply["error"]["code"] == "failed_precondition"
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    with Service("--model", str(model), "--store", str(store_copy), "--writable", "--write-token-file",
                 str(token)) as service:
        event = {"events": [{"user": "196", "item": "242", "timestamp": 2e9, "label": True}]}
        status, _, reply = http("POST", service.url("/v1/append"), event)
        assert status == 401 and reply["error"]["code"] == "unauthenticated"
        status, _, reply = http("POST", service.url("/v1/append"), event, headers={"Authorization": "Bearer nope"})
        assert status == 401
        assert http("POST", service.url("/v1/admin/reload"))[0] == 401
        with lifelong.Client(service.grpc) as anonymous, pytest.raises(lifelong.ServiceError) as caught:
            anonymous.append("196", "242", 2e9)
        assert caught.value.code == "UNAUTHENTICATED"
        status, _, reply = http("POST", service.url("/v1/append"), event, headers={"Authorization": "Bearer s3cret"})
        assert status == 200 and reply["statuses"] == [{"code": "appended"}] and reply["appended"] == 1
        with lifelong.Client(service.grpc, token="s3cret") as client:
            # Read your write: each append is in the next score of that user, over either protocol.
            for k in range(5):
                t = 2e9 + 10 + k
                client.append("cold-user", str(k + 1), t, label=k % 2 == 1)
                with lifelong.Scorer(model, store_copy) as fresh:
                    np.testing.assert_array_equal(bits(client.score("cold-user", ITEMS)),
                                                  bits(fresh.score("cold-user", ITEMS)))
            status = client.append_many(["1", "1", "2"], ["242", "302", "377"], [2e9, 1.0, 2e9], [None, True, 0])
            assert status.tolist() == [0, lifelong.InvalidArgumentError.status, 0]
            with pytest.raises(lifelong.InvalidArgumentError, match="older than"):
                client.append("1", "242", 5.0)
            with pytest.raises(lifelong.InvalidArgumentError, match="different lengths"):
                client.append_many(["1"], [], [])
            info = client.describe()
            assert info["writable"] is True and info["users"] == 944
    run_cli("verify", "--model", str(model), "--store", str(store_copy), "--quiet")


def test_the_python_client_round_trips_like_the_embedded_scorer(
        quickstart: Path, store_copy: Path, tmp_path: Path) -> None:
    """The same appends and scores through `lifelong.Scorer` on one copy and `lifelong.Client` on another."""
    model = quickstart / "model"
    other = tmp_path / "other-store"
    shutil.copytree(store_copy, other)
    users, items = ["196", "cold", "196"], ["242", "51", "302"]
    times, labels = [2e9, 2e9, 2e9 + 1], [True, None, False]
    with Service("--model", str(model), "--store", str(store_copy), "--writable") as service, \
            lifelong.Client(service.grpc) as client, lifelong.Scorer(model, other, writable=True) as embedded:
        np.testing.assert_array_equal(client.append_many(users, items, times, labels),
                                      embedded.append_many(users, items, times, labels))
        client.append("cold", "474", 2e9 + 5)
        embedded.append("cold", "474", 2e9 + 5)
        for user in ["196", "cold"]:
            for mode in lifelong.MODES:
                np.testing.assert_array_equal(bits(client.score(user, ITEMS, mode)),
                                              bits(embedded.score(user, ITEMS, mode)))
    assert (store_copy / "data.mdb").stat().st_size > 0


def test_a_schema_fuzz_of_the_http_api_finds_no_undocumented_status_and_no_crash(
        quickstart: Path, store_copy: Path, tmp_path: Path) -> None:
    """schemathesis, from docs/openapi.yaml, with every check but `not_a_server_error` (503 and 504 are
    documented answers): any status the file does not list for the route (a 500 above all), a body that breaks
    its schema, a valid request refused or an invalid one accepted fails. ASCII only, because the file's
    maxLength counts characters while the service's limit is 400 bytes of UTF-8 (the byte limit and
    non-ASCII ids are tested above)."""
    schemathesis = Path(sys.executable).parent / "schemathesis"
    with Service("--model", str(quickstart / "model"), "--store", str(store_copy), "--writable") as service:
        for seed in ("1", "2"):
            result = subprocess.run(
                [str(schemathesis), "run", str(ROOT / "docs" / "openapi.yaml"), "-u", f"http://{service.http}",
                 "-n", "100", "--seed", seed, "--generation-codec", "ascii", "--checks", "all",
                 "--exclude-checks", "not_a_server_error", "--request-timeout", "30"],
                capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache goes there
            assert result.returncode == 0, result.stdout[-4000:]
        assert service.process.poll() is None
    assert service.stop() == 0


def test_tls_serves_both_protocols_to_clients_that_trust_the_certificate(quickstart: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--tls-cert", str(cert),
                 "--tls-key", str(key)) as service, lifelong.Scorer(quickstart / "model", quickstart / "store") as one:
        want = bits(one.score("196", ITEMS))
        with lifelong.Client(service.grpc, root_certificates=cert.read_bytes()) as client:
            np.testing.assert_array_equal(bits(client.score("196", ITEMS)), want)
        with lifelong.Client(service.grpc, timeout=5) as plaintext, pytest.raises(lifelong.ServiceError):
            plaintext.score("196", ITEMS)
        context = ssl.create_default_context(cafile=str(cert))
        request = urllib.request.Request(f"https://{service.http}/v1/score", method="POST",
                                         data=json.dumps({"user": "196", "candidates": ITEMS}).encode())
        with urllib.request.urlopen(request, context=context, timeout=30) as reply:
            np.testing.assert_array_equal(bits(json.loads(reply.read())["probabilities"]), want)


def test_a_reload_to_other_folders_and_a_new_current_roll_out_new_requests(
        quickstart: Path, movielens: Path, tmp_path: Path) -> None:
    model, other = quickstart / "model", quickstart / "other"
    run_cli("encode", "--model", str(other), "--data", str(movielens), "--store", str(tmp_path / "other-store"),
            "--quiet")
    runs = {}
    for name, count in (("a", 1), ("b", 2)):
        shards = [tmp_path / f"run-{name}" / f"shard-{k}" for k in range(count)]
        for k, shard in enumerate(shards):
            run_cli("encode", "--model", str(model), "--data", str(movielens), "--store", str(shard), "--shard",
                    f"{k}/{count}", "--quiet")
        runs[name] = tmp_path / f"run-{name}" / "manifest.json"
        run_cli("manifest", "--model", str(model), "--out", str(runs[name]), *map(str, shards))
    (tmp_path / "run-a" / "_CURRENT").write_text("manifest.json\n")
    with Service("--model", str(model), "--manifest", str(runs["a"])) as service, \
            lifelong.Client(service.grpc) as client, lifelong.Scorer(model, quickstart / "store") as one, \
            lifelong.Scorer(other, tmp_path / "other-store") as second:
        assert client.describe()["shards"] == 1
        # A new _CURRENT beside the manifest rolls out the manifest it names.
        (tmp_path / "run-a" / "_CURRENT.tmp").write_text("../run-b/manifest.json\n")
        (tmp_path / "run-a" / "_CURRENT.tmp").rename(tmp_path / "run-a" / "_CURRENT")
        assert wait_until(lambda: client.describe()["shards"] == 2)
        np.testing.assert_array_equal(bits(client.score("196", ITEMS)), bits(one.score("196", ITEMS)))
        # The admin call with other folders: another model and its store; later reloads start from them.
        status, _, reply = http("POST", service.url("/v1/admin/reload"),
                                {"model": str(other), "store": str(tmp_path / "other-store")})
        assert status == 200 and reply["fingerprint"] == second.describe()["fingerprint"], reply
        np.testing.assert_array_equal(bits(client.score("196", ITEMS)), bits(second.score("196", ITEMS)))
        assert client.fingerprint == reply["fingerprint"]
        service.signal(signal.SIGHUP)
        assert wait_until(lambda: sum("rolled out" in line for line in service.log) >= 3)
        assert client.describe()["fingerprint"] == reply["fingerprint"]
        status, _, reply = http("POST", service.url("/v1/admin/reload"), {"store": "/nonexistent", "manifest": "x"})
        assert status == 400 and "not both" in reply["error"]["message"]
        status, _, reply = http("POST", service.url("/v1/admin/reload"), {"store": str(tmp_path)})
        assert status == 409 and "(not_found)" in reply["error"]["message"] and str(tmp_path) not in str(reply)
        assert not (tmp_path / "data.mdb").exists()


def test_a_reload_may_name_only_folders_under_the_reload_roots(quickstart: Path, tmp_path: Path) -> None:
    model = copy_model(quickstart / "model", tmp_path / "served" / "model")
    with Service("--model", str(model), "--store", str(quickstart / "store")) as service, \
            lifelong.Client(service.grpc) as client:
        fingerprint = client.describe()["fingerprint"]
        # Outside the parents of the folders served: refused before anything there is opened, the path not echoed.
        for body in ({"model": "/etc"}, {"store": "/tmp/../etc/x"}, {"manifest": "/nonexistent/manifest.json"},
                     {"model": str(tmp_path / "served" / ".." / "elsewhere")},
                     {"model": str(tmp_path / "served" / "missing" / ".." / ".." / "x")}):
            status, _, reply = http("POST", service.url("/v1/admin/reload"), body)
            assert status == 403 and reply["error"]["code"] == "permission_denied", (body, reply)
            assert all(part not in reply["error"]["message"] for part in ("/etc", "/tmp", "/nonexistent", "elsewhere"))
        # A symbolic link under a root that leads out of it is outside too.
        (tmp_path / "served" / "link").symlink_to("/etc")
        status, _, reply = http("POST", service.url("/v1/admin/reload"), {"model": str(tmp_path / "served" / "link")})
        assert status == 403, reply
        # A folder under a root that holds no bundle: refused by kind, still without the path.
        status, _, reply = http("POST", service.url("/v1/admin/reload"), {"model": str(tmp_path / "served" / "none")})
        message = reply["error"]["message"]
        assert status == 409 and "(not_found)" in message and "served" not in message
        assert any("outside the reload roots" in line and "/etc" in line for line in service.log)
        assert client.describe()["fingerprint"] == fingerprint and http("GET", service.url("/readyz"))[0] == 200
    # --reload-root widens (or narrows) it.
    with Service("--model", str(model), "--store", str(quickstart / "store"), "--reload-root",
                 str(quickstart)) as service:
        status, _, reply = http("POST", service.url("/v1/admin/reload"),
                                {"model": str(quickstart / "model"), "store": str(quickstart / "store")})
        assert status == 200, reply
        status, _, reply = http("POST", service.url("/v1/admin/reload"), {"model": str(model)})
        assert status == 403, reply


def test_a_non_loopback_host_without_a_token_refuses_to_start(quickstart: Path, tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        run = subprocess.run([str(serve_binary()), "--model", str(quickstart / "model"), "--store",
                              str(quickstart / "store"), "--host", host, "--grpc-port", "0", "--http-port", "0"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode != 0 and "not a loopback address" in run.stderr, run.stderr
        assert "--write-token-file" in run.stderr and "--allow-no-token" in run.stderr
    # Loopback needs no token.
    with Service("--model", str(quickstart / "model"), "--store", str(quickstart / "store"), "--host",
                 "127.0.0.1") as service:
        assert http("GET", service.url("/healthz"))[0] == 200
