"""`ResultsStore`: campaigns, the shard ledger and one result per study, in SQLite or
PostgreSQL. The campaign driver is its only writer.

Exactly once: `commit_shard` marks the shard done and inserts its results in ONE
transaction, and only if the shard was still planned; results are keyed by (campaign,
study pseudonym, model version) and inserted with ON CONFLICT DO NOTHING, so a replayed
shard or study is never counted twice. Reads page through the tables by key, so no
connection is held between the pages a caller iterates.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    and_,
    func,
    insert,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from jobs.store import schema as t
from jobs.store.engine import WRITE, make_engine, mapped_errors
from jobs.store.records import AuditEvent, Campaign, CampaignState, OutcomeCount, RegionProgress
from jobs.store.rows import as_utc, result_from_row, result_to_row, shard_from_row, shard_to_row
from jobs.store.urls import normalize_url, redact
from kernel.errors import BadInput
from kernel.plans import PlanHasher, ShardPlan
from kernel.records import StudyResult

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignState",
    "OutcomeCount",
    "RegionProgress",
    "ResultsStore",
]

_PAGE = 1000


class ResultsStore:
    """The results store. Create with `ResultsStore.open(url)`; close when done."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._dialect = engine.dialect.name
        self._url = engine.url
        self.url = redact(engine.url)  # printable: password hidden

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str, *, base_dir: Path | None = None, busy_timeout_s: float = 30.0
    ) -> ResultsStore:
        """Open (creating tables if needed) the store at `url`: `sqlite:///PATH` (relative
        paths against `base_dir`, default cwd; parent folder created) or
        `postgresql://...` (mapped to psycopg 3). BadInput for an unusable URL or a store of
        another schema version; RetryableError when the server cannot be reached."""
        parsed = normalize_url(url, base_dir=base_dir)
        engine = make_engine(parsed, busy_timeout_s=busy_timeout_s)
        store = cls(engine)
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

    @contextlib.contextmanager
    def write_transaction(self, action: str) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), errors mapped as everywhere."""
        with mapped_errors(self._url, action), self._writer.begin() as conn:
            yield conn

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._dialect

    def _init_schema(self) -> None:
        with mapped_errors(self._url, "creating tables"), self._writer.begin() as conn:
            t.metadata.create_all(conn)
            columns = {c["name"] for c in inspect(conn).get_columns("campaigns")}
            if "key_fingerprint" not in columns:  # stores created before it existed
                conn.exec_driver_sql("ALTER TABLE campaigns ADD COLUMN key_fingerprint VARCHAR(32)")
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

    # ---- campaigns --------------------------------------------------------------------

    def ensure_campaign(
        self,
        campaign_id: str,
        *,
        spec_digest: str,
        model_name: str,
        model_version: str,
        key_fingerprint: str | None = None,
    ) -> Campaign:
        """The campaign, created in state running if new. BadInput if it exists with a
        different spec digest or model (a new campaign needs a new id), or was pseudonymised
        under another key (`Pseudonymizer.fingerprint()`; fail closed: a new key would
        change every pseudonym)."""
        now = _now()
        with mapped_errors(self._url, "creating a campaign"), self._writer.begin() as conn:
            self._insert_ignore(
                conn,
                t.campaigns,
                [
                    {
                        "id": campaign_id,
                        "spec_digest": spec_digest,
                        "model_name": model_name,
                        "model_version": str(model_version),
                        "state": CampaignState.RUNNING.value,
                        "key_fingerprint": key_fingerprint,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            camp = self._campaign(conn, campaign_id)
            assert camp is not None
            if camp.key_fingerprint is None and key_fingerprint is not None:
                conn.execute(
                    update(t.campaigns)
                    .where(t.campaigns.c.id == campaign_id)
                    .values(key_fingerprint=key_fingerprint)
                )
                camp = self._campaign(conn, campaign_id)
                assert camp is not None
        if key_fingerprint is not None and camp.key_fingerprint != key_fingerprint:
            raise BadInput(
                f"campaign {campaign_id!r} was pseudonymised under the key with fingerprint "
                f"{camp.key_fingerprint}, but the key given has fingerprint {key_fingerprint}: "
                "restore the deployment's original key file (privacy.key_file); a new key "
                "would change every pseudonym"
            )
        for field, want in (
            ("spec_digest", spec_digest),
            ("model_name", model_name),
            ("model_version", str(model_version)),
        ):
            have = getattr(camp, field)
            if have != want:
                raise BadInput(
                    f"campaign {campaign_id!r} already exists with {field} {have!r}, not "
                    f"{want!r}; resume it with its original spec, or give the new campaign "
                    "a new id"
                )
        return camp

    def campaign(self, campaign_id: str) -> Campaign | None:
        with mapped_errors(self._url, "reading a campaign"), self._engine.connect() as conn:
            return self._campaign(conn, campaign_id)

    def campaigns(self) -> list[Campaign]:
        """Every campaign in the store, oldest first."""
        with mapped_errors(self._url, "listing campaigns"), self._engine.connect() as conn:
            rows = conn.execute(select(t.campaigns).order_by(t.campaigns.c.created_at))
            return [_campaign_from_row(r._mapping) for r in rows]

    def set_state(self, campaign_id: str, state: CampaignState) -> None:
        """Set the campaign's state (and log it to the audit table). BadInput if unknown."""
        state = CampaignState(state)
        with mapped_errors(self._url, "setting campaign state"), self._writer.begin() as conn:
            res = conn.execute(
                update(t.campaigns)
                .where(t.campaigns.c.id == campaign_id)
                .values(state=state.value, updated_at=_now())
            )
            if res.rowcount == 0:
                raise self._unknown(conn, campaign_id)
            self._audit(conn, campaign_id, "state", {"state": state.value})

    # ---- the ledger -------------------------------------------------------------------

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
                    if len(batch) >= _PAGE:
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
                    updated_at=_now(),
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
        now = _now()
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
        now = _now()
        rows = [result_to_row(campaign_id, r, None, now) for r in results]
        if not rows:
            return 0
        with mapped_errors(self._url, "committing results"), self._writer.begin() as conn:
            return self._insert_ignore(conn, t.results, rows)

    # ---- reading ----------------------------------------------------------------------

    def results(self, campaign_id: str) -> Iterator[StudyResult]:
        """Every stored result of the campaign, in (study pid, model version) order."""
        c = t.results.c
        yield from self._paged(
            select(t.results).where(c.campaign_id == campaign_id),
            (c.study_pid, c.model_version),
            result_from_row,
            "reading results",
        )

    def progress(self, campaign_id: str) -> dict[str, RegionProgress]:
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
        out: dict[str, RegionProgress] = {}
        for region, planned, n_done, studies, studies_done in ledger:
            out[region] = RegionProgress(
                region,
                int(planned),
                int(n_done),
                int(studies),
                int(studies_done),
                int(early.pop(region, 0)),
            )
        for region, n in early.items():
            out[region] = RegionProgress(region, 0, 0, 0, 0, int(n))
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

    # ---- audit ------------------------------------------------------------------------

    def audit(self, campaign_id: str | None, kind: str, **detail: str | int | float) -> None:
        """Append an audit event (e.g. kind="recall_export"). `detail` must hold no PHI."""
        with mapped_errors(self._url, "writing the audit log"), self._writer.begin() as conn:
            self._audit(conn, campaign_id, kind, detail)

    def events(self, campaign_id: str | None = None) -> list[AuditEvent]:
        """Audit events, oldest first (all campaigns when campaign_id is None)."""
        q = select(t.events).order_by(t.events.c.id)
        if campaign_id is not None:
            q = q.where(t.events.c.campaign_id == campaign_id)
        with mapped_errors(self._url, "reading the audit log"), self._engine.connect() as conn:
            return [
                AuditEvent(as_utc(m["at"]), m["campaign_id"], m["kind"], json.loads(m["detail"]))
                for m in (row._mapping for row in conn.execute(q))
            ]

    # ---- helpers ----------------------------------------------------------------------

    def _paged(self, query: Any, key: tuple[Any, ...], convert: Any, action: str) -> Iterator[Any]:
        last: tuple[Any, ...] | None = None
        while True:
            q = query.order_by(*key).limit(_PAGE)
            if last is not None:
                q = q.where(tuple_(*key) > tuple_(*last))
            with mapped_errors(self._url, action), self._engine.connect() as conn:
                rows = [row._mapping for row in conn.execute(q)]
            for m in rows:
                yield convert(m)
            if len(rows) < _PAGE:
                return
            last = tuple(rows[-1][col.name] for col in key)

    def _insert_ignore(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        # RETURNING yields only the rows actually inserted (conflicts are skipped), which
        # counts reliably for executemany, unlike rowcount.
        first_key = next(iter(table.primary_key.columns))
        stmt = dialect_insert(table).on_conflict_do_nothing().returning(first_key)
        return len(conn.execute(stmt, rows).all())

    def _campaign(
        self, conn: Connection, campaign_id: str, *, for_update: bool = False
    ) -> Campaign | None:
        q = select(t.campaigns).where(t.campaigns.c.id == campaign_id)
        if for_update and self._dialect == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        return None if row is None else _campaign_from_row(row._mapping)

    def _unknown(self, conn: Connection, campaign_id: str) -> BadInput:
        known = conn.execute(select(t.campaigns.c.id).order_by(t.campaigns.c.id)).scalars()
        names = ", ".join(known) or "none"
        return BadInput(f"unknown campaign {campaign_id!r}; the store holds: {names}")

    def _audit(
        self, conn: Connection, campaign_id: str | None, kind: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(t.events).values(
                campaign_id=campaign_id, at=_now(), kind=kind, detail=json.dumps(detail)
            )
        )


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


def _campaign_from_row(m: Any) -> Campaign:
    return Campaign(
        id=m["id"],
        spec_digest=m["spec_digest"],
        model_name=m["model_name"],
        model_version=m["model_version"],
        state=CampaignState(m["state"]),
        plan_digest=m["plan_digest"],
        shard_count=m["shard_count"],
        study_count=m["study_count"],
        key_fingerprint=m["key_fingerprint"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
    )


def _now() -> datetime:
    return datetime.now(UTC)
