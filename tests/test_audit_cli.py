"""`lungscreen audit verify|show` on a SQLite store: exit codes, the first bad seq named,
filters, JSON; and the service's request events carrying what shaped a release."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from jobs.release import measure_increment
from jobs.service import ServiceConfig
from jobs.store import AuditKey, CampaignState, ResultsStore, TokenKey
from kernel.roles import Role
from tests.report_results import cohort
from tests.service_helpers import running_service


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def db(tmp_path: Path, state: Path) -> Iterator[Path]:
    path = tmp_path / "data" / "results.db"
    with ResultsStore.open(f"sqlite:///{path}", audit_key=AuditKey.load(state)) as s:
        for cid in ("c1", "c2"):
            s.ensure_campaign(cid, spec_digest="d", model_name="m", model_version="1")
            s.set_state(cid, CampaignState.PAUSED)
        s.audit("c1", "api_request", who="alice", route="/api/v1/x", status=200)
        s.audit("c1", "recall_export", operator="carol", count=2)
        s.audit(None, "token_created", name="bob", role="analyst")
    yield path


def _verify(db: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--store", f"sqlite:///{db}", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_verify_passes_then_names_the_first_bad_seq(db: Path, capsys) -> None:
    code, out = _verify(db, capsys)
    assert code == 0 and "verified: 5 events, head seq 5" in out
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET detail = '{\"who\": \"mallory\"}' WHERE seq = 3")
    code, out = _verify(db, capsys, "--campaign", "c1")
    assert code == 1 and "BROKEN at seq 3" in out and "edited" in out


def test_verify_names_a_truncated_tail(db: Path, capsys) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events WHERE seq >= 4")
    code, out = _verify(db, capsys)
    assert code == 1 and "BROKEN at seq 4" in out and "truncated" in out


def test_verify_without_the_key_is_bad_input_and_creates_none(db: Path, state: Path,
                                                              capsys) -> None:
    (state / "audit.key").unlink()
    code, out = _verify(db, capsys)
    assert code == 2 and "no audit key" in out
    assert not (state / "audit.key").exists()


def test_show_reads_without_the_key_and_creates_none(db: Path, state: Path,
                                                     capsys) -> None:
    # review: `audit show` made an audit key where none was (a read making a secret)
    (state / "audit.key").unlink()
    assert main(["audit", "show", "--store", f"sqlite:///{db}", "--json"]) == 0
    assert "token_created" in capsys.readouterr().out
    assert not (state / "audit.key").exists()


def test_verify_and_show_need_a_store(capsys) -> None:
    assert main(["audit", "verify"]) == 2
    assert "--store URL or --spec SPEC" in capsys.readouterr().err


def test_show_filters_and_json(db: Path, capsys) -> None:
    url = f"sqlite:///{db}"
    assert main(["audit", "show", "--store", url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert main(["audit", "show", "--store", url, "--campaign", "c1", "--json"]) == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == [
        "state", "api_request", "recall_export"]
    assert main(["audit", "show", "--store", url, "--who", "carol", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["who"] == "carol" and row["detail"]["count"] == 2
    assert main(["audit", "show", "--store", url, "--since", "2999-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "show", "--store", url, "--since", "2000-01-01"]) == 0
    table = capsys.readouterr().out
    assert "token_created" in table and "alice" in table
    assert main(["audit", "show", "--store", url, "--since", "yesterday"]) == 2


def test_request_events_carry_the_release_shaping_parameters(tmp_path: Path, state: Path
                                                             ) -> None:
    key = AuditKey.load(state)
    with ResultsStore.open(f"sqlite:///{tmp_path / 'svc.db'}", audit_key=key) as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        store.commit_results("c1", cohort(60, seed=1))
        assert measure_increment(store, "c1") is not None  # analysts read the release base
        token = store.create_token("ann", Role.ANALYST, key=TokenKey.load(state, create=True))
        chief = store.create_token("bob", Role.AUTHORITY, key=TokenKey.load(state))
        with running_service(ServiceConfig(store, token_key=TokenKey.load(state))) as svc:
            path = "/api/v1/campaigns/c1/report"
            ok = svc.call("GET", path, token, params={"by": "site,region"})
            exact = svc.call("GET", path, chief, params={"by": "region", "min_cell": 20})
            bad = svc.call("GET", path, token, params={"by": "name<script>"})
        assert ok.status_code == 200 and exact.status_code == 200 and bad.status_code == 400
        reports = [e.detail for e in store.events("c1") if e.kind == "api_request"]
        assert store.verify_trail().ok
    assert reports[0]["by"] == "site,region" and reports[0]["table"] == "released"
    assert reports[0]["format"] == "json" and reports[0]["who"] == "ann"
    assert reports[1]["by"] == "region" and reports[1]["min_cell"] == 20
    assert reports[1]["table"] == "exact" and reports[1]["who"] == "bob"
    assert "by" not in reports[2] and "script" not in json.dumps(reports)
