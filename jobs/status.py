"""What `lungscreen status` runs: opens the stores the request names (read-only use), builds
the snapshotter and shows it, once or live.

Which campaigns: the one named (its store from its saved spec, or `--store`), else every
campaign in `--store`, else every campaign whose spec is registered. Deadlines and Triton
URLs come from the specs that are known; more Triton URLs can be given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from jobs.run.store_progress import campaign_progress
from jobs.spec.campaign_spec import CampaignSpec
from jobs.spec.secrets import store_password
from jobs.store import ResultsStore
from kernel.errors import BadInput
from kernel.progress import CampaignProgress
from monitoring.observer import deadline_timestamp
from monitoring.status import Snapshotter, StatusTarget, watch

__all__ = ["StatusRequest", "run_status"]


@dataclass(frozen=True)
class StatusRequest:
    """A validated `lungscreen status` request (built at the CLI edge).

    specs: the saved specs of the campaigns to show (or that give deadlines / Triton URLs);
    store_url: a store to read instead of the specs' stores.
    """

    campaign_id: str | None = None
    store_url: str | None = None
    specs: tuple[CampaignSpec, ...] = ()
    triton_urls: tuple[str, ...] = ()
    metrics_url: str | None = None
    once: bool = False
    as_json: bool = False
    interval_s: float = 2.0
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # store passwords

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise BadInput(f"--interval {self.interval_s} must be > 0 seconds")
        if self.store_url is None and not self.specs:
            raise BadInput(
                "no campaign to show: no spec is registered here; name the store with "
                "--store URL (e.g. sqlite:///lungscreen-data/results.db), or --state-dir "
                "where the campaigns were run"
            )


def run_status(request: StatusRequest, out: TextIO, *, clear: bool = False) -> int:
    """Show the status (once, or live until Ctrl-C); returns the exit code."""
    with _stores(request) as stores:
        targets = [_target(store, request, ids) for store, ids in stores]
        urls = list(request.triton_urls)
        for spec in request.specs:
            if spec.triton is not None:
                urls.extend(u for u in spec.triton.urls if u not in urls)
        snapshotter = Snapshotter(targets, tuple(dict.fromkeys(urls)), request.metrics_url)
        return watch(snapshotter.take, out, interval_s=request.interval_s, once=request.once,
                     as_json=request.as_json, clear=clear)


def _target(store: ResultsStore, request: StatusRequest, ids: Sequence[str] | None
            ) -> StatusTarget:
    deadlines = {s.id: deadline_timestamp(s.deadline) for s in request.specs}

    def read() -> list[CampaignProgress]:
        wanted = ids if ids is not None else [c.id for c in store.campaigns()]
        return [campaign_progress(store, cid, deadlines.get(cid)) for cid in wanted]

    return StatusTarget(read)


@contextlib.contextmanager
def _stores(request: StatusRequest) -> Iterator[list[tuple[ResultsStore, list[str] | None]]]:
    """(store, campaign ids or None for all) per distinct store; closed afterwards."""
    plan: dict[str, list[str] | None] = {}
    passwords: dict[str, str | None] = {}
    if request.store_url is not None:
        plan[request.store_url] = [request.campaign_id] if request.campaign_id else None
    else:
        for spec in request.specs:
            if request.campaign_id and spec.id != request.campaign_id:
                continue
            ids = plan.setdefault(spec.store_url, [])
            passwords[spec.store_url] = store_password(spec, request.env)
            if ids is not None and spec.id not in ids:
                ids.append(spec.id)
    opened: list[tuple[ResultsStore, list[str] | None]] = []
    try:
        for url, ids in plan.items():
            store = ResultsStore.open(url, password=passwords.get(url), create=False)
            opened.append((store, ids))
            for cid in ids or ():
                if store.campaign(cid) is None:
                    known = ", ".join(c.id for c in store.campaigns()) or "none"
                    raise BadInput(
                        f"campaign {cid!r} is not in store {store.url!r} (it holds: {known}); "
                        "it may not have started yet, or use --store for another store"
                    )
        yield opened
    finally:
        for store, _ in opened:
            store.close()

