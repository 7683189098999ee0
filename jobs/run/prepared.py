"""The first step of a run: a campaign made ready to drive.

`prepare` takes the studies in (discover, select, minimise: jobs.ingest), commits the results
settled before any pixel is read, and records the deterministic shard plan. What it returns
holds the studies' locators: keep it in memory only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from jobs.ingest.intake import Intake, take_in
from jobs.ingest.privacy import LocatorSeal, OptOutList, Pseudonymizer
from jobs.ingest.selection import Selected
from jobs.rounds.prior_pixels import locate_prior_pixels
from jobs.rounds.priors import check_priors, find_priors
from jobs.run.planning import plan_shards
from jobs.run.shardwork import ShardWork, StudyWork
from jobs.spec.campaign_spec import CampaignSpec
from jobs.store import ResultsStore
from jobs.store.lease import DriverLease
from kernel.errors import BadInput
from kernel.rounds import PriorScreen

__all__ = ["Prepared", "prepare", "shard_work"]


@dataclass(frozen=True)
class Prepared:
    """A campaign ready to drive: its spec and store, what intake found, the seal its
    locators travel under, and the driver lease to renew while it runs (None: none held)."""

    spec: CampaignSpec
    store: ResultsStore
    intake: Intake = field(repr=False)
    seal: LocatorSeal = field(repr=False)
    lease: DriverLease | None = None
    # study pseudonym -> the person's prior screen (spec.priors; jobs.rounds.priors) and,
    # where its sources still hold it, the prior's selected series (jobs.rounds.prior_pixels)
    priors: Mapping[str, PriorScreen] = field(default_factory=dict, repr=False)
    prior_pixels: Mapping[str, Selected] = field(default_factory=dict, repr=False)

    def renew(self) -> None:
        """Renew the lease, if one is held (cheap: it writes at most every ttl/4)."""
        if self.lease is not None:
            self.lease.renew()

    def shards(self) -> Iterator[ShardWork]:
        """The shards not yet committed, with their studies (see `shard_work`)."""
        return shard_work(self.spec.id, self.store, self.intake, self.seal, self.priors,
                          self.prior_pixels)


def prepare(
    spec: CampaignSpec, store: ResultsStore, key: bytes, *, env: Mapping[str, str] | None = None,
    lease: DriverLease | None = None, intake: Intake | None = None,
    prior_specs: Sequence[CampaignSpec] = (),
) -> Prepared:
    """Make the campaign `spec` (already in `store`: ResultsStore.ensure_campaign) ready to
    drive with the pseudonym key `key`: intake (DICOMweb credentials from `env`), unless an
    `intake` taken before with the same key is given; the early results committed; the plan
    recorded (the same plan again on a resume; BadInput if the sources changed it); each
    study's prior screen found in `spec.priors` (BadInput for a prior under another key),
    and its pixels in `prior_specs`' sources where they still are."""
    pseudonymizer = Pseudonymizer(key)
    check_priors(store, spec.id, spec.priors, pseudonymizer.fingerprint())
    if intake is None:
        opt_out = OptOutList.load(spec.privacy.opt_out, pseudonymizer)
        intake = take_in(spec, pseudonymizer, opt_out, env or {})
    if lease is not None:
        lease.renew()
    store.commit_results(spec.id, intake.early)
    store.record_plan(spec.id, plan_shards(intake.records.values(), spec.shard_size))
    priors = find_priors(store, spec.priors, intake.records.values())
    pixels = locate_prior_pixels(prior_specs, [r.name for r in spec.regions], priors,
                                 pseudonymizer, env or {}) if priors and prior_specs else {}
    return Prepared(spec, store, intake, LocatorSeal(key, spec.key_path), lease, priors, pixels)


def shard_work(
    campaign_id: str, store: ResultsStore, intake: Intake, seal: LocatorSeal,
    priors: Mapping[str, PriorScreen] | None = None,
    prior_pixels: Mapping[str, Selected] | None = None,
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
                          locator=seal.seal(intake.locators[pid]),
                          prior=(priors or {}).get(pid),
                          prior_locator=_sealed(seal, (prior_pixels or {}).get(pid)))
                for pid in plan.study_pids
            ),
        )


def _sealed(seal: LocatorSeal, selected: Selected | None) -> object | None:
    return None if selected is None else seal.seal(selected)
