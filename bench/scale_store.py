"""What `lungscreen bench scale` checks in the store after a run: every study of the
sources committed exactly once (lost, doubled), and the store's size.

Lost and doubled are counted against the sources themselves: each generated study's
pseudonym is derived from its identities with the campaign's key, as intake derives it,
and compared with the study pseudonyms of the stored results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from jobs.ingest.privacy import Pseudonymizer
from jobs.ingest.sources import SyntheticSource
from jobs.store import ResultsStore

__all__ = ["Ledger", "count_against_sources", "store_bytes"]


@dataclass(frozen=True)
class Ledger:
    """`lost`: studies of the sources with no result; `doubled`: results beyond one per
    study; `foreign`: results of studies no source holds; `results`: results stored."""

    results: int
    lost: int
    doubled: int
    foreign: int


def count_against_sources(store: ResultsStore, campaign_id: str, key: bytes,
                          sources: Iterable[SyntheticSource]) -> Ledger:
    """Compare the campaign's stored results with the studies `sources` generate."""
    pseudonyms = Pseudonymizer(key)
    expected = {pseudonyms.study(s.patient_id, s.study_uid)
                for source in sources for s in source.all_studies()}
    stored = Counter(r.study_pid for r in store.results(campaign_id))
    return Ledger(
        results=sum(stored.values()),
        lost=len(expected - stored.keys()),
        doubled=sum(n - 1 for n in stored.values() if n > 1),
        foreign=len(stored.keys() - expected),
    )


def store_bytes(url: str, password: str | None = None) -> int:
    """The store's size on disk: a SQLite file with its WAL, or a PostgreSQL store's tables
    (indexes and TOAST included; not the empty database's own ~7 MB of catalogs)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    engine = sa.create_engine(sa.engine.make_url(url).set(password=password))
    try:
        with engine.connect() as conn:  # the store's tables with their indexes and TOAST
            size = conn.execute(sa.text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()"
            )).scalar()
        return int(size or 0)
    finally:
        engine.dispose()
