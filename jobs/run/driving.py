"""The second step of a run: drive a prepared campaign's shards to commit.

`drive` announces the plan to the observers, runs the uncommitted shards through the driver
(jobs.run.driver) on the executor it is given, commits each shard (renewing the lease), and
marks the campaign done when nothing is left. The backend and the executor come from
jobs.run.runtime, opened by the caller for as long as it needs them (a benchmark keeps
them warm across runs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from jobs.run.backends import BackendConfig
from jobs.run.driver import Driver, DriveReport, DriverSettings
from jobs.run.executor import Executor
from jobs.run.prepared import Prepared
from jobs.run.shardwork import ShardWork
from jobs.store import CampaignState, ResultsStore
from kernel.observer import CampaignObserver, CompositeObserver
from kernel.records import StudyResult

__all__ = ["CampaignRun", "drive"]


@dataclass
class CampaignRun:
    """The outcome: `state` is done, cancelled, failed, or already_done (nothing was run)."""

    campaign_id: str
    state: str
    counts: Counter[str]
    message: str
    report: DriveReport | None = None
    store_url: str = ""


def counts(store: ResultsStore, campaign_id: str) -> Counter[str]:
    """The campaign's results by outcome."""
    return Counter(r.outcome.value for r in store.results(campaign_id))


def drive(
    prepared: Prepared, backend: BackendConfig, executor: Executor,
    observers: Sequence[CampaignObserver] = (), settings: DriverSettings | None = None,
) -> CampaignRun:
    """Run `prepared`'s uncommitted shards on `executor` (screening with `backend`) and
    commit each; `settings` tune the driver (its in-flight bound is the spec's). Raises
    what the driver raises (RetryableError: the backend stayed down; resume later)."""
    spec, store = prepared.spec, prepared.store
    progress = store.progress(spec.id)
    observer = CompositeObserver(observers)
    observer.on_plan(
        spec.id,
        {r: p.studies_planned + p.studies_settled_early for r, p in progress.items()},
        {r: p.studies_done + p.studies_settled_early for r, p in progress.items()},
    )

    def commit(work: ShardWork, results: tuple[StudyResult, ...]) -> None:
        prepared.renew()
        store.commit_shard(spec.id, work.shard_id, results)

    def cancelled() -> bool:
        prepared.renew()
        camp = store.campaign(spec.id)
        return camp is not None and camp.state is CampaignState.CANCELLED

    base = settings or DriverSettings()
    settings = DriverSettings(**{**base.__dict__,
                                 "max_shards_in_flight": spec.max_shards_in_flight})
    state = "failed"
    try:
        driver = Driver(executor, commit, backend, settings, observer, is_cancelled=cancelled)
        report = driver.run(prepared.shards())
        state = report.state
    finally:
        observer.on_finished(spec.id, state)
    if state == "completed" and not any(True for _ in store.pending_shards(spec.id)):
        store.set_state(spec.id, CampaignState.DONE)
        state = "done"
    by_outcome = counts(store, spec.id)
    return CampaignRun(spec.id, state, by_outcome,
                       f"campaign {spec.id} {state}: " + ", ".join(
                           f"{n} {o}" for o, n in sorted(by_outcome.items())),
                       report=report, store_url=store.url)
