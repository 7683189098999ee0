"""The documented PostgreSQL roles, as real roles on a real server: the schema owner creates
and migrates the store and mints tokens; the driver writes results, the ledger and events
but no token and never changes an event; the service reads results and tokens and appends
events, nothing else. A refused write is the store's PermanentError, naming the refusal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, delete, insert, make_url, text, update

from jobs.release import measure_increment
from jobs.store import CampaignState, ResultsStore
from jobs.store import schema as t
from jobs.store.lease import DriverLease
from jobs.store.roles import role_grants
from kernel.errors import PermanentError
from kernel.roles import Role
from tests.store_helpers import audit_key, plan, results_for, token_key

pytestmark = pytest.mark.integration


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def roles(postgres_url: str) -> Iterator[dict[str, str]]:
    """Three fresh login roles (owner, driver, service); the database handed to the owner,
    who thereby owns its public schema (PostgreSQL 15); the store URL as each."""
    tag = uuid.uuid4().hex[:8]
    names = {k: f"ls_{k}_{tag}" for k in ("owner", "driver", "service")}
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    database = make_url(postgres_url).database
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
            conn.execute(text(f'ALTER DATABASE "{database}" OWNER TO "{names["owner"]}"'))
    finally:
        admin.dispose()
    yield {k: _as(postgres_url, v) for k, v in names.items()} | {f"{k}_role": v
                                                                  for k, v in names.items()}


def _refused(action: object) -> str:
    with pytest.raises(PermanentError) as info:
        action()  # type: ignore[operator]
    assert "permission denied" in str(info.value)
    return str(info.value)


def _change_events(store: ResultsStore) -> None:
    for stmt in (update(t.events).values(kind="edited"), delete(t.events)):
        def run(stmt: object = stmt) -> None:
            with store.write_transaction("changing events") as conn:
                conn.execute(stmt)  # type: ignore[call-overload]
        _refused(run)


def test_each_role_does_its_part_and_nothing_more(roles: dict[str, str]) -> None:
    key, tokens = audit_key(), token_key()
    with pytest.raises(PermanentError, match="permission denied"):  # no DDL for the driver
        ResultsStore.open(roles["driver"], audit_key=key)
    with ResultsStore.open(roles["owner"], audit_key=key) as owner:
        with owner.write_transaction("granting the roles") as conn:
            for statement in role_grants(roles["driver_role"], roles["service_role"]):
                conn.execute(text(statement))
        secret = owner.create_token("dr.roles", Role.AUTHORITY, key=tokens)

    shards = plan(6, shard_size=3)
    with ResultsStore.open(roles["driver"], audit_key=key, operator="driver@host") as driver:
        driver.ensure_campaign("c1", spec_digest="d" * 64, model_name="m", model_version="1")
        assert driver.record_plan("c1", shards) is True
        assert driver.commit_shard("c1", shards[0].shard_id, results_for(shards[0])) is True
        lease = DriverLease(driver, "c1")
        lease.acquire()
        lease.renew()
        lease.release()
        assert measure_increment(driver, "c1") is not None  # the release tables, appended
        driver.set_state("c1", CampaignState.DONE)
        driver.audit("c1", "campaign_note", step=1)
        message = _refused(lambda: driver.create_token("mallory", Role.AUTHORITY, key=tokens))
        assert "tokens" in message and secret not in message
        _refused(lambda: driver.identify(secret, tokens))  # it cannot even read them
        _change_events(driver)

    with ResultsStore.open(roles["service"], audit_key=key) as service:
        assert len(list(service.results("c1"))) == shards[0].study_count
        assert service.identify(secret, tokens) is not None
        assert service.tokens()[0].last_used_at is not None  # its one column of tokens

        def extend_token() -> None:
            with service.write_transaction("extending a token") as conn:
                conn.execute(update(t.tokens).values(expires_at=None))
        _refused(extend_token)
        assert [i.seq for i in service.increments("c1")] == [1]
        service.audit("c1", "api_request", route="/api/v1/campaigns/c1/report", who="dr.roles")
        _refused(lambda: service.commit_results("c1", results_for(shards[1])))
        _refused(lambda: service.create_token("mallory", Role.AUTHORITY, key=tokens))
        _refused(lambda: service.ensure_campaign("c2", spec_digest="e" * 64, model_name="m",
                                                 model_version="1"))
        _change_events(service)

        def forge_token() -> None:
            with service.write_transaction("forging a token") as conn:
                conn.execute(insert(t.tokens).values(
                    name="x", role="authority", token_id="0" * 32, salt="00", digest="00",
                    created_at=datetime.now(UTC)))
        _refused(forge_token)

    with ResultsStore.open(roles["owner"], audit_key=key) as owner:
        check = owner.verify_trail()
        assert check.ok and check.events >= 2
        assert [e.kind for e in owner.events("c1")][-2:] == ["campaign_note", "api_request"]
