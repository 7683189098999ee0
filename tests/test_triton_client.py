"""The Triton client: failover, retries, overload, comeback, input/output checks.

Uses the test-only `test_slow_detector` (tests/triton_models: contract tensors, sleeps, finds
nothing) so requests are in flight long enough to kill or overload a server. The reference
model over Triton is tested in test_triton_model.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from cluster.triton.client import TritonBackend, TritonClientConfig, grpc_target
from cluster.triton.encoding import check_output
from cluster.triton.server import LocalTritonServer
from cluster.triton.stats import Outcome, RequestCounters
from kernel.errors import BadInput, PermanentError, RetryableError
from tests.servers.triton import SLOW_MODEL, start_test_triton

VOLUME = np.zeros((4, 8, 8), dtype=np.int16)
SPACING = (1.0, 1.0, 1.0)


def _backend(urls: tuple[str, ...], counters: RequestCounters, **kw: object) -> TritonBackend:
    options: dict[str, object] = {
        "model_name": SLOW_MODEL,
        "backoff_initial_s": 0.2,
        "cooldown_s": 2.0,
        "timeout_s": 30.0,
    }
    options.update(kw)
    return TritonBackend(TritonClientConfig(urls=urls, **options), on_request=counters)  # type: ignore[arg-type]


def _infer_in_threads(backend: TritonBackend, n: int) -> list[object]:
    results: list[object] = []

    def one() -> None:
        try:
            results.append(backend.infer(VOLUME, SPACING))
        except Exception as exc:  # collected and asserted on by the caller
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.integration
@pytest.mark.slow
def test_killed_server_fails_over_then_comes_back(slow_triton_server: LocalTritonServer) -> None:
    victim = start_test_triton()
    counters = RequestCounters()
    backends: list[TritonBackend] = []
    try:
        victim_url, survivor_url = victim.grpc_url, slow_triton_server.grpc_url
        backend = _backend((victim_url, survivor_url), counters)
        backends.append(backend)
        assert backend.model_version == "1"
        # Two requests in flight: round-robin puts one on each server; kill the victim.
        killer = threading.Timer(0.7, os.kill, (victim.pid, signal.SIGKILL))
        killer.start()
        results = _infer_in_threads(backend, 2)
        killer.join()
        assert all(isinstance(r, np.ndarray) and r.shape == (0, 7) for r in results), results
        stats = counters.snapshot()
        assert stats[victim_url].retryable >= 1
        assert stats[survivor_url].ok >= 2
        assert [h.live for h in backend.health()] == [False, True]

        # Alone, the dead server gives a retryable error, after bounded retries.
        lonely = _backend((victim_url,), RequestCounters(), max_attempts=3, backoff_max_s=0.3)
        backends.append(lonely)
        with pytest.raises(RetryableError, match="after 3 attempts"):
            lonely.infer(VOLUME, SPACING)

        # Restarted on the same port, it is probed after the cool-down and used again.
        victim.stop()
        victim = start_test_triton(grpc_port=int(victim_url.rsplit(":", 1)[1]))
        time.sleep(2.2)
        before = counters.snapshot()[victim_url].ok
        for _ in range(2):
            backend.infer(VOLUME, SPACING)
        assert counters.snapshot()[victim_url].ok == before + 1
    finally:
        for b in backends:
            b.close()
        victim.stop()


@pytest.mark.integration
def test_overload_is_rejected_fast_and_retried(slow_triton_server: LocalTritonServer) -> None:
    # One instance and a queue of one: a third concurrent request is rejected at once
    # ("exceeds maximum queue size"), backed off and retried, not dropped.
    counters = RequestCounters()
    backend = _backend((slow_triton_server.grpc_url,), counters, max_attempts=10)
    try:
        results = _infer_in_threads(backend, 3)
    finally:
        backend.close()
    assert all(isinstance(r, np.ndarray) for r in results), results
    stats = counters.snapshot()[slow_triton_server.grpc_url]
    assert stats.ok == 3
    assert stats.retryable >= 1


@pytest.mark.integration
def test_deadline_is_retryable(slow_triton_server: LocalTritonServer) -> None:
    counters = RequestCounters()
    backend = _backend(
        (slow_triton_server.grpc_url,),
        counters,
        timeout_s=0.3,
        max_attempts=2,
        backoff_initial_s=0.1,
    )
    try:
        with pytest.raises(RetryableError, match="DEADLINE_EXCEEDED"):
            backend.infer(VOLUME, SPACING)
    finally:
        backend.close()
    assert counters.snapshot()[slow_triton_server.grpc_url].retryable == 2
    time.sleep(4.5)  # let the slow model drain what the timed-out attempts left queued


def test_client_input_checks_are_bad_input_and_never_sent() -> None:
    counters = RequestCounters()
    backend = _backend(("127.0.0.1:9",), counters)
    with pytest.raises(BadInput, match="int16"):
        backend.infer(VOLUME.astype(np.float32), SPACING)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"\[D, H, W\]"):
        backend.infer(VOLUME[0], SPACING)
    with pytest.raises(BadInput, match="SPACING"):
        backend.infer(VOLUME, (1.0, float("nan"), 1.0))
    backend.close()
    assert counters.snapshot() == {}


def test_urls_and_config_are_checked_at_the_edge() -> None:
    assert grpc_target("grpc://10.0.0.5:8001") == "10.0.0.5:8001"
    assert grpc_target("localhost:8001") == "localhost:8001"
    for bad in ("http://10.0.0.5:8000", "10.0.0.5", "grpc://:8001", "host:port"):
        with pytest.raises(BadInput, match="gRPC address"):
            grpc_target(bad)
    with pytest.raises(BadInput, match="no Triton URL"):
        TritonClientConfig(urls=())
    with pytest.raises(BadInput, match="backoff_max_s"):
        TritonClientConfig(urls=("h:1",), backoff_initial_s=5, backoff_max_s=1)


@pytest.mark.parametrize(
    "rows",
    [
        np.zeros((2, 6), dtype=np.float32),
        np.zeros((2, 7), dtype=np.float64),
        np.array([[1, 1, 1, 5, 5, 0, np.nan]], dtype=np.float32),
        np.array([[1, 1, 1, 5, 5, 7, 0.9]], dtype=np.float32),
        np.array([[1, 1, 1, 5, 5, 0, 1.5]], dtype=np.float32),
        np.array([[99, 1, 1, 5, 5, 0, 0.9]], dtype=np.float32),
    ],
)
def test_invalid_model_output_is_permanent(rows: np.ndarray) -> None:
    with pytest.raises(PermanentError, match="NODULES"):
        check_output(rows, (4, 8, 8))


def test_valid_model_output_passes() -> None:
    rows = np.array([[1, 2, 3, 5, 5, 2, 0.9]], dtype=np.float32)
    assert check_output(rows, (4, 8, 8)) is rows
    assert Outcome.OK == "ok"
