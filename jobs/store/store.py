"""`ResultsStore`: campaigns, the shard ledger and one result per study, in SQLite or
PostgreSQL. The campaign driver is its only writer.

Exactly once: `commit_shard` marks the shard done and inserts its results in ONE
transaction, and only if the shard was still planned; results are keyed by (campaign,
study pseudonym, model version) and inserted with ON CONFLICT DO NOTHING, so a replayed
shard or study is never counted twice. Reads page through the tables by key, so no
connection is held between the pages a caller iterates.
"""

from __future__ import annotations

from pathlib import Path

from jobs.store import schema as t
from jobs.store.anchor import AuditKey
from jobs.store.audit import AuditLog
from jobs.store.campaigns import CampaignTable
from jobs.store.engine import absent_store, make_engine, mapped_errors
from jobs.store.ledger import ShardLedger
from jobs.store.migrate import ensure_schema, read_schema
from jobs.store.reading import ResultReads
from jobs.store.records import AuditEvent, Campaign, CampaignState, OutcomeCount, RegionLedger
from jobs.store.release import ReleaseStore
from jobs.store.tokens import TokenRegistry
from jobs.store.urls import normalize_url
from jobs.store.worklist import Worklist
from kernel.errors import BadInput

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignState",
    "OutcomeCount",
    "RegionLedger",
    "ResultsStore",
]


class ResultsStore(CampaignTable, ShardLedger, ResultReads, AuditLog, TokenRegistry,
                   ReleaseStore, Worklist):
    """The results store. Create with `ResultsStore.open(url)`; close when done.

    Its parts, one module each:

    - campaigns (`CampaignTable`, jobs.store.campaigns): create or match, read, set state;
    - the shard ledger (`ShardLedger`, jobs.store.ledger): the plan, commits exactly once;
    - reads (`ResultReads`, jobs.store.reading): results, progress and counts, paged;
    - the audit log (`AuditLog`, jobs.store.audit): events appended to the keyed chain
      (jobs.store.trail, jobs.store.chain; head anchored by jobs.store.anchor);
    - the service's tokens (`TokenRegistry`, jobs.store.tokens; MACs under
      jobs.store.tokenkey);
    - the analysts' release (`ReleaseStore`, jobs.store.release): increments, their
      measurements and base cells;
    - the reading worklist (`Worklist`, jobs.store.worklist): how tasks are drawn, the
      tasks and readers' decisions, append-only beside the results;

    over the shared engine and helpers (`StoreBase`, jobs.store.base; jobs.store.engine,
    with its URLs from jobs.store.urls), the tables (jobs.store.schema, created and migrated
    by jobs.store.migrate), their rows (jobs.store.rows; a screen's reading against its prior:
    jobs.store.round_rows) and what it returns
    (jobs.store.records). Beside it, not part of it: the driver lease (jobs.store.lease),
    the key check (jobs.store.keycheck) and the PostgreSQL roles (jobs.store.roles).
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
        create: bool = True,
    ) -> ResultsStore:
        """Open (creating or migrating the tables only if needed: a current store is opened
        with reads alone, so the driver's and service's roles, jobs.store.roles, can open
        it) the store at `url`: `sqlite:///PATH` (relative
        paths against `base_dir`, default cwd; parent folder created) or
        `postgresql://...` (mapped to psycopg 3). BadInput for an unusable URL or a store of
        another schema version; RetryableError when the server cannot be reached.
        `password` (read by the caller from a variable or file) replaces the URL's own.
        `audit_key` (jobs.store.anchor.AuditKey, from the state folder) is needed to append
        to the audit trail or verify it; a store opened without it only reads. `operator`
        (the CLI's OS account@host, jobs.spec.operator) is recorded on every event this
        store appends that names no operator or requester itself. `create=False` (every
        command that only reads) creates nothing and runs no DDL: a URL naming no store (no
        SQLite file; a database without lungscreen's tables) is BadInput naming the URL
        and how to create it, and a store of an older schema is BadInput too."""
        parsed = normalize_url(url, base_dir=base_dir)
        if password is not None:
            parsed = parsed.set(password=password)
        engine = make_engine(parsed, busy_timeout_s=busy_timeout_s, create=create)
        store = cls(engine, audit_key, operator)
        try:
            store._init_schema(create)
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

    def _init_schema(self, create: bool) -> None:
        # DDL and meta writes only when the schema is not current (jobs.store.migrate), and
        # never for a store opened to read (`create=False`)
        with mapped_errors(self._url, "opening the store"):
            if create:
                with self._writer.begin() as conn:
                    self._store_id, found = ensure_schema(conn)
            else:
                with self._engine.connect() as conn:
                    read = read_schema(conn)
                if read is None:
                    raise absent_store(self._url, "it holds no lungscreen tables")
                self._store_id, found = read
        if found != t.SCHEMA_VERSION:
            raise BadInput(
                f"store {self.url!r} has schema version {found}; expected "
                f"{t.SCHEMA_VERSION}: use another store URL or migrate it"
            )
