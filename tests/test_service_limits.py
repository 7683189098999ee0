"""The limiter holds the attacker, not the user, over real HTTP: X-Forwarded-For is ignored
from a peer that is not a configured proxy; failed sign-ins are limited per address and per
presented token id; a valid token is served while others fail; a flood writes a bounded
number of audit rows, its refusals summarised in one event per window."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.service import ServiceConfig
from jobs.store import ResultsStore, TokenKey
from kernel.roles import Role
from tests.service_helpers import Service, running_service
from tests.store_helpers import audit_key

BAD = "ls_" + "0" * 32 + "_" + "A" * 43


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with ResultsStore.open(f"sqlite:///{tmp_path / 'svc.db'}", audit_key=audit_key()) as s:
        yield s


@pytest.fixture
def key(tmp_path: Path) -> TokenKey:
    return TokenKey.load(tmp_path / "state", create=True)


def _who(svc: Service, token: str, forwarded: str) -> int:
    return svc.call("GET", "/api/v1/whoami", token,
                    headers={"X-Forwarded-For": forwarded}).status_code


def test_forwarded_for_is_ignored_from_an_untrusted_peer(store, key) -> None:
    config = ServiceConfig(store, failed_logins_per_minute=5, token_key=key)
    with running_service(config) as svc:  # default: no proxy trusted, not even loopback
        codes = [_who(svc, "wrong", f"203.0.113.{i}") for i in range(8)]
    assert codes == [401] * 5 + [429] * 3  # the peer is limited, whatever it claims


def test_behind_a_trusted_proxy_each_client_and_each_token_id_is_limited(store, key) -> None:
    ops = store.create_token("ops-1", Role.OPS, key=key)
    target = "_".join(ops.split("_", 2)[:2]) + "_" + "B" * 43  # ops-1's id, a guessed secret
    config = ServiceConfig(store, failed_logins_per_minute=5, token_key=key)
    with running_service(config, forwarded_allow_ips="127.0.0.1") as svc:
        assert [_who(svc, "wrong", "203.0.113.1") for _ in range(6)] == [401] * 5 + [429]
        assert _who(svc, "wrong", "203.0.113.2") == 401  # another client is not held
        # guesses at one token id from ever new addresses: the id is limited
        guesses = [_who(svc, target, f"198.51.100.{i}") for i in range(7)]
        assert guesses == [401] * 5 + [429] * 2
        # the holder is served from a blocked address and for the guessed id
        assert _who(svc, ops, "203.0.113.1") == 200
        assert _who(svc, ops, "198.51.100.200") == 200


def test_a_valid_token_is_served_while_another_client_fails(store, key) -> None:
    ann = store.create_token("ann", Role.ANALYST, key=key)
    config = ServiceConfig(store, failed_logins_per_minute=3, token_key=key)
    with running_service(config) as svc:  # one address: every client behind one proxy
        for _ in range(10):
            assert svc.call("GET", "/api/v1/whoami", BAD).status_code in (401, 429)
            assert svc.call("GET", "/api/v1/whoami", ann).status_code == 200
        refused = svc.call("GET", "/api/v1/whoami", BAD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"


def test_a_flood_writes_a_bounded_number_of_rows(store, key) -> None:
    config = ServiceConfig(store, failed_logins_per_minute=10, token_key=key)
    with running_service(config) as svc:
        codes = [svc.call("GET", "/api/v1/campaigns").status_code for _ in range(150)]
    assert codes.count(401) == 10 and codes.count(429) == 140
    events = store.events()
    requests = [e for e in events if e.kind == "api_request"]
    summaries = [e.detail for e in events if e.kind == "rate_limited"]
    assert len(requests) == 10 and all(e.detail["status"] == 401 for e in requests)
    assert len(summaries) == 1 and summaries[0]["refused"] == 140
    assert summaries[0]["addresses"] == 1 and store.verify_trail().ok


def test_refusals_are_summarised_once_per_window(store, key) -> None:
    import time

    config = ServiceConfig(store, failed_logins_per_minute=2, limit_window_s=1.0,
                           token_key=key)
    with running_service(config) as svc:
        first = [svc.call("GET", "/api/v1/whoami").status_code for _ in range(6)]
        time.sleep(1.2)
        second = [svc.call("GET", "/api/v1/whoami").status_code for _ in range(6)]
    assert first == second == [401, 401, 429, 429, 429, 429]
    summaries = [e.detail["refused"] for e in store.events() if e.kind == "rate_limited"]
    assert summaries == [4, 4]
