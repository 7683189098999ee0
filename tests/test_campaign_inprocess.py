"""A campaign through jobs.run.lifecycle with the in-process executor and in-process model:
one result per study, the second run does nothing, a poison study is quarantined while the
rest is screened, cancel stops the run, planning quarantines are committed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from jobs.run.driver import DriverSettings
from jobs.run.lifecycle import RunOptions
from jobs.run.shardwork import WorkerPolicy
from jobs.spec.campaign_spec import CampaignSpec, load_spec
from jobs.spec.registry import SpecRegistry
from jobs.store import CampaignState, ResultsStore
from jobs.store.lease import CampaignBusy, DriverLease
from kernel.observer import NullObserver, ShardInfo
from kernel.records import StudyResult
from tests.campaign_helpers import (
    cancel_spec,
    outcome_counts,
    poison_one_study,
    region_folders,
    result_map,
    run_spec,
    write_cohort_once,
    write_spec,
)

pytestmark = [pytest.mark.slow]

INPROCESS = RunOptions(executor="inprocess", backend="inprocess",
                       driver=DriverSettings(poll_s=0.1, cancel_check_s=0.1))


@pytest.fixture(scope="module")
def cohort() -> Path:
    return write_cohort_once(studies=4, regions=1, seed=31)


def test_every_study_gets_one_result_and_a_second_run_does_nothing(
    cohort: Path, tmp_path: Path
) -> None:
    spec = load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in
                                                      region_folders(cohort).items()},
                                campaign_id="once"))
    first = run_spec(spec, INPROCESS, SpecRegistry(tmp_path / "state"))
    assert first.state == "done"
    assert sum(first.counts.values()) == 4
    assert first.counts["screened"] == 4
    results = result_map(spec.store_url, "once")
    assert len(results) == 4
    assert all(category is not None for _, category, _ in results.values())

    again = run_spec(spec, INPROCESS)
    assert again.state == "already_done"
    assert "nothing to do" in again.message
    assert result_map(spec.store_url, "once") == results
    assert SpecRegistry(tmp_path / "state").load("once").id == "once"


def test_a_poison_study_is_quarantined_and_the_rest_screened(
    cohort: Path, tmp_path: Path
) -> None:
    (name, folder), = region_folders(cohort).items()
    poisoned = poison_one_study(folder, tmp_path / "poisoned")
    spec = load_spec(write_spec(tmp_path / "c.yaml", {name: [poisoned]}, campaign_id="poison"))
    options = RunOptions(executor="inprocess", backend="inprocess",
                         policy=WorkerPolicy(poison_attempts=2))
    run = run_spec(spec, options)
    assert run.state == "done"
    assert run.counts == {"screened": 3, "quarantined": 1}
    reasons = [reason for _, _, reason in result_map(spec.store_url, "poison").values()
               if reason is not None]
    assert reasons == ["decode_failed"]


class _CancelAfterFirstShard(NullObserver):
    def __init__(self, spec: CampaignSpec) -> None:
        self.spec = spec
        self.committed = 0

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        self.committed += 1
        if self.committed == 1:
            cancel_spec(self.spec)


def test_cancel_stops_a_running_campaign_and_a_rerun_finishes_it(
    cohort: Path, tmp_path: Path
) -> None:
    spec = load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in
                                                      region_folders(cohort).items()},
                                campaign_id="cancelled", shard_size=1, max_shards_in_flight=1))
    canceller = _CancelAfterFirstShard(spec)
    options = dataclasses.replace(INPROCESS, observers=(canceller,))
    run = run_spec(spec, options)
    assert run.state == "cancelled"
    assert 1 <= sum(run.counts.values()) < 4
    with ResultsStore.open(spec.store_url) as store:
        camp = store.campaign("cancelled")
        assert camp is not None and camp.state is CampaignState.CANCELLED

    rerun = run_spec(spec, INPROCESS)
    assert rerun.state == "done"
    assert sum(outcome_counts(spec.store_url, "cancelled").values()) == 4


def test_a_second_driver_of_a_running_campaign_is_refused(cohort: Path, tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in
                                                      region_folders(cohort).items()},
                                campaign_id="busy"))
    with ResultsStore.open(spec.store_url) as store:
        running = DriverLease(store, "busy", pid=os.getppid())  # a live process, not this one
        running.acquire()
        with pytest.raises(CampaignBusy, match=f"process {os.getppid()}"):
            run_spec(spec, INPROCESS)
        assert not result_map(spec.store_url, "busy")  # it ran nothing
        running.release()
    assert run_spec(spec, INPROCESS).state == "done"
