"""The analysts' release in the results store, append-only: increments (which results each
measured), measurements (mechanism, sigma, rho) and the reconciled base (jobs.release).

An increment covers the results committed after the previous increment's last commit, up to
its own. Commit times grow with commit order (one driver writes a campaign, under its lease);
`measured_before` lets the caller check that nothing committed behind a boundary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from jobs.store import schema as t
from jobs.store.base import PAGE, StoreBase
from jobs.store.engine import mapped_errors
from jobs.store.rows import as_utc
from kernel.errors import BadInput

__all__ = ["BaseCell", "Cell", "ReleaseIncrement", "ReleaseMeasurement", "ReleaseStore",
           "UnreleasedResults"]


Cell = tuple[str, str, str, str, str, str | None, str | None]
"""(region, site, age band, sex, outcome, category, reason) of a result."""
_CHUNK = 50_000
_PERSONS = 5_000  # pseudonyms per budget lookup (SQLite binds at most 32,766 values)


@dataclass(frozen=True)
class UnreleasedResults:
    """The results an increment measures, counted per cell: the patient pseudonyms of its
    results, and the cells of the first committed result of each pseudonym (the others
    `excluded`; commit time, then study, orders them). No nodules, no study pid."""

    persons: set[str]
    cells: Counter[Cell]
    excluded: int
    first_commit: datetime
    last_commit: datetime


def _repeated(persons: list[str], distinct: set[str]) -> list[str]:
    """The pseudonyms with more than one result (none when all are distinct)."""
    if len(distinct) == len(persons):
        return []
    return sorted(p for p, n in Counter(persons).items() if n > 1)


@dataclass(frozen=True)
class ReleaseIncrement:
    """One increment's boundaries: the results committed in (previous last_commit,
    last_commit]. Exact counts: the authority's, never published to analysts."""

    campaign_id: str
    seq: int
    first_commit: datetime
    last_commit: datetime
    results: int
    excluded: int
    recoded: int
    created_at: datetime


@dataclass(frozen=True)
class ReleaseMeasurement:
    """How one increment was measured: what `privacy` publishes with every table."""

    seq: int
    mechanism: str
    levels: tuple[str, ...]
    sensitivity: float
    sigma: float
    rho: float
    cells: int
    domain: dict[str, Any]


@dataclass(frozen=True)
class BaseCell:
    """One reconciled noisy count of the base (zeros are not stored)."""

    seq: int
    level: str
    region: str
    site: str
    age_band: str
    sex: str
    outcome: str
    count: int


