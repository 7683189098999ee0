"""A campaign's life cycle: run, resume, cancel.

    run:    spec -> store campaign (new, or the same one again) -> intake (discover, select,
            minimise) -> settle early results -> record the deterministic plan -> run the
            shards not yet committed on Ray (or in-process) -> mark done.
    resume: the same, from the spec recorded at the first run (see `jobs.spec.registry`).
    cancel: mark the campaign cancelled; a running driver notices within seconds, lets
            the shards in flight commit, and stops.

A campaign that is already done is not run again ("nothing to do"). Inference runs on the
Triton servers the spec names; without any, the bundled local Triton is started for the
campaign's lifetime, or the model runs inside the workers with `backend="inprocess"`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cluster.ray.connect import RayOptions, connect
from jobs.ingest.intake import Intake, take_in
from jobs.ingest.privacy import LocatorSeal, OptOutList, Pseudonymizer
from jobs.run.backends import BackendConfig, InProcessBackendConfig, TritonBackendConfig
from jobs.run.campaignkey import campaign_key
from jobs.run.driver import Driver, DriveReport, DriverSettings
from jobs.run.executor import Executor, InProcessExecutor, RayExecutor
from jobs.run.planning import plan_shards
from jobs.run.shardwork import ShardWork, StudyWork, WorkerPolicy
from jobs.spec.campaign import CampaignSpec, spec_digest
from jobs.spec.registry import SpecRegistry
from jobs.store import CampaignState, ResultsStore
from jobs.store.lease import DriverLease
from kernel.errors import BadInput
from kernel.observer import CampaignObserver, CompositeObserver
from kernel.records import StudyResult

__all__ = [
    "CampaignRun",
    "RunOptions",
    "cancel_campaign",
    "default_env",
    "inference_backend",
    "run_campaign",
    "shard_work",
]

log = logging.getLogger("jobs")

BackendChoice = Literal["auto", "triton", "inprocess"]


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what: that is the spec).

    address: an existing Ray cluster (None: embedded local Ray).
    backend: auto (the spec's Triton URLs, else the bundled local Triton), triton (the
        same, but the spec must name servers), inprocess (the model inside each worker).
    executor: ray, or inprocess (threads in this process; tests and tiny runs).
    ray_resources: custom resources for the embedded Ray node (e.g. `{"region:north": 1}`).
    model_parameters: parameters of an in-process model (e.g. the threshold_detector's
        `{"delay_s": "1"}`); a served model takes its parameters from its Triton config.
    """

    address: str | None = None
    backend: BackendChoice = "auto"
    executor: Literal["ray", "inprocess"] = "ray"
    num_cpus: int | None = None
    ray_resources: Mapping[str, float] = field(default_factory=dict)
    driver: DriverSettings | None = None
    policy: WorkerPolicy = field(default_factory=WorkerPolicy)
    observers: Sequence[CampaignObserver] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    model_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass
class CampaignRun:
    """The outcome: `state` is done, cancelled, or already_done (nothing was run)."""

    campaign_id: str
    state: str
    counts: Counter[str]
    message: str
    report: DriveReport | None = None
    store_url: str = ""


def _counts(store: ResultsStore, campaign_id: str) -> Counter[str]:
    return Counter(r.outcome.value for r in store.results(campaign_id))


def _settings(spec: CampaignSpec, options: RunOptions) -> DriverSettings:
    base = options.driver or DriverSettings()
    return DriverSettings(
        **{**base.__dict__, "max_shards_in_flight": spec.max_shards_in_flight}
    )


@contextlib.contextmanager
def inference_backend(spec: CampaignSpec, options: RunOptions) -> Iterator[BackendConfig]:
    """The backend config for the workers; starts the bundled local Triton for the block
    when the spec names no servers (and the backend is not in-process)."""
    version = spec.model.version
    if options.backend == "inprocess":
        yield InProcessBackendConfig(model_name=spec.model.name, model_version=version,
                                     parameters=tuple(sorted(options.model_parameters.items())))
        return
    if options.model_parameters:
        raise BadInput("model parameters apply to in-process models only (backend inprocess); "
                       "a served model takes them from its Triton config")
    if spec.triton is not None:
        yield TritonBackendConfig(urls=tuple(spec.triton.urls), model_name=spec.model.name,
                                  model_version=version, timeout_s=spec.triton.timeout_s)
        return
    if options.backend == "triton":
        raise BadInput("backend triton needs triton.urls in the spec (or omit --backend)")
    from cluster.triton.server import LocalTritonServer, TritonServerConfig

    log.info("starting the bundled Triton server for this campaign")
    with LocalTritonServer(TritonServerConfig()) as server:
        yield TritonBackendConfig(urls=(server.grpc_url,), model_name=spec.model.name,
                                  model_version=version)


def shard_work(
    campaign_id: str, store: ResultsStore, intake: Intake, seal: LocatorSeal
) -> Iterator[ShardWork]:
    """The campaign's uncommitted shards with their studies' records and locators, each
    locator sealed for the trip (jobs.ingest.privacy.seal: task arguments are pickled into
    Ray's object store, so they carry no path, UID or header value in the clear)."""
    for plan in store.pending_shards(campaign_id):
        missing = [pid for pid in plan.study_pids if pid not in intake.locators]
        if missing:
            raise BadInput(
                f"shard {plan.shard_id} has {len(missing)} planned studies that the sources "
                "no longer hold; restore the sources as they were when the campaign started"
            )
        yield ShardWork(
            campaign_id=campaign_id,
            shard_id=plan.shard_id,
            region=plan.region,
            studies=tuple(
                StudyWork(record=intake.records[pid],
                          locator=seal.seal(intake.locators[pid]))
                for pid in plan.study_pids
            ),
        )


