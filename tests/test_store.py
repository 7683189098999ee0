"""The results store on SQLite and on a real PostgreSQL 15: ledger, exactly-once commits,
reads, progress, audit, and errors mapped at the seam."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from jobs.store import CampaignState, ResultsStore
from kernel.errors import BadInput, RetryableError
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult
from kernel.roles import Role
from kernel.worklist import Action, WorklistPlan
from tests.store_helpers import audit_key, plan, result_for, results_for, token_key


@pytest.fixture
def store(store_url: str):
    with ResultsStore.open(store_url, audit_key=audit_key()) as s:
        yield s


def _campaign(store: ResultsStore, cid: str = "c1", version: str = "1") -> None:
    store.ensure_campaign(
        cid, spec_digest="d" * 64, model_name="lung_nodule_detector", model_version=version
    )


def test_plan_commit_read_round_trip(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(10, shard_size=4)
    assert store.record_plan("c1", iter(shards)) is True
    assert [s.shard_id for s in store.pending_shards("c1")] == [s.shard_id for s in shards]
    assert list(store.pending_shards("c1")) == shards

    first = shards[0]
    expected = results_for(first)
    assert store.commit_shard("c1", first.shard_id, expected) is True
    got = list(store.results("c1"))
    assert sorted(got, key=lambda r: r.study_pid) == sorted(expected, key=lambda r: r.study_pid)
    assert got[0].timings == {"load": 0.25, "infer": 1.5, "postprocess": 0.01}
    assert first not in list(store.pending_shards("c1"))


def test_replayed_commit_changes_nothing(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(8, shard_size=4)
    store.record_plan("c1", shards)
    assert store.commit_shard("c1", shards[0].shard_id, results_for(shards[0])) is True
    # a replay, even with different timings, is ignored
    again = [
        StudyResult(**{**r.__dict__, "timings": {"load": 9.0}}) for r in results_for(shards[0])
    ]
    assert store.commit_shard("c1", shards[0].shard_id, again) is False
    stored = list(store.results("c1"))
    assert len(stored) == shards[0].study_count
    assert all(r.timings["load"] == 0.25 for r in stored)


def test_commit_must_cover_exactly_the_planned_studies(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(8, shard_size=4)
    store.record_plan("c1", shards)
    partial = results_for(shards[0])[:-1]
    with pytest.raises(ValueError, match="1 missing"):
        store.commit_shard("c1", shards[0].shard_id, partial)
    stranger = [*partial, result_for("f" * 20, shards[0].region)]
    with pytest.raises(ValueError, match="1 not in the shard"):
        store.commit_shard("c1", shards[0].shard_id, stranger)
    # nothing of the failed commits stuck: the shard is still pending, no results
    assert shards[0] in list(store.pending_shards("c1"))
    assert list(store.results("c1")) == []
    with pytest.raises(BadInput, match="no shard"):
        store.commit_shard("c1", "north-99999", [])


def test_record_plan_idempotent_and_rejects_a_different_plan(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(12, shard_size=4)
    assert store.record_plan("c1", shards) is True
    assert store.record_plan("c1", shards) is False
    with pytest.raises(BadInput, match=r"already has a plan of 4 shards / 12 studies"):
        store.record_plan("c1", plan(13, shard_size=4))
    with pytest.raises(BadInput, match="unknown campaign 'nope'; the store holds: c1"):
        store.record_plan("nope", shards)
    assert len(list(store.pending_shards("c1"))) == len(shards)


def test_ensure_campaign_checks_spec_and_model(store: ResultsStore) -> None:
    _campaign(store)
    _campaign(store)  # same again: fine
    with pytest.raises(BadInput, match="model_version '1', not '2'"):
        _campaign(store, version="2")
    with pytest.raises(BadInput, match="spec_digest"):
        store.ensure_campaign("c1", spec_digest="e" * 64, model_name="lung_nodule_detector",
                              model_version="1")  # fmt: skip


def test_progress_counts_shards_and_early_results(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(10, shard_size=2)  # north: 5 studies -> 3 shards, south: 5 -> 3
    store.record_plan("c1", shards)
    north = [s for s in shards if s.region == "north"]
    store.commit_shard("c1", north[0].shard_id, results_for(north[0]))
    early = StudyResult(**{**result_for("e" * 20, "south").__dict__,
                           "outcome": Outcome.OPTED_OUT, "category": None, "nodules": (),
                           "reason": Reason.OPTED_OUT})  # fmt: skip
    assert store.commit_results("c1", [early]) == 1
    assert store.commit_results("c1", [early]) == 0
    prog = store.progress("c1")
    assert list(prog) == ["north", "south"]
    assert (prog["north"].shards_planned, prog["north"].shards_done) == (3, 1)
    assert (prog["north"].studies_planned, prog["north"].studies_done) == (5, 2)
    assert (prog["south"].shards_done, prog["south"].studies_settled_early) == (0, 1)


def test_results_are_keyed_by_model_version(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(4, shard_size=4)
    store.record_plan("c1", shards)
    store.commit_shard("c1", shards[0].shard_id, results_for(shards[0]))
    # the same studies under another model version are different results
    other = results_for(shards[0], version="2")
    assert store.commit_results("c1", other) == len(other)
    assert len(list(store.results("c1"))) == 2 * len(other)


def test_results_page_through_large_campaigns(store: ResultsStore) -> None:
    _campaign(store)
    shards = plan(2500, shard_size=500)
    store.record_plan("c1", shards)
    for s in shards:
        store.commit_shard("c1", s.shard_id, results_for(s))
    pids = [r.study_pid for r in store.results("c1")]
    assert len(pids) == len(set(pids)) == 2500
    assert pids == sorted(pids)


def test_state_campaigns_attempts_and_audit(store: ResultsStore) -> None:
    _campaign(store)
    store.record_plan("c1", plan(4))
    assert [c.state for c in store.campaigns()] == [CampaignState.RUNNING]
    store.set_state("c1", CampaignState.PAUSED)
    camp = store.campaign("c1")
    assert camp is not None and camp.state is CampaignState.PAUSED
    assert camp.shard_count == 2 and camp.study_count == 4 and camp.plan_digest
    with pytest.raises(BadInput, match="unknown campaign"):
        store.set_state("zzz", CampaignState.DONE)
    shard_id = next(store.pending_shards("c1")).shard_id
    assert [store.mark_attempt("c1", shard_id) for _ in range(3)] == [1, 2, 3]
    store.audit("c1", "recall_export", rows=3, min_category="4A")
    events = store.events("c1")
    assert [(e.kind, e.detail) for e in events] == [
        ("state", {"state": "paused"}),
        ("recall_export", {"rows": 3, "min_category": "4A"}),
    ]


def test_concurrent_commits_of_one_shard_count_once(store_url: str) -> None:
    with ResultsStore.open(store_url) as a, ResultsStore.open(store_url) as b:
        _campaign(a)
        shards = plan(8, shard_size=8)
        a.record_plan("c1", shards)
        barrier = threading.Barrier(2)
        outcomes: list[bool] = []

        def commit(s: ResultsStore) -> None:
            barrier.wait()
            outcomes.append(s.commit_shard("c1", shards[0].shard_id, results_for(shards[0])))

        threads = [threading.Thread(target=commit, args=(s,)) for s in (a, b)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(outcomes) == [False, True]
        assert len(list(a.results("c1"))) == shards[0].study_count == 4


def test_sqlite_store_is_durable_and_creates_its_folder(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "results.db"
    with ResultsStore.open("sqlite:///deep/er/results.db", base_dir=tmp_path) as s:
        _campaign(s)
        with s._engine.connect() as conn:  # the pragmas every connection gets
            pragmas = {
                p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    assert db.exists()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                       "busy_timeout": 30000}  # fmt: skip


def test_locked_sqlite_is_retryable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/results.db"
    with ResultsStore.open(url, busy_timeout_s=0.2) as s:
        _campaign(s)
        shards = plan(4)
        s.record_plan("c1", shards)
        other = sqlite3.connect(tmp_path / "results.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(RetryableError, match="database is locked; retry later"):
                s.commit_shard("c1", shards[0].shard_id, results_for(shards[0]))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert s.commit_shard("c1", shards[0].shard_id, results_for(shards[0])) is True


@pytest.mark.integration
def test_unreachable_postgres_is_retryable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError, match="unavailable while opening the store") as info:
        ResultsStore.open(f"postgresql://u:hunter2@127.0.0.1:{port}/db", busy_timeout_s=2)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:pw@h/db", "uses 'mysql'; expected sqlite:///PATH or postgresql://"),
        ("sqlite://", "names no database file"),
        ("postgresql+psycopg2://h/db", "driver 'psycopg2' is not supported"),
        ("not a url", "is not a database URL"),
        ("sqlite:////proc/nope/results.db", "cannot create the folder"),
    ],
)
def test_bad_store_urls(url: str, message: str) -> None:
    with pytest.raises(BadInput, match=message) as info:
        ResultsStore.open(url)
    assert "pw@" not in str(info.value)


def test_postgres_url_spellings_map_to_psycopg3() -> None:
    from jobs.store import normalize_url

    for url in ("postgresql://u@h:5/db", "postgres://u@h:5/db", "postgresql+psycopg://u@h:5/db"):
        assert normalize_url(url).drivername == "postgresql+psycopg"


def _release_increment() -> tuple[Any, Any, list[Any]]:
    from jobs.store.release import BaseCell, ReleaseIncrement, ReleaseMeasurement

    now = datetime.now(UTC)
    return (ReleaseIncrement("c1", 1, now, now, 1, 0, 0, now),
            ReleaseMeasurement(1, "discrete_gaussian", ("campaign",), 1.0, 1.0, 0.5, 1, {}),
            [BaseCell(1, "campaign", "", "", "60-64", "F", "category.1", 1)])


def test_every_public_method_maps_database_errors(tmp_path: Path) -> None:
    """A store whose file turned into garbage: every call fails with a LungscreenError
    (never a raw SQLAlchemy/sqlite3 error)."""
    from kernel.errors import LungscreenError
    from kernel.plans import ShardPlan

    db = tmp_path / "results.db"
    store = ResultsStore.open(f"sqlite:///{db}")
    shards = plan(4)
    _campaign(store)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 200)
    broken = ResultsStore(store._engine, audit_key())
    calls = {
        "ensure_campaign": lambda: broken.ensure_campaign(
            "c1", spec_digest="d", model_name="m", model_version="1"
        ),
        "campaign": lambda: broken.campaign("c1"),
        "campaigns": broken.campaigns,
        "declared_sites": lambda: broken.declared_sites("c1"),
        "set_state": lambda: broken.set_state("c1", CampaignState.DONE),
        "record_plan": lambda: broken.record_plan("c1", shards),
        "pending_shards": lambda: list(broken.pending_shards("c1")),
        "mark_attempt": lambda: broken.mark_attempt("c1", shards[0].shard_id),
        "commit_shard": lambda: broken.commit_shard(
            "c1", shards[0].shard_id, results_for(shards[0])
        ),
        "commit_results": lambda: broken.commit_results("c1", results_for(shards[0])),
        "results": lambda: list(broken.results("c1")),
        "results_of_persons": lambda: list(broken.results_of_persons(["c1"], ["p1"])),
        "progress": lambda: broken.progress("c1"),
        "outcome_counts": lambda: broken.outcome_counts("c1"),
        "commit_span": lambda: broken.commit_span("c1"),
        "audit": lambda: broken.audit("c1", "x"),
        "events": lambda: broken.events("c1"),
        "verify_trail": broken.verify_trail,
        "verify_head": broken.verify_head,
        "write_transaction": lambda: _select_one(broken.write_transaction("reading")),
        "create_token": lambda: broken.create_token("t1", Role.OPS, key=token_key()),
        "identify": lambda: broken.identify("ls_" + "0" * 32 + "_" + "A" * 43, token_key()),
        "tokens": broken.tokens,
        "revoke_token": lambda: broken.revoke_token("t1", token_key()),
        "increments": lambda: broken.increments("c1"),
        "measurements": lambda: broken.measurements("c1"),
        "unreleased": lambda: broken.unreleased("c1", None),
        "planned_regions": lambda: broken.planned_regions("c1"),
        "measured_before": lambda: broken.measured_before("c1", datetime.now(UTC)),
        "spent_by_person": broken.spent_by_person,
        "spent_of": lambda: broken.spent_of(["p1"]),
        "release_version": broken.release_version,
        "append_increment": lambda: broken.append_increment(*_release_increment()),
        "release_base": lambda: broken.release_base("c1", [1]),
        "worklist_plan": lambda: broken.worklist_plan("c1"),
        "record_worklist": lambda: broken.record_worklist(
            "c1", WorklistPlan(Category.PROBABLY_BENIGN, 0.05, 1), []),
        "reading_tasks": lambda: broken.reading_tasks("c1"),
        "record_decision": lambda: broken.record_decision(
            "c1", "s1", action=Action.CONFIRM, category=Category.NEGATIVE, reader="r"),
        "decisions": lambda: broken.decisions("c1"),
        "confirmed": lambda: broken.confirmed("c1"),
    }
    public = {n for n in dir(ResultsStore) if not n.startswith("_") and callable(
        getattr(ResultsStore, n)) and n not in ("open", "close")}  # fmt: skip
    assert public == set(calls), "a public method is not covered by this test"
    for name, call in calls.items():
        with pytest.raises(LungscreenError) as info:
            call()
        assert "not a database" in str(info.value), name
    assert isinstance(shards[0], ShardPlan)
    broken.close()


def test_a_campaign_never_continues_under_another_key(store: ResultsStore) -> None:
    from jobs.ingest.privacy import Pseudonymizer

    first, other = Pseudonymizer(bytes(32)).fingerprint(), Pseudonymizer(b"k" * 32).fingerprint()
    args = {"spec_digest": "d", "model_name": "m", "model_version": "1"}
    assert store.ensure_campaign("c1", **args, key_fingerprint=first).key_fingerprint == first
    assert store.ensure_campaign("c1", **args).key_fingerprint == first  # not checked
    with pytest.raises(BadInput, match=f"fingerprint {first}, but the key given has "
                                       f"fingerprint {other}: restore"):  # fmt: skip
        store.ensure_campaign("c1", **args, key_fingerprint=other)
    # a campaign created without one adopts the first fingerprint it is given
    store.ensure_campaign("c2", **args)
    assert store.ensure_campaign("c2", **args, key_fingerprint=other).key_fingerprint == other


def test_store_from_before_key_fingerprints_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/results.db"
    with ResultsStore.open(url) as s:
        _campaign(s)
    raw = sqlite3.connect(tmp_path / "results.db")
    raw.execute("ALTER TABLE campaigns DROP COLUMN key_fingerprint")
    raw.commit()
    raw.close()
    with ResultsStore.open(url) as s:
        camp = s.ensure_campaign(
            "c1", spec_digest="d" * 64, model_name="lung_nodule_detector", model_version="1",
            key_fingerprint="abc",
        )  # fmt: skip
        assert camp.key_fingerprint == "abc"


def test_a_store_without_the_person_index_is_read_as_is_and_indexed_by_a_writer(tmp_path):
    url = f"sqlite:///{tmp_path}/results.db"
    with ResultsStore.open(url) as s:
        _campaign(s)
    raw = sqlite3.connect(tmp_path / "results.db")
    raw.execute("DROP INDEX ix_results_patient")
    raw.commit()
    with ResultsStore.open(url, create=False) as s:  # a reader: no DDL, still answers
        assert s.spent_of(["p1"]) == {}
    assert "ix_results_patient" not in {r[0] for r in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    with ResultsStore.open(url):
        pass
    assert "ix_results_patient" in {r[0] for r in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    raw.close()


def _select_one(transaction: contextlib.AbstractContextManager[Connection]) -> None:
    with transaction as conn:
        conn.exec_driver_sql("SELECT 1")


def test_a_new_sqlite_store_is_private_from_creation(tmp_path, caplog):
    import os
    import stat

    os.umask(0o022)
    url = f"sqlite:///{tmp_path / 'data' / 'results.db'}"
    with ResultsStore.open(url) as s:
        s.ensure_campaign("c", spec_digest="0" * 64, model_name="m", model_version="1")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "data").iterdir()}
    assert {"results.db", "results.db-wal"} <= set(modes)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert set(modes.values()) == {0o600}, modes  # the database, its WAL and shm files
    open_db = tmp_path / "open.db"
    open_db.touch(mode=0o644)
    with caplog.at_level("WARNING"), ResultsStore.open(f"sqlite:///{open_db}"):
        pass
    assert "readable by other users" in caplog.text and "chmod 600" in caplog.text


def test_the_store_says_what_its_parts_are():
    """ResultsStore's docstring names each part it is made of and every module of the store."""
    doc = ResultsStore.__doc__ or ""
    parts = [c.__name__ for c in ResultsStore.__mro__[1:] if c.__module__.startswith("jobs.")]
    folder = Path(sys.modules[ResultsStore.__module__].__file__ or "").parent
    modules = [f"jobs.store.{p.stem}" for p in folder.glob("*.py")
               if p.stem not in ("__init__", "store")]
    assert len(parts) >= 6 and len(modules) >= 19
    assert [p for p in parts if f"`{p}`" not in doc] == []
    assert [m for m in modules if m not in doc] == []
