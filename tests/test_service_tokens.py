"""Tokens only the service can mint, and who did it: a token row written with store access
alone (the store's tables through its own engine, or raw SQL) with a correct salted hash
is refused over real HTTP (401), as is a minted row whose role was raised afterwards;
`token create` needs the service's token key and records the OS account and host that ran
it, whatever the environment says."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from cli.main import main
from jobs.service import ServiceConfig
from jobs.spec.operator import os_operator
from jobs.store import CampaignState, ResultsStore, TokenKey
from jobs.store import schema as t
from kernel.roles import Role
from tests.service_helpers import running_service
from tests.store_helpers import audit_key


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _forged_row(name: str, role: Role) -> tuple[dict[str, object], str]:
    """A token row as an attacker with store access writes it: a correct salted hash of a
    secret they chose, in the stored format; and the token they then present."""
    token_id, secret, salt = secrets.token_hex(16), secrets.token_urlsafe(32), secrets.token_hex(16)
    digest = hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()
    row = {"name": name, "role": role.value, "token_id": token_id, "salt": salt,
           "digest": digest, "created_at": datetime.now(UTC), "expires_at": None}
    return row, f"ls_{token_id}_{secret}"


def test_rows_written_with_store_access_alone_are_refused(store_url: str, state: Path
                                                          ) -> None:
    key = TokenKey.load(state, create=True)
    other = TokenKey(secrets.token_bytes(32))  # a key the attacker made up
    with ResultsStore.open(store_url, audit_key=audit_key()) as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        minted = store.create_token("ops-1", Role.OPS, key=key)
        raised = store.create_token("ann", Role.ANALYST, key=key)
        # through the store's own engine, no MAC
        no_mac, forged = _forged_row("dr.smith", Role.AUTHORITY)
        with store.write_transaction("forging") as conn:
            conn.execute(insert(t.tokens).values(**no_mac))
        # raw SQL, with a MAC under another key
        wrong, forged_wrong = _forged_row("dr.jones", Role.AUTHORITY)
        wrong["mac"] = other.row_mac(wrong)
        with store._engine.begin() as conn:
            conn.execute(text("INSERT INTO tokens (name, role, token_id, salt, digest, "
                              "created_at, expires_at, mac) VALUES (:name, :role, :token_id, "
                              ":salt, :digest, :created_at, :expires_at, :mac)"), wrong)
            # a minted analyst row raised to authority
            conn.execute(text("UPDATE tokens SET role = 'authority' WHERE name = 'ann'"))
        with running_service(ServiceConfig(store, token_key=key)) as svc:
            assert svc.call("GET", "/api/v1/whoami", minted).json()["name"] == "ops-1"
            for token in (forged, forged_wrong, raised):
                assert svc.call("GET", "/api/v1/whoami", token).status_code == 401
                got = svc.call("POST", "/api/v1/campaigns/c1/recall", token)
                assert got.status_code == 401, got.text
        assert store.identify(forged, key) is None and store.identify(raised, key) is None


def test_a_revoked_token_stays_revoked_whatever_the_store_says(store_url: str, state: Path
                                                               ) -> None:
    key = TokenKey.load(state, create=True)
    with ResultsStore.open(store_url, audit_key=audit_key()) as store:
        token = store.create_token("dr.who", Role.AUTHORITY, key=key)
        with store._engine.connect() as conn:  # the attacker keeps a copy of the live row
            copy = dict(conn.execute(text("SELECT * FROM tokens WHERE name = 'dr.who'"))
                        .one()._mapping)
        store.revoke_token("dr.who", key)
        assert store.identify(token, key) is None
        with store._engine.begin() as conn:  # un-revoke: the row as it was, old MAC and all
            conn.execute(text("UPDATE tokens SET revoked_at = NULL, mac = :mac "
                              "WHERE name = 'dr.who'"), {"mac": copy["mac"]})
        assert key.verifies(copy)  # the restored row's MAC is genuine
        with running_service(ServiceConfig(store, token_key=key)) as svc:
            assert svc.call("GET", "/api/v1/whoami", token).status_code == 401
        assert store.identify(token, key) is None
    listed = state / "token-revocations"
    assert listed.stat().st_mode & 0o777 == 0o600
    assert str(copy["token_id"]) in listed.read_text().split()


def test_token_create_needs_the_token_key_and_records_its_creator(
        tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'results.db'}"
    argv = ["token", "create", "--role", "authority", "--name", "dr.smith", "--store", url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no token key" in err and "token init" in err
    assert not (state / "token.key").exists()
    with ResultsStore.open(url) as store:
        assert store.tokens() == []
    assert main(["token", "init"]) == 0
    assert (state / "token.key").stat().st_mode & 0o777 == 0o600
    for name in ("LUNGSCREEN_OPERATOR", "USER", "LOGNAME"):  # changes nothing
        monkeypatch.setenv(name, "mallory")
    assert main(argv) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with ResultsStore.open(url) as store:
        assert store.identify(token, TokenKey.load(state)) is not None
    assert main(["token", "revoke", "--name", "dr.smith", "--store", url]) == 0
    with ResultsStore.open(url) as store:
        made = [e.detail for e in store.events() if e.kind.startswith("token_")]
    me = os_operator()
    assert "mallory" not in me and "@" in me
    expires = made[0].pop("expires")  # 90 days by default (tests/test_token_defaults.py)
    left = datetime.fromisoformat(str(expires)) - datetime.now(UTC)
    assert timedelta(days=89) < left <= timedelta(days=90)
    assert made == [{"name": "dr.smith", "role": "authority", "operator": me},
                    {"name": "dr.smith", "operator": me}]


def test_a_token_key_others_can_read_is_refused(state: Path) -> None:
    from kernel.errors import BadInput

    TokenKey.load(state, create=True)
    (state / "token.key").chmod(0o640)
    with pytest.raises(BadInput, match="chmod 600"):
        TokenKey.load(state)


def test_the_store_records_its_operator_unless_the_event_names_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with ResultsStore.open(url, audit_key=audit_key(), operator="alice@host") as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        store.set_state("c1", CampaignState.PAUSED)
        store.audit("c1", "api_request", who="ann", status=200)
        store.audit("c1", "recall_export", operator="bob@host", count=1)
        details = [e.detail for e in store.events("c1")]
    assert details[-3]["operator"] == "alice@host"
    assert "operator" not in details[-2] and details[-1]["operator"] == "bob@host"


def test_a_store_from_before_minted_tokens_opens_and_its_rows_are_refused(
        tmp_path: Path, state: Path) -> None:
    db = tmp_path / "old.db"
    key = TokenKey.load(state, create=True)
    with ResultsStore.open(f"sqlite:///{db}") as store:
        token = store.create_token("ops-1", Role.OPS, key=key)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE tokens DROP COLUMN mac")
    with ResultsStore.open(f"sqlite:///{db}") as store:
        assert store.identify(token, key) is None  # no MAC: create it again
        assert [x.name for x in store.tokens()] == ["ops-1"]
        again = store.create_token("ops-2", Role.OPS, key=key)
        assert store.identify(again, key) is not None