def run_campaign(
    spec: CampaignSpec, options: RunOptions, store: ResultsStore,
    registry: SpecRegistry | None = None,
) -> CampaignRun:
    """Run (or continue) the campaign `spec` describes on `store` (opened by the caller,
    usually on `spec.store_url`, and left open); see the module doc."""
    digest = spec_digest(spec)
    existing = store.campaign(spec.id)
    if existing is not None and existing.state is CampaignState.DONE:
        counts = _counts(store, spec.id)
        return CampaignRun(spec.id, "already_done", counts,
                           f"campaign {spec.id} is already complete "
                           f"({sum(counts.values())} studies); nothing to do",
                           store_url=store.url)
    # a campaign that started reads its key, never a new one, and checks it is its own
    key = campaign_key(spec.key_path, existing, "resume", create=True)
    pseudonymizer = Pseudonymizer(key)
    if spec.key_beside_store():
        log.warning("the pseudonym key %s sits in the store's folder: a copy of that folder "
                    "can re-identify every result; set privacy.key_file to a path outside "
                    "it (e.g. a secret mount)", spec.key_path)
    store.ensure_campaign(spec.id, spec_digest=digest, model_name=spec.model.name,
                          model_version=spec.model.version,
                          key_fingerprint=pseudonymizer.fingerprint(),
                          sites={r.name: r.site_codes for r in spec.regions})
    if registry is not None:
        registry.save(spec)
    lease = DriverLease(store, spec.id)
    lease.acquire()  # CampaignBusy while another driver runs this campaign
    try:
        if existing is not None and existing.state is CampaignState.CANCELLED:
            store.set_state(spec.id, CampaignState.RUNNING)
        return _run(spec, options, store, pseudonymizer, LocatorSeal(key, spec.key_path), lease)
    finally:
        lease.release()


def _run(
    spec: CampaignSpec, options: RunOptions, store: ResultsStore, pseudonymizer: Pseudonymizer,
    seal: LocatorSeal, lease: DriverLease,
) -> CampaignRun:
    opt_out = OptOutList.load(spec.privacy.opt_out, pseudonymizer)
    intake = take_in(spec, pseudonymizer, opt_out, options.env)
    lease.renew()
    store.commit_results(spec.id, intake.early)
    store.record_plan(spec.id, plan_shards(intake.records.values(), spec.shard_size))
    progress = store.progress(spec.id)
    observer = CompositeObserver(options.observers)
    observer.on_plan(
        spec.id,
        {r: p.studies_planned + p.studies_settled_early for r, p in progress.items()},
        {r: p.studies_done + p.studies_settled_early for r, p in progress.items()},
    )

    def commit(work: ShardWork, results: tuple[StudyResult, ...]) -> None:
        lease.renew()
        store.commit_shard(spec.id, work.shard_id, results)

    def cancelled() -> bool:
        lease.renew()
        camp = store.campaign(spec.id)
        return camp is not None and camp.state is CampaignState.CANCELLED

    state = "failed"
    try:
        with inference_backend(spec, options) as backend:
            ray_options = RayOptions(address=options.address, num_cpus=options.num_cpus,
                                     resources=dict(options.ray_resources))
            with connect(ray_options) if options.executor == "ray" else contextlib.nullcontext():
                executor: Executor
                if options.executor == "ray":
                    ray_executor = RayExecutor(backend, options.policy,
                                               strict_residency=spec.residency == "strict")
                    ray_executor.require_regions([r.name for r in spec.regions])
                    executor = ray_executor
                else:
                    executor = InProcessExecutor(backend, options.policy)
                driver = Driver(executor, commit, backend, _settings(spec, options),
                                observer, is_cancelled=cancelled)
                try:
                    report = driver.run(shard_work(spec.id, store, intake, seal))
                finally:
                    executor.close()
        state = report.state
    finally:
        observer.on_finished(spec.id, state)
    if state == "completed" and not any(True for _ in store.pending_shards(spec.id)):
        store.set_state(spec.id, CampaignState.DONE)
        state = "done"
    counts = _counts(store, spec.id)
    return CampaignRun(spec.id, state, counts,
                       f"campaign {spec.id} {state}: " + ", ".join(
                           f"{n} {o}" for o, n in sorted(counts.items())),
                       report=report, store_url=store.url)


def cancel_campaign(spec: CampaignSpec, store: ResultsStore) -> str:
    """Mark the campaign cancelled; returns a line to print. BadInput if it is unknown."""
    camp = store.campaign(spec.id)
    if camp is None:
        raise BadInput(f"campaign {spec.id!r} is not in store {store.url}")
    if camp.state is CampaignState.DONE:
        return f"campaign {spec.id} is already complete; nothing to cancel"
    store.set_state(spec.id, CampaignState.CANCELLED)
    return (f"campaign {spec.id} marked cancelled; a running driver stops after its shards "
            "in flight commit")


def default_env() -> Mapping[str, str]:
    """The environment, read at the CLI edge only."""
    return dict(os.environ)
