"""Token defaults: `token create` expires in 90 days unless told (`--expires never`
explicitly), the service refuses an expired token (401) and one whose expiry was edited in
the store (its row MAC covers the expiry), records each token's last use at most once a
minute, and `token list --json` shows every token without its secret."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, text, update

from cli.commands.token import expiry
from cli.main import main
from jobs.service import ServiceConfig
from jobs.store import ResultsStore, TokenKey
from jobs.store import schema as t
from kernel.errors import BadInput
from kernel.roles import Role
from tests.service_helpers import running_service
from tests.store_helpers import audit_key


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("LUNGSCREEN_STORE", raising=False)
    return tmp_path / "state"


def _create(url: str, name: str, *extra: str,
            capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["token", "create", "--role", "analyst", "--name", name, "--store", url,
                 *extra]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _listed(url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    assert main(["token", "list", "--store", url, "--json"]) == 0
    return {t["name"]: t for t in json.loads(capsys.readouterr().out)}


def test_create_defaults_to_90_days_and_never_is_explicit(tmp_path: Path, state: Path,
                                                          capsys) -> None:
    url = f"sqlite:///{tmp_path / 'tok.db'}"
    assert main(["token", "init"]) == 0
    before = datetime.now(UTC)
    secret = _create(url, "ana", capsys=capsys)
    _create(url, "forever", "--expires", "never", capsys=capsys)
    _create(url, "month", "--expires", "30d", capsys=capsys)
    _create(url, "dated", "--expires", "2999-01-31", capsys=capsys)
    listed = _listed(url, capsys)
    expires = datetime.fromisoformat(str(listed["ana"]["expires"]))
    assert before + timedelta(days=90) - timedelta(seconds=2) <= expires
    assert expires <= datetime.now(UTC) + timedelta(days=90)
    assert listed["forever"]["expires"] is None
    month = datetime.fromisoformat(str(listed["month"]["expires"]))
    assert abs(month - before - timedelta(days=30)) < timedelta(minutes=1)
    assert listed["dated"]["expires"] == "2999-01-31T00:00:00+00:00"
    with ResultsStore.open(url) as store:
        assert store.identify(secret, TokenKey.load(state)) is not None


def test_expiry_text() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert expiry("never", now) is None and expiry("NEVER", now) is None
    assert expiry("12h", now) == now + timedelta(hours=12)
    assert expiry("2030-02-01T08:00+01:00", now) == datetime(2030, 2, 1, 7, tzinfo=UTC)
    for bad in ("soon", "2029-12-31", "-5d"):
        with pytest.raises(BadInput, match="--expires"):
            expiry(bad, now)


def test_list_json_shows_every_token_and_no_secret(tmp_path: Path, state: Path,
                                                   capsys) -> None:
    url = f"sqlite:///{tmp_path / 'tok.db'}"
    assert main(["token", "init"]) == 0
    ana = _create(url, "ana", "--campaign", "c-2,c-1", capsys=capsys)
    ops = _create(url, "ops-1", capsys=capsys)
    assert main(["token", "revoke", "--name", "ops-1", "--store", url]) == 0
    capsys.readouterr()
    assert main(["token", "list", "--store", url, "--format", "json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["ana", "ops-1"]
    assert all(set(r) == {"id", "name", "role", "campaigns", "created", "expires",
                          "last_used", "revoked", "state"} for r in rows)
    first, second = rows
    assert first["id"] == ana.split("_", 2)[1] and first["campaigns"] == ["c-1", "c-2"]
    assert first["role"] == "analyst" and first["state"] == "live"
    assert first["revoked"] is None and first["last_used"] is None
    assert second["state"] == "revoked" and second["revoked"] is not None
    for token in (ana, ops):
        assert token.split("_", 2)[2] not in out  # the secret may hold "_" itself
    with ResultsStore.open(url) as store, store._engine.connect() as conn:
        for salt, digest in conn.execute(select(t.tokens.c.salt, t.tokens.c.digest)):
            assert salt not in out and digest not in out
    assert main(["token", "list", "--store", url]) == 0
    table = capsys.readouterr().out
    assert "LAST USED" in table and "revoked" in table


@pytest.fixture
def served(store_url: str, state: Path) -> Iterator[tuple[ResultsStore, TokenKey]]:
    key = TokenKey.load(state, create=True)
    with ResultsStore.open(store_url, audit_key=audit_key()) as store:
        yield store, key


def test_an_expired_token_is_refused(served: tuple[ResultsStore, TokenKey]) -> None:
    store, key = served
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = store.create_token("old", Role.ANALYST, past, key=key)
    live = store.create_token("new", Role.ANALYST, past + timedelta(days=1), key=key)
    with running_service(ServiceConfig(store, token_key=key)) as svc:
        assert svc.call("GET", "/api/v1/whoami", live).status_code == 200
        got = svc.call("GET", "/api/v1/whoami", expired)
        assert got.status_code == 401 and "old" not in got.text


def test_an_expiry_edited_in_the_store_breaks_the_row_mac(
        served: tuple[ResultsStore, TokenKey]) -> None:
    store, key = served
    soon = datetime.now(UTC) + timedelta(hours=1)
    token = store.create_token("ana", Role.ANALYST, soon, key=key)
    assert store.identify(token, key) is not None
    later = soon + timedelta(days=3650)
    for value in (later, None):  # extended, or made never-expiring
        with store._engine.begin() as conn:
            conn.execute(update(t.tokens).values(expires_at=value))
            row = conn.execute(select(t.tokens)).one()._mapping
        assert not key.verifies(dict(row))
        assert store.identify(token, key) is None
    with running_service(ServiceConfig(store, token_key=key)) as svc:
        assert svc.call("GET", "/api/v1/whoami", token).status_code == 401


def _last_used(store: ResultsStore, name: str) -> datetime | None:
    return {x.name: x.last_used_at for x in store.tokens()}[name]


def test_last_use_is_recorded_at_most_once_a_minute(
        served: tuple[ResultsStore, TokenKey]) -> None:
    store, key = served
    token = store.create_token("ana", Role.ANALYST, key=key)
    other = store.create_token("bob", Role.ANALYST, key=key)
    writes: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("UPDATE tokens") and "IS NULL" in statement:  # the service's
            writes.append(statement)

    event.listen(store._engine, "before_cursor_execute", count)
    before = datetime.now(UTC) - timedelta(seconds=1)
    with running_service(ServiceConfig(store, token_key=key)) as svc:
        for _ in range(5):
            assert svc.call("GET", "/api/v1/whoami", token).status_code == 200
        first = _last_used(store, "ana")
        assert first is not None and first >= before
        assert len(writes) == 1 and _last_used(store, "bob") is None
        assert svc.call("GET", "/api/v1/whoami", other).status_code == 200
        assert len(writes) == 2
        with store._engine.begin() as conn:  # a minute and more later
            conn.execute(update(t.tokens).where(t.tokens.c.name == "ana")
                         .values(last_used_at=first - timedelta(seconds=61)))
        assert svc.call("GET", "/api/v1/whoami", token).status_code == 200
        assert len(writes) == 3
        third = _last_used(store, "ana")
        assert third is not None and third >= first
        assert svc.call("GET", "/api/v1/whoami", "ls_" + "0" * 32 + "_" + "x" * 43
                        ).status_code == 401
        assert len(writes) == 3  # a refused token records nothing
    event.remove(store._engine, "before_cursor_execute", count)


def test_a_store_from_before_last_use_gains_the_column(tmp_path: Path, state: Path) -> None:
    db = tmp_path / "old.db"
    key = TokenKey.load(state, create=True)
    with ResultsStore.open(f"sqlite:///{db}") as store:
        token = store.create_token("ops-1", Role.OPS, key=key)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE tokens DROP COLUMN last_used_at")
    with ResultsStore.open(f"sqlite:///{db}") as store:
        assert store.identify(token, key) is not None  # its MAC never covered the column
        assert store.tokens()[0].last_used_at is not None
        with store._engine.connect() as conn:
            assert conn.execute(text("SELECT last_used_at FROM tokens")).scalar() is not None
