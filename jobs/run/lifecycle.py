"""A campaign's life cycle: run, resume, cancel.

    run:    spec -> store campaign (new, or the same one again) -> the driver lease ->
            prepare (intake: discover, select, minimise; settle early results; record the
            deterministic plan: jobs.run.prepared) -> drive the shards not yet committed on
            Ray (or in-process) and mark done (jobs.run.driving).
    resume: the same, from the spec recorded at the first run (see `jobs.spec.registry`).
    cancel: mark the campaign cancelled; a running driver notices within seconds, lets
            the shards in flight commit, and stops.

A campaign that is already done is not run again ("nothing to do"). Inference runs on the
Triton servers the spec names; without any, the bundled local Triton is started for the
campaign's lifetime, or the model runs inside the workers with `backend="inprocess"`
(jobs.run.runtime).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from jobs.ingest.privacy import Pseudonymizer
from jobs.run.campaignkey import campaign_key
from jobs.run.driving import CampaignRun, counts, drive
from jobs.run.options import RunOptions
from jobs.run.prepared import prepare, shard_work
from jobs.run.runtime import inference_backend, open_executor
from jobs.spec.campaign_spec import CampaignSpec, spec_digest
from jobs.spec.registry import SpecRegistry
from jobs.store import CampaignState, ResultsStore
from jobs.store.lease import DriverLease
from kernel.errors import BadInput

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


def run_campaign(
    spec: CampaignSpec, options: RunOptions, store: ResultsStore,
    registry: SpecRegistry | None = None,
) -> CampaignRun:
    """Run (or continue) the campaign `spec` describes on `store` (opened by the caller,
    usually on `spec.store_url`, and left open); see the module doc."""
    digest = spec_digest(spec)
    existing = store.campaign(spec.id)
    if existing is not None and existing.state is CampaignState.DONE:
        done = counts(store, spec.id)
        return CampaignRun(spec.id, "already_done", done,
                           f"campaign {spec.id} is already complete "
                           f"({sum(done.values())} studies); nothing to do",
                           store_url=store.url)
    # a campaign that started reads its key, never a new one, and checks it is its own
    key = campaign_key(spec.key_path, existing, "resume", create=True)
    if spec.key_beside_store():
        log.warning("the pseudonym key %s sits in the store's folder: a copy of that folder "
                    "can re-identify every result; set privacy.key_file to a path outside "
                    "it (e.g. a secret mount)", spec.key_path)
    store.ensure_campaign(spec.id, spec_digest=digest, model_name=spec.model.name,
                          model_version=spec.model.version,
                          key_fingerprint=Pseudonymizer(key).fingerprint(),
                          sites={r.name: r.site_codes for r in spec.regions})
    if registry is not None:
        registry.save(spec)
    lease = DriverLease(store, spec.id)
    lease.acquire()  # CampaignBusy while another driver runs this campaign
    try:
        if existing is not None and existing.state is CampaignState.CANCELLED:
            store.set_state(spec.id, CampaignState.RUNNING)
        prepared = prepare(spec, store, key, env=options.env, lease=lease,
                           prior_specs=_prior_specs(spec, registry))
        with inference_backend(spec, options) as backend, \
                open_executor(spec, options, backend) as executor:
            return drive(prepared, backend, executor, options.observers, options.driver)
    finally:
        lease.release()


def _prior_specs(spec: CampaignSpec, registry: SpecRegistry | None) -> list[CampaignSpec]:
    """The saved specs of the campaign's priors that can be found (their sources may still
    hold the prior screens' pixels); a missing one only means matching without pixels."""
    if registry is None:
        return []
    found: list[CampaignSpec] = []
    for prior_id in spec.priors:
        try:
            found.append(registry.load(prior_id, spec.data_dir))
        except BadInput:
            log.info("priors: no saved spec of campaign %s: its screens are matched without "
                     "their pixels", prior_id)
    return found


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
