"""Reads of the results store: results paged by key, progress per region, outcome counts,
and the span of commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import Integer, func, select

from jobs.store import schema as t
from jobs.store.base import StoreBase
from jobs.store.engine import mapped_errors
from jobs.store.records import OutcomeCount, RegionLedger
from jobs.store.rows import as_utc, result_from_row
from kernel.records import StudyResult

__all__ = ["ResultReads"]

_PERSONS = 500  # pseudonyms per IN (...) query


class ResultReads(StoreBase):
    """What readers of a campaign see (the driver, reports, status, metrics)."""

    def results(self, campaign_id: str) -> Iterator[StudyResult]:
        """Every stored result of the campaign, in (study pid, model version) order."""
        c = t.results.c
        yield from self._paged(
            select(t.results).where(c.campaign_id == campaign_id),
            (c.study_pid, c.model_version),
            result_from_row,
            "reading results",
        )

    def results_of_persons(self, campaign_ids: Sequence[str], persons: Iterable[str]
                           ) -> Iterator[tuple[str, StudyResult]]:
        """(campaign id, result) of every stored result of `persons` (patient pseudonyms) in
        `campaign_ids`: their earlier screens, looked up by pseudonym (an index)."""
        wanted = sorted(set(persons))
        c = t.results.c
        with mapped_errors(self._url, "reading earlier screens"), self._engine.connect() as conn:
            for at in range(0, len(wanted), _PERSONS):
                q = select(t.results).where(c.campaign_id.in_(list(campaign_ids)),
                                            c.patient_pid.in_(wanted[at:at + _PERSONS]))
                for row in conn.execute(q).mappings():
                    yield str(row["campaign_id"]), result_from_row(dict(row))

    def progress(self, campaign_id: str) -> dict[str, RegionLedger]:
        """Per region (sorted by name): planned and done shards and studies."""
        s, r = t.shards.c, t.results.c
        done = (s.state == "done").cast(Integer)
        with mapped_errors(self._url, "reading progress"), self._engine.connect() as conn:
            ledger = conn.execute(
                select(
                    s.region,
                    func.count(),
                    func.coalesce(func.sum(done), 0),
                    func.coalesce(func.sum(s.study_count), 0),
                    func.coalesce(func.sum(s.study_count * done), 0),
                )
                .where(s.campaign_id == campaign_id)
                .group_by(s.region)
            ).all()
            rows = conn.execute(
                select(r.region, func.count())
                .where(r.campaign_id == campaign_id, r.shard_id.is_(None))
                .group_by(r.region)
            ).all()
        early = {str(region): int(n) for region, n in rows}
        out: dict[str, RegionLedger] = {}
        for region, planned, n_done, studies, studies_done in ledger:
            out[region] = RegionLedger(
                region,
                int(planned),
                int(n_done),
                int(studies),
                int(studies_done),
                int(early.pop(region, 0)),
            )
        for region, n in early.items():
            out[region] = RegionLedger(region, 0, 0, 0, 0, int(n))
        return dict(sorted(out.items()))

    def outcome_counts(self, campaign_id: str) -> list[OutcomeCount]:
        """Committed results per (region, outcome, reason, category): one GROUP BY, cheap
        enough for every metrics scrape and status refresh (monitoring reads it)."""
        r = t.results.c
        cols = (r.region, r.outcome, r.reason, r.category)
        with mapped_errors(self._url, "counting results"), self._engine.connect() as conn:
            rows = conn.execute(
                select(*cols, func.count()).where(r.campaign_id == campaign_id).group_by(*cols)
            ).all()
        return [OutcomeCount(str(a), str(b), c, d, int(n)) for a, b, c, d, n in rows]

    def commit_span(self, campaign_id: str) -> tuple[datetime | None, datetime | None]:
        """When the campaign's first and latest shards committed (None, None before any)."""
        s = t.shards.c
        with mapped_errors(self._url, "reading commit times"), self._engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(s.committed_at), func.max(s.committed_at)).where(
                    s.campaign_id == campaign_id, s.state == "done"
                )
            ).one()
        return (as_utc(first) if first else None, as_utc(last) if last else None)
