"""Ray faults during a campaign: a worker process SIGKILLed mid-shard, and a node removed
without warning. Either way the shard runs again elsewhere and every study ends with
exactly one result, equal to an undisturbed run's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from jobs.run.lifecycle import RunOptions
from jobs.spec.campaign_spec import load_spec
from tests.campaign_helpers import (
    region_folders,
    result_map,
    run_spec,
    write_cohort_once,
    write_spec,
)
from tests.ray_helpers import BackgroundRun, local_cluster, shard_processes, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STUDIES = 4
# the test model sleeping 2 s a volume: a shard is still running when the fault strikes
SLOW = RunOptions(backend="inprocess", model_parameters={"delay_s": "2"})


@pytest.fixture(scope="module")
def cohort() -> Path:
    return write_cohort_once(studies=STUDIES, regions=1,
                             seed=51)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pseudonym key for the golden run and the disturbed ones, so pseudonyms match."""
    return tmp_path_factory.mktemp("key") / "pseudonym.key"


@pytest.fixture(scope="module")
def golden(cohort: Path, key_file: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, tuple]:
    """The undisturbed run's results (in-process executor, same model)."""
    tmp = tmp_path_factory.mktemp("golden")
    spec = load_spec(write_spec(tmp / "c.yaml", {n: [f] for n, f in
                                                 region_folders(cohort).items()},
                                campaign_id="golden", privacy={"key_file": str(key_file)}))
    run = run_spec(spec, RunOptions(executor="inprocess", backend="inprocess"))
    assert run.state == "done"
    return result_map(spec.store_url, "golden")


def _spec(cohort: Path, tmp_path: Path, campaign_id: str, key_file: Path):
    return load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in
                                                      region_folders(cohort).items()},
                                campaign_id=campaign_id, shard_size=2, max_shards_in_flight=2,
                                privacy={"key_file": str(key_file)}))


def test_worker_killed_mid_shard_is_retried_without_loss_or_duplicates(
    cohort: Path, tmp_path: Path, golden: dict[str, tuple], key_file: Path
) -> None:
    spec = _spec(cohort, tmp_path, "worker-killed", key_file)
    with local_cluster([{"num_cpus": 2}]) as (_, nodes):
        # only this cluster's workers: another test's campaign may run shards meanwhile
        raylet_pid = nodes[0].all_processes["raylet"][0].process.pid
        run = BackgroundRun(lambda: run_spec(spec, SLOW))
        run.start()
        victim = wait_for(lambda: shard_processes(under=raylet_pid), 300,
                          "a worker of this cluster running a shard")[0]
        shard_id = victim.shard_id
        os.kill(victim.pid, signal.SIGKILL)
        run.join(timeout=600)
    assert not run.is_alive()
    assert run.error is None, run.error
    result = run.result
    assert result.state == "done"
    # the killed attempt produced nothing; the shard ran again in another process
    assert [p.pid for p in result.report.placements[shard_id]] != [victim.pid]
    assert all(p.pid != victim.pid for p in result.report.placements[shard_id])
    assert result_map(spec.store_url, "worker-killed") == golden


def test_node_removed_without_warning_loses_nothing(
    cohort: Path, tmp_path: Path, golden: dict[str, tuple], key_file: Path
) -> None:
    spec = _spec(cohort, tmp_path, "node-lost", key_file)
    with local_cluster([{"num_cpus": 1}, {"num_cpus": 1}]) as (cluster, nodes):
        doomed = nodes[1]
        raylet_pid = doomed.all_processes["raylet"][0].process.pid
        run = BackgroundRun(lambda: run_spec(spec, SLOW))
        run.start()
        busy = wait_for(lambda: shard_processes(under=raylet_pid), 300,
                        "a shard running on the node to remove")
        shard_id = busy[0].shard_id
        cluster.remove_node(doomed, allow_graceful=False)
        run.join(timeout=600)
        assert not run.is_alive()
    assert run.error is None, run.error
    result = run.result
    assert result.state == "done"
    # the shard that was running there finished on the surviving node
    assert [p.node_id for p in result.report.placements[shard_id]] == [nodes[0].node_id]
    assert result_map(spec.store_url, "node-lost") == golden