class ReleaseStore(StoreBase):
    """Increments, measurements and the base: appended once, never changed."""

    def increments(self, campaign_id: str) -> list[ReleaseIncrement]:
        """The campaign's increments, oldest first."""
        c = t.release_increments.c
        q = select(t.release_increments).where(c.campaign_id == campaign_id).order_by(c.seq)
        with mapped_errors(self._url, "reading increments"), self._engine.connect() as conn:
            return [_increment(row._mapping) for row in conn.execute(q)]

    def measurements(self, campaign_id: str) -> list[ReleaseMeasurement]:
        """How each increment was measured, oldest first."""
        c = t.release_measurements.c
        q = select(t.release_measurements).where(c.campaign_id == campaign_id).order_by(c.seq)
        with mapped_errors(self._url, "reading measurements"), self._engine.connect() as conn:
            return [_measurement(row._mapping) for row in conn.execute(q)]

    def unreleased(self, campaign_id: str, after: datetime | None) -> UnreleasedResults | None:
        """The results committed after `after` (all when None) up to the last one committed
        now, counted per cell (UnreleasedResults); None when there are none. Two statements:
        the boundaries, then the rows up to the last boundary, read as plain tuples."""
        c = t.results.c
        where = [c.campaign_id == campaign_id]
        if after is not None:
            where.append(c.committed_at > after)
        bounds = select(func.min(c.committed_at), func.max(c.committed_at)).where(*where)
        with mapped_errors(self._url, "reading unreleased results"), \
                self._engine.connect() as conn:
            first, last = conn.execute(bounds).one()
            if last is None:
                return None
            where.append(c.committed_at <= last)
            q = select(c.patient_pid, c.region, c.site, c.age_band, c.sex, c.outcome,
                       c.category, c.reason).where(*where)
            raw = conn.execute(q).cursor  # plain strings: no per-row object
            persons: list[str] = []
            cells: Counter[Cell] = Counter()
            while chunk := raw.fetchmany(_CHUNK):
                persons += [row[0] for row in chunk]
                cells.update(row[1:] for row in chunk)
            distinct = set(persons)
            repeated = _repeated(persons, distinct)
            excluded: Counter[Cell] = Counter()
            seen: set[str] = set()
            for at in range(0, len(repeated), PAGE):  # a person's rows all in one page
                order = (q.where(c.patient_pid.in_(repeated[at:at + PAGE]))
                         .order_by(c.committed_at, c.study_pid, c.model_version))
                for row in conn.execute(order):
                    if row[0] in seen:
                        excluded[tuple(row[1:])] += 1
                    seen.add(row[0])
        return UnreleasedResults(distinct, cells - excluded, excluded.total(), as_utc(first),
                                 as_utc(last))

    def planned_regions(self, campaign_id: str) -> set[str]:
        """The regions the campaign's plan has shards in."""
        s = t.shards.c
        with mapped_errors(self._url, "reading the geography"), self._engine.connect() as conn:
            return {str(r) for r in conn.execute(select(s.region).distinct()
                                                 .where(s.campaign_id == campaign_id)).scalars()}

    def spent_of(self, persons: Iterable[str]) -> dict[str, float]:
        """The rho each of `persons` has spent so far (those with nothing spent absent):
        their results, looked up by pseudonym (an index), in the measured increments. The
        cost follows the persons asked for, not the store's results."""
        wanted = sorted(set(persons))
        if not wanted:
            return {}
        with mapped_errors(self._url, "reading the privacy budget spent"), \
                self._engine.connect() as conn:
            if not conn.execute(select(t.release_measurements.c.seq).limit(1)).first():
                return {}  # nothing measured anywhere: nobody has spent anything
            out: dict[str, float] = {}
            for at in range(0, len(wanted), _PERSONS):
                q = self._spent_query(t.results.c.patient_pid.in_(wanted[at:at + _PERSONS]))
                out.update((str(p), float(v)) for p, v in conn.execute(q))
            return out

    def spent_by_person(self) -> dict[str, float]:
        """The rho each patient pseudonym has spent, computed from the increments and the
        results: the sum, over every measured increment of every campaign they have a
        result in, of that increment's rho (a person counts once per increment).
        Pseudonyms with nothing spent are absent. Reads every result: `spent_of` asks for
        some persons only."""
        with mapped_errors(self._url, "reading the privacy budget spent"), \
                self._engine.connect() as conn:
            return {str(p): float(v) for p, v in conn.execute(self._spent_query())}

    @staticmethod
    def _spent_query(*where: Any) -> Any:
        """Per pseudonym (of the results `where` selects), the sum of rho over the measured
        increments it has a result in."""
        r, i, m = t.results.c, t.release_increments.c, t.release_measurements.c
        contributed = (
            select(r.patient_pid, i.campaign_id, i.seq).distinct()
            .join_from(t.results, t.release_increments,
                       (r.campaign_id == i.campaign_id) & (r.committed_at >= i.first_commit)
                       & (r.committed_at <= i.last_commit))
            .where(*where)
            .subquery())
        c = contributed.c
        q = (select(c.patient_pid, func.sum(m.rho))
             .join_from(contributed, t.release_measurements,
                        (c.campaign_id == m.campaign_id) & (c.seq == m.seq))
             .group_by(c.patient_pid))
        return q

    def measured_before(self, campaign_id: str, upto: datetime) -> int:
        """How many results committed at or before `upto` (to check an increment boundary)."""
        c = t.results.c
        q = select(func.count()).where(c.campaign_id == campaign_id, c.committed_at <= upto)
        with mapped_errors(self._url, "counting results"), self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def release_version(self) -> int:
        """How many measurements the store holds, every campaign's: read before the budget
        is, and given to `append_increment`, which refuses if another was stored since."""
        q = select(func.count()).select_from(t.release_measurements)
        with mapped_errors(self._url, "reading the release version"), \
                self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def append_increment(self, increment: ReleaseIncrement, measurement: ReleaseMeasurement,
                         cells: Iterable[BaseCell], *, version: int | None = None) -> None:
        """Store an increment, its measurement and its base in one transaction. BadInput if
        it is not the next increment of its campaign, or if `version` is given and another
        measurement (of any campaign) was stored since it was read: the budget that allowed
        this one was read before that measurement spent its persons' share."""
        campaign_id, seq = increment.campaign_id, increment.seq
        if measurement.seq != seq:
            raise ValueError(f"measurement of increment {measurement.seq} given for {seq}")
        c = t.release_increments.c
        with self.write_transaction("storing a release increment") as conn:
            last = conn.execute(select(func.max(c.seq)).where(c.campaign_id == campaign_id)
                                ).scalar()
            if (last or 0) + 1 != seq:
                raise BadInput(f"campaign {campaign_id!r}: increment {seq} is not the next one "
                               f"(the store holds up to {last or 0}); measure again")
            conn.execute(insert(t.release_increments).values(
                campaign_id=campaign_id, seq=seq, first_commit=increment.first_commit,
                last_commit=increment.last_commit, results=increment.results,
                excluded=increment.excluded, recoded=increment.recoded,
                created_at=increment.created_at))
            conn.execute(insert(t.release_measurements).values(
                campaign_id=campaign_id, seq=seq, mechanism=measurement.mechanism,
                levels=json.dumps(list(measurement.levels)),
                sensitivity=measurement.sensitivity, sigma=measurement.sigma,
                rho=measurement.rho, cells=measurement.cells,
                domain=json.dumps(measurement.domain, sort_keys=True)))
            batch: list[dict[str, Any]] = []
            for cell in cells:
                if cell.seq != seq or cell.count <= 0:
                    raise ValueError(f"base cell {cell} does not belong in increment {seq}")
                batch.append({"campaign_id": campaign_id, "seq": cell.seq, "level": cell.level,
                              "region": cell.region, "site": cell.site,
                              "age_band": cell.age_band, "sex": cell.sex,
                              "outcome": cell.outcome, "count": cell.count})
                if len(batch) >= PAGE:
                    conn.execute(insert(t.release_base), batch)
                    batch = []
            if batch:
                conn.execute(insert(t.release_base), batch)
            self._audit(conn, campaign_id, "release_measured",
                        {"increment": seq, "mechanism": measurement.mechanism,
                         "sigma": measurement.sigma, "rho": measurement.rho})
            if version is not None:
                # after the audit append: it holds the trail's lock to the commit, so two
                # measurements get here one after the other and the second sees the first
                stored = conn.execute(select(func.count()).select_from(
                    t.release_measurements)).scalar_one()
                if int(stored) - 1 != version:
                    raise BadInput(f"campaign {campaign_id!r}: another release measurement "
                                   "was stored while this one was computed, so its privacy "
                                   "budget check is stale; measure again")

    def release_base(self, campaign_id: str, seqs: Sequence[int]) -> list[BaseCell]:
        """The base cells of the given increments, in key order."""
        c = t.release_base.c
        q = (select(t.release_base)
             .where(c.campaign_id == campaign_id, c.seq.in_(sorted(set(seqs))))
             .order_by(c.seq, c.level, c.region, c.site, c.age_band, c.sex, c.outcome))
        with mapped_errors(self._url, "reading the release base"), self._engine.connect() as conn:
            return [BaseCell(int(m["seq"]), m["level"], m["region"], m["site"], m["age_band"],
                             m["sex"], m["outcome"], int(m["count"]))
                    for m in (row._mapping for row in conn.execute(q))]


def _increment(m: Any) -> ReleaseIncrement:
    return ReleaseIncrement(m["campaign_id"], int(m["seq"]), as_utc(m["first_commit"]),
                            as_utc(m["last_commit"]), int(m["results"]), int(m["excluded"]),
                            int(m["recoded"]), as_utc(m["created_at"]))


def _measurement(m: Any) -> ReleaseMeasurement:
    return ReleaseMeasurement(int(m["seq"]), m["mechanism"], tuple(json.loads(m["levels"])),
                              float(m["sensitivity"]), float(m["sigma"]), float(m["rho"]),
                              int(m["cells"]), json.loads(m["domain"]))
