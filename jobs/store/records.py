"""What the results store returns: campaigns, progress, counts and audit events (no PHI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["AuditEvent", "Campaign", "CampaignState", "OutcomeCount", "RegionLedger"]


class CampaignState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


@dataclass(frozen=True)
class Campaign:
    id: str
    spec_digest: str
    model_name: str
    model_version: str
    state: CampaignState
    plan_digest: str | None  # None until record_plan
    shard_count: int | None
    study_count: int | None
    created_at: datetime
    updated_at: datetime
    key_fingerprint: str | None = None  # of the pseudonym key (jobs.ingest.privacy), not the key


@dataclass(frozen=True)
class RegionLedger:
    """A region's shard ledger: shards and studies planned and done (kernel.progress's
    RegionProgress adds the outcomes, for status and metrics)."""

    region: str
    shards_planned: int  # all shards of the plan, done or not
    shards_done: int
    studies_planned: int
    studies_done: int  # studies in done shards
    studies_settled_early: int  # results outside shards: opted out, quarantined at selection


@dataclass(frozen=True)
class OutcomeCount:
    """Committed results of one (region, outcome, reason, category) cell."""

    region: str
    outcome: str
    reason: str | None
    category: str | None
    count: int


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    campaign_id: str | None
    kind: str
    detail: dict[str, Any]
    seq: int | None = None  # its place in the audit chain (None: written before the chain)
    mac: str = ""
