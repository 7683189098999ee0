"""The shard plan as a record, and the digests that identify a shard and a whole plan.

Planning (jobs.run.planning) produces these; the store's ledger records and checks them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PlanHasher", "ShardPlan", "plan_digest", "shard_digest"]


@dataclass(frozen=True)
class ShardPlan:
    """One unit of work: up to shard_size studies of one region. Holds pseudonyms only."""

    shard_id: str  # "<region>-<index:05d>"
    region: str
    index: int  # 0-based within the region
    study_pids: tuple[str, ...]
    digest: str  # sha256 of (region, index, study pids); see shard_digest

    @property
    def study_count(self) -> int:
        return len(self.study_pids)


def shard_digest(region: str, index: int, study_pids: Iterable[str]) -> str:
    """The digest that identifies a shard's content (hex sha256)."""
    h = hashlib.sha256(f"shard/v1\n{region}\n{index}\n".encode())
    for pid in study_pids:
        h.update(pid.encode())
        h.update(b"\n")
    return h.hexdigest()


class PlanHasher:
    """Builds a plan digest one shard digest at a time (constant memory)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256(b"plan/v1\n")

    def update(self, shard_digest: str) -> None:
        self._h.update(shard_digest.encode())
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def plan_digest(shard_digests: Iterable[str]) -> str:
    """The digest of a whole plan, from its shards' digests in plan order (hex sha256)."""
    hasher = PlanHasher()
    for d in shard_digests:
        hasher.update(d)
    return hasher.hexdigest()
