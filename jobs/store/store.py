"""`ResultsStore`: campaigns, the shard ledger and one result per study, in SQLite or
PostgreSQL. The campaign driver is its only writer.

Exactly once: `commit_shard` marks the shard done and inserts its results in ONE
transaction, and only if the shard was still planned; results are keyed by (campaign,
study pseudonym, model version) and inserted with ON CONFLICT DO NOTHING, so a replayed
shard or study is never counted twice. Reads page through the tables by key, so no
connection is held between the pages a caller iterates.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import inspect, select

from jobs.store import schema as t
from jobs.store.anchor import AuditKey
from jobs.store.audit import AuditLog
from jobs.store.campaigns import CampaignTable
from jobs.store.engine import make_engine, mapped_errors
from jobs.store.ledger import ShardLedger
from jobs.store.reading import ResultReads
from jobs.store.records import AuditEvent, Campaign, CampaignState, OutcomeCount, RegionProgress
from jobs.store.release import ReleaseStore
from jobs.store.tokens import TokenRegistry
from jobs.store.urls import normalize_url
from kernel.errors import BadInput

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignState",
    "OutcomeCount",
    "RegionProgress",
    "ResultsStore",
]


class ResultsStore(CampaignTable, ShardLedger, ResultReads, AuditLog, TokenRegistry,
                   ReleaseStore):
    """The results store. Create with `ResultsStore.open(url)`; close when done.

    Its parts, one module each: campaigns (jobs.store.campaigns), the shard ledger
    (jobs.store.ledger), reads (jobs.store.reading), the audit log (jobs.store.audit), the
    analysts' release (jobs.store.release), over the shared engine and helpers
    (jobs.store.base).
    """

    @classmethod
    def open(
        cls,
        url: str,
        *,
        base_dir: Path | None = None,
        busy_timeout_s: float = 30.0,
        password: str | None = None,
        audit_key: AuditKey | None = None,
        operator: str | None = None,
    ) -> ResultsStore:
        """Open (creating tables if needed) the store at `url`: `sqlite:///PATH` (relative
        paths against `base_dir`, default cwd; parent folder created) or
        `postgresql://...` (mapped to psycopg 3). BadInput for an unusable URL or a store of
        another schema version; RetryableError when the server cannot be reached.
        `password` (read by the caller from a variable or file) replaces the URL's own.
        `audit_key` (jobs.store.anchor.AuditKey, from the state folder) is needed to append
        to the audit trail or verify it; a store opened without it only reads. `operator`
        (the CLI's OS account@host, jobs.spec.operator) is recorded on every event this
        store appends that names no operator or requester itself."""
        parsed = normalize_url(url, base_dir=base_dir)
        if password is not None:
            parsed = parsed.set(password=password)
        engine = make_engine(parsed, busy_timeout_s=busy_timeout_s)
        store = cls(engine, audit_key, operator)
        try:
            store._init_schema()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _init_schema(self) -> None:
        with mapped_errors(self._url, "creating tables"), self._writer.begin() as conn:
            t.metadata.create_all(conn)
            columns = {c["name"] for c in inspect(conn).get_columns("campaigns")}
            if "key_fingerprint" not in columns:  # stores created before it existed
                conn.exec_driver_sql("ALTER TABLE campaigns ADD COLUMN key_fingerprint VARCHAR(32)")
            if "seq" not in {c["name"] for c in inspect(conn).get_columns("events")}:
                # stores created before the audit chain: their events are sealed into it by
                # the first append (jobs.store.trail)
                conn.exec_driver_sql("ALTER TABLE events ADD COLUMN seq INTEGER")
                conn.exec_driver_sql("ALTER TABLE events ADD COLUMN mac VARCHAR(64)")
                conn.exec_driver_sql("CREATE UNIQUE INDEX ix_events_seq ON events (seq)")
            if "mac" not in {c["name"] for c in inspect(conn).get_columns("tokens")}:
                # stores created before minted tokens: their rows have no MAC and are
                # refused until created again with the token key (jobs.store.tokenkey)
                conn.exec_driver_sql("ALTER TABLE tokens ADD COLUMN mac VARCHAR(64)")
            if "campaigns" not in {c["name"] for c in inspect(conn).get_columns("tokens")}:
                # stores created before scoped tokens: every row unscoped (NULL), as its MAC says
                conn.exec_driver_sql("ALTER TABLE tokens ADD COLUMN campaigns VARCHAR(2048)")
            self._insert_ignore(conn, t.meta, [{"key": "store_id", "value": uuid.uuid4().hex}])
            self._store_id = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "store_id")).scalar_one()
            found = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "schema_version")
            ).scalar()
            if found is None:
                self._insert_ignore(conn, t.meta, [{"key": "schema_version", "value": "1"}])
            elif found != t.SCHEMA_VERSION:
                raise BadInput(
                    f"store {self.url!r} has schema version {found}; expected "
                    f"{t.SCHEMA_VERSION}: use another store URL or migrate it"
                )
