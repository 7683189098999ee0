"""The shard ledger of the results store: the recorded plan, attempts, and exactly-once
commits (a shard's results and its done mark in one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import and_, insert, select, update

from jobs.store import schema as t
from jobs.store.base import PAGE, StoreBase, utc_now
from jobs.store.engine import mapped_errors
from jobs.store.rows import result_to_row, shard_from_row, shard_to_row
from kernel.errors import BadInput
from kernel.plans import PlanHasher, ShardPlan
from kernel.records import StudyResult

__all__ = ["ShardLedger"]


class ShardLedger(StoreBase):
    """The plan of each campaign and which of its shards are committed."""

    def record_plan(self, campaign_id: str, shards: Iterable[ShardPlan]) -> bool:
        """Record the campaign's plan (streamed; one transaction). True if recorded now,
        False if this very plan was recorded before. BadInput if the campaign has a
        different plan, or is unknown."""
        with mapped_errors(self._url, "recording the plan"), self._writer.begin() as conn:
            camp = self._campaign(conn, campaign_id, for_update=True)
            if camp is None:
                raise self._unknown(conn, campaign_id)
            hasher = PlanHasher()
            n_shards = n_studies = 0
            batch: list[dict[str, Any]] = []
            for shard in shards:
                hasher.update(shard.digest)
                n_shards += 1
                n_studies += shard.study_count
                if camp.plan_digest is None:
                    batch.append(shard_to_row(campaign_id, shard))
                    if len(batch) >= PAGE:
                        conn.execute(insert(t.shards), batch)
                        batch = []
            digest = hasher.hexdigest()
            if camp.plan_digest is not None:
                if digest == camp.plan_digest:
                    return False
                raise BadInput(
                    f"campaign {campaign_id!r} already has a plan of {camp.shard_count} "
                    f"shards / {camp.study_count} studies; this plan has {n_shards} shards / "
                    f"{n_studies} studies (the sources or the shard size changed). Resume "
                    "the campaign with its recorded plan, or start a new campaign id"
                )
            if batch:
                conn.execute(insert(t.shards), batch)
            conn.execute(
                update(t.campaigns)
                .where(t.campaigns.c.id == campaign_id)
                .values(
                    plan_digest=digest,
                    shard_count=n_shards,
                    study_count=n_studies,
                    updated_at=utc_now(),
                )
            )
            return True

    def pending_shards(self, campaign_id: str) -> Iterator[ShardPlan]:
        """The shards not yet committed, in shard-id order (paged; safe to commit while
        iterating)."""
        c = t.shards.c
        yield from self._paged(
            select(t.shards).where(c.campaign_id == campaign_id, c.state == "planned"),
            (c.shard_id,),
            shard_from_row,
            "reading pending shards",
        )

    def mark_attempt(self, campaign_id: str, shard_id: str) -> int:
        """Count one more attempt at a shard; returns the new count."""
        c = t.shards.c
        key = and_(c.campaign_id == campaign_id, c.shard_id == shard_id)
        with mapped_errors(self._url, "counting an attempt"), self._writer.begin() as conn:
            conn.execute(update(t.shards).where(key).values(attempts=c.attempts + 1))
            attempts = conn.execute(select(c.attempts).where(key)).scalar()
        if attempts is None:
            raise BadInput(f"campaign {campaign_id!r} has no shard {shard_id!r}")
        return int(attempts)

    def commit_shard(self, campaign_id: str, shard_id: str, results: Sequence[StudyResult]) -> bool:
        """Insert the shard's results and mark it done, in one transaction.

        `results` must hold exactly one result per study of the shard (ValueError
        otherwise; nothing is written). Returns False, changing nothing, if the shard was
        already done (a replay). BadInput for an unknown shard.
        """
        c = t.shards.c
        key = and_(c.campaign_id == campaign_id, c.shard_id == shard_id)
        now = utc_now()
        with mapped_errors(self._url, "committing a shard"), self._writer.begin() as conn:
            # The UPDATE comes first: it takes the write lock (row lock on PostgreSQL), so
            # of two concurrent commits of one shard exactly one sees state 'planned'.
            marked = conn.execute(
                update(t.shards)
                .where(key, c.state == "planned")
                .values(state="done", committed_at=now)
            ).rowcount
            if marked == 0:
                if conn.execute(select(c.state).where(key)).scalar() is None:
                    raise BadInput(f"campaign {campaign_id!r} has no shard {shard_id!r}")
                return False
            planned = conn.execute(select(c.study_pids).where(key)).scalar_one()
            _check_complete(shard_id, json.loads(planned), results)
            rows = [result_to_row(campaign_id, r, shard_id, now) for r in results]
            if rows:
                self._insert_ignore(conn, t.results, rows)
            return True

    def commit_results(self, campaign_id: str, results: Sequence[StudyResult]) -> int:
        """Store results of studies settled outside any shard (opted out, quarantined at
        selection). Idempotent: returns how many were new."""
        now = utc_now()
        rows = [result_to_row(campaign_id, r, None, now) for r in results]
        if not rows:
            return 0
        with mapped_errors(self._url, "committing results"), self._writer.begin() as conn:
            return self._insert_ignore(conn, t.results, rows)


def _check_complete(shard_id: str, planned: list[str], results: Sequence[StudyResult]) -> None:
    got = [r.study_pid for r in results]
    if len(set(got)) != len(got) or set(got) != set(planned):
        missing = len(set(planned) - set(got))
        extra = len(set(got) - set(planned))
        raise ValueError(
            f"results for shard {shard_id!r} do not match its plan: {len(planned)} studies "
            f"planned, {len(got)} results ({missing} missing, {extra} not in the shard, "
            f"{len(got) - len(set(got))} repeated); expected one result per planned study"
        )
