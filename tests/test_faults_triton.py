"""Triton down for a while mid-campaign (stopped, then restarted on the same ports): the
campaign pauses with backoff, resumes when the server is back, and quarantines nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cluster.triton.server import LocalTritonServer, TritonServerConfig
from jobs.run.driver import DriverSettings
from jobs.run.lifecycle import RunOptions
from jobs.run.shardwork import WorkerPolicy
from jobs.spec.campaign_spec import load_spec
from tests.campaign_helpers import (
    free_port,
    region_folders,
    run_spec,
    write_cohort_once,
    write_spec,
)
from tests.ray_helpers import BackgroundRun, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 20.0


@pytest.fixture(scope="module")
def cohort() -> Path:
    return write_cohort_once(studies=4, regions=1, seed=71)


def test_triton_outage_pauses_the_campaign_without_quarantining(
    cohort: Path, tmp_path: Path
) -> None:
    from tests.servers.triton import TEST_MODELS, THRESHOLD_SLOW_MODEL, _require_triton

    _require_triton()
    ports = {"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()}
    # the test model sleeping 1.5 s a volume, so the outage strikes mid-campaign
    config = TritonServerConfig(model_repositories=(TEST_MODELS,),
                                models=(THRESHOLD_SLOW_MODEL,), **ports)
    server = LocalTritonServer(config).start()
    url = f"grpc://{server.grpc_url}"
    spec = load_spec(write_spec(tmp_path / "c.yaml",
                                {n: [f] for n, f in region_folders(cohort).items()},
                                campaign_id="outage", triton={"urls": [url]}, shard_size=1,
                                max_shards_in_flight=1,
                                model={"name": THRESHOLD_SLOW_MODEL, "version": "1"}))
    committed: list[str] = []
    attempts: list[tuple[str, str]] = []

    from kernel.observer import NullObserver

    class Seen(NullObserver):
        def on_shard_committed(self, shard, results, commit_s):  # type: ignore[no-untyped-def]
            committed.append(shard.shard_id)

        def on_triton_request(self, server, outcome, seconds):  # type: ignore[no-untyped-def]
            attempts.append((server, outcome))

    options = RunOptions(
        executor="inprocess",
        policy=WorkerPolicy(retryable_window_s=2.0),
        driver=DriverSettings(backoff_initial_s=1.0, backoff_max_s=4.0, stall_timeout_s=300,
                              poll_s=0.2),
        observers=(Seen(),),
    )
    run = BackgroundRun(lambda: run_spec(spec, options))
    restarted: LocalTritonServer | None = None
    try:
        run.start()
        wait_for(lambda: committed, 300, "the first committed shard")
        server.stop()
        time.sleep(OUTAGE_S)
        assert run.is_alive(), "the campaign ended while Triton was down"
        restarted = LocalTritonServer(config).start()
        run.join(timeout=600)
        assert not run.is_alive()
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
    assert run.error is None, run.error
    result = run.result
    assert result.state == "done"
    assert result.counts == {"screened": 4}
    assert result.report.retries["backend_unavailable"] >= 1
    # the workers' Triton attempts reach the driver's observers, failed ones included
    outcomes = {o for s, o in attempts if s == url or s.endswith(server.grpc_url)}
    assert {"ok", "retryable"} <= outcomes, attempts
