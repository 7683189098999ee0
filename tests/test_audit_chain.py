"""The store's audit trail, tampered with as someone who can write the store (but does not
hold the audit key) would: each case names the first bad seq and what is wrong."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from jobs.store import AuditKey, CampaignState, ResultsStore
from jobs.store.chain import event_mac
from jobs.store.rows import as_utc
from jobs.store.trail import TrailBroken
from kernel.errors import BadInput


@pytest.fixture
def key(tmp_path: Path) -> AuditKey:
    return AuditKey.load(tmp_path / "state")


@pytest.fixture
def store(store_url: str, key: AuditKey) -> Iterator[ResultsStore]:
    with ResultsStore.open(store_url, audit_key=key) as s:
        s.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        for i in range(3):
            s.audit("c1", "api_request", who="alice", route="/api/v1/x", status=200, n=i)
        s.set_state("c1", CampaignState.PAUSED)
        s.audit(None, "token_created", name="bob", role="analyst")
        s.audit("c1", "recall_export", operator="carol", count=2)
        yield s


def _sql(store: ResultsStore, *statements: str, **params: object) -> None:
    with store._engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql), params)


def _broken(store: ResultsStore, *, at_head: bool = False) -> tuple[int, str]:
    """The first break `verify` names; `at_head`: the export guard's head check (from the
    anchor on) names it too."""
    check = store.verify_trail()
    assert check.problem is not None, "tampering went unnoticed"
    if at_head:
        with pytest.raises(TrailBroken, match=f"seq {check.problem.seq}"):
            store.verify_head()
    return check.problem.seq, check.problem.problem


def test_an_intact_trail_verifies(store: ResultsStore, key: AuditKey) -> None:
    check = store.verify_trail()
    assert check.ok and check.events == 6
    assert check.head == check.anchor == key.read_anchor(store._engine.url)
    assert [e.seq for e in store.events()] == [1, 2, 3, 4, 5, 6]
    assert store.verify_head() == check.head


def test_an_edited_event(store: ResultsStore) -> None:
    _sql(store, "UPDATE events SET detail = :d WHERE seq = 3", d='{"who":"mallory"}')
    seq, problem = _broken(store)
    assert seq == 3 and "edited" in problem


def test_an_edited_operator_in_place_keeps_the_json_valid(store: ResultsStore) -> None:
    _sql(store, "UPDATE events SET detail = REPLACE(detail, 'carol', 'dave') WHERE seq = 6")
    assert _broken(store, at_head=True)[0] == 6


def test_a_removed_event(store: ResultsStore) -> None:
    _sql(store, "DELETE FROM events WHERE seq = 2")
    seq, problem = _broken(store)
    assert seq == 2 and "removed" in problem


def test_reordered_events(store: ResultsStore) -> None:
    _sql(store, "UPDATE events SET seq = -1 WHERE seq = 3",
         "UPDATE events SET seq = 3 WHERE seq = 4", "UPDATE events SET seq = 4 WHERE seq = -1")
    seq, problem = _broken(store)
    assert seq == 3 and "reordered" in problem


def test_an_inserted_event_with_the_later_ones_renumbered(store: ResultsStore) -> None:
    _sql(store, "UPDATE events SET seq = seq + 100 WHERE seq >= 3",
         "UPDATE events SET seq = seq - 99 WHERE seq >= 100",
         "INSERT INTO events (campaign_id, at, kind, detail, seq, mac) VALUES "
         "('c1', (SELECT at FROM events WHERE seq = 2), 'api_request', '{}', 3, :m)",
         m="ab" * 32)
    seq, problem = _broken(store)
    assert seq == 3 and "inserted" in problem


def test_an_inserted_event_without_a_sequence_number(store: ResultsStore) -> None:
    _sql(store, "INSERT INTO events (campaign_id, at, kind, detail) VALUES "
         "('c1', (SELECT at FROM events WHERE seq = 2), 'api_request', '{}')")
    seq, problem = _broken(store, at_head=True)
    assert seq == 7 and "without a sequence number" in problem


def test_a_truncated_tail(store: ResultsStore) -> None:
    _sql(store, "DELETE FROM events WHERE seq >= 5")
    seq, problem = _broken(store, at_head=True)
    assert seq == 5 and "truncated" in problem


def test_an_emptied_log(store: ResultsStore) -> None:
    _sql(store, "DELETE FROM events")
    seq, problem = _broken(store, at_head=True)
    assert seq == 1 and "emptied" in problem


def test_a_cut_tail_stays_visible_after_more_appends(store: ResultsStore, key: AuditKey) -> None:
    anchored = key.read_anchor(store._engine.url)
    _sql(store, "DELETE FROM events WHERE seq >= 4")
    for i in range(5):  # the service keeps appending past the anchored seq
        store.audit("c1", "api_request", who="alice", n=10 + i)
    assert key.read_anchor(store._engine.url) == anchored  # never moved onto the new chain
    seq, problem = _broken(store, at_head=True)
    assert seq == 6 and "not the one anchored" in problem


@pytest.mark.parametrize("how", ["another key", "plain sha256"])
def test_a_chain_recomputed_without_the_key(store: ResultsStore, how: str) -> None:
    """Rewrite an operator from seq 2 on and recompute every MAC after it."""
    with store._engine.begin() as conn:
        rows = conn.execute(text("SELECT id, seq, at, campaign_id, kind, detail, mac FROM events "
                                 "ORDER BY seq")).all()
        prev = rows[0].mac
        for r in rows[1:]:
            detail = r.detail.replace("alice", "mallory")
            if how == "another key":
                at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(r.at)
                mac = event_mac(os.urandom(32), prev, r.seq, as_utc(at), r.campaign_id,
                                r.kind, detail)
            else:
                mac = hashlib.sha256((prev + detail).encode()).hexdigest()
            conn.execute(text("UPDATE events SET detail = :d, mac = :m WHERE id = :i"),
                         {"d": detail, "m": mac, "i": r.id})
            prev = mac
    seq, problem = _broken(store)
    assert seq == 2 and "recomputed without the key" in problem


def test_another_key_verifies_nothing(store: ResultsStore, store_url: str, tmp_path: Path
                                      ) -> None:
    other = AuditKey.load(tmp_path / "elsewhere")
    with ResultsStore.open(store_url, audit_key=other) as s:
        check = s.verify_trail()
    assert check.problem is not None and check.problem.seq == 1


def test_events_written_before_the_chain_are_sealed_by_the_first_append(
        store_url: str, key: AuditKey) -> None:
    with ResultsStore.open(store_url) as s:  # no key: an older version's events
        s.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        _sql(s, "INSERT INTO events (campaign_id, at, kind, detail) VALUES "
             "('c1', CURRENT_TIMESTAMP, 'state', '{\"state\": \"running\"}')")
        with pytest.raises(BadInput, match="without the audit key"):
            s.audit("c1", "x")
    with ResultsStore.open(store_url, audit_key=key) as s:
        assert s.verify_trail().unsealed == 1
        s.audit("c1", "api_request", who="alice")
        check = s.verify_trail()
        assert check.ok and check.events == 2 and check.unsealed == 0
        assert [(e.seq, e.kind) for e in s.events()] == [(1, "state"), (2, "api_request")]


def test_the_audit_key_is_owner_only_and_refused_otherwise(tmp_path: Path) -> None:
    key = AuditKey.load(tmp_path / "state")
    path = tmp_path / "state" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key.key) == 32
    assert AuditKey.load(tmp_path / "state").key == key.key  # created once
    assert "state_dir" in repr(key) and key.key.hex() not in repr(key)
    path.chmod(0o644)
    with pytest.raises(BadInput, match=f"chmod 600 {path}"):
        AuditKey.load(tmp_path / "state")
    with pytest.raises(BadInput, match="no audit key"):
        AuditKey.load(tmp_path / "none", create=False)


def test_events_carry_no_patient_id(store: ResultsStore) -> None:
    """The PHI canary: no event holds a patient or study pseudonym, nor an identifier."""
    from tests.store_helpers import result_for

    result = result_for(hashlib.sha256(b"canary").hexdigest()[:20], "north")
    store.commit_results("c1", [result])
    store.set_state("c1", CampaignState.DONE)
    dump = json.dumps([(e.kind, e.detail) for e in store.events()])
    assert result.study_pid not in dump and result.patient_pid not in dump


def test_concurrent_appenders_leave_no_gap(store_url: str, key: AuditKey) -> None:
    """Two stores (as the driver and the service) appending at once: one chain, no gaps."""
    import threading

    with ResultsStore.open(store_url, audit_key=key) as a, \
            ResultsStore.open(store_url, audit_key=key) as b:
        def append(s: ResultsStore, who: str) -> None:
            for i in range(25):
                s.audit(None, "api_request", who=who, n=i)

        threads = [threading.Thread(target=append, args=(s, w)) for s, w in ((a, "a"), (b, "b"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        check = a.verify_trail()
        assert check.ok and check.events == 50 and check.anchor == check.head
