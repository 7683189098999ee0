"""The service with roles, through real HTTP against uvicorn over a real PostgreSQL store:
every route published in /openapi.json refuses no token (401) and every role it does not
name (403) and admits the ones it names; tokens expire and are revoked; every request is
audited under the token's name. The pages (jobs.service.routes.pages) are held to the same
matrix through their own route table: no token sends the browser to sign in (303), a role
they do not name is a 403 page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from jobs.release import measure_increment
from jobs.service import ServiceConfig
from jobs.store import ResultsStore
from kernel.roles import Role
from tests.report_results import cohort
from tests.service_helpers import running_service
from tests.store_helpers import audit_key, token_key

pytestmark = pytest.mark.integration

CID = "svc-1"


@pytest.fixture
def service(postgres_url, request):  # type: ignore[no-untyped-def]
    limit = getattr(request, "param", 1000)
    with ResultsStore.open(postgres_url, audit_key=audit_key()) as store:
        store.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1")
        store.commit_results(CID, cohort(300, seed=3))
        assert measure_increment(store, CID) is not None  # the analysts' release base
        tokens = {role: store.create_token(f"{role.value}-1", role, key=token_key())
                  for role in Role}
        with running_service(ServiceConfig(store, failed_logins_per_minute=limit,
                                           token_key=token_key())) as svc:
            yield svc, tokens, store


def _operations(spec: dict) -> list[tuple[str, str, list[str]]]:
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops.append((method.upper(), path.replace("{campaign_id}", CID), op["x-roles"]))
    return ops


def test_every_route_refuses_other_roles_and_no_token(service):
    svc, tokens, _ = service
    spec = svc.call("GET", "/openapi.json").json()
    ops = _operations(spec)
    assert {p for _, p, _ in ops} >= {"/api/v1/health", f"/api/v1/campaigns/{CID}/report",
                                      f"/api/v1/campaigns/{CID}/recall"}
    for method, path, roles in ops:
        assert roles and set(roles) <= {r.value for r in Role}, path
        assert svc.call(method, path).status_code == 401, (method, path)
        assert svc.call(method, path, "ls_" + "0" * 32 + "_" + "A" * 43).status_code == 401
        for role, token in tokens.items():
            code = svc.call(method, path, token).status_code
            if role.value in roles:
                assert code not in (401, 403), (method, path, role, code)
            else:
                assert code == 403, (method, path, role, code)


def _pages() -> list[tuple[str, list[str]]]:
    """The pages that need a role, from the app's own routes (they stay out of the API's
    /openapi.json), with their `x-roles`."""
    from jobs.service.routes.pages import router

    return [(r.path.replace("{campaign_id}", CID), r.openapi_extra["x-roles"])
            for r in router.routes if (getattr(r, "openapi_extra", None) or {}).get("x-roles")]


def test_every_page_refuses_other_roles_and_sends_no_token_to_sign_in(service):
    svc, tokens, store = service
    pages = _pages()
    assert {p for p, _ in pages} == {"/campaigns", f"/campaigns/{CID}",
                                     f"/campaigns/{CID}/exact"}
    for path, roles in pages:
        for token in (None, "ls_" + "0" * 32 + "_" + "A" * 43):
            got = svc.call("GET", path, token, allow_redirects=False)
            assert (got.status_code, got.headers.get("location")) == (303, "/"), path
        for role, token in tokens.items():
            got = svc.call("GET", path, token)
            assert got.headers["content-type"].startswith("text/html"), (path, role)
            assert got.status_code == (200 if role.value in roles else 403), (path, role)
    # the open ones: the sign-in form; the posts refuse a form without its CSRF token
    assert svc.call("GET", "/").status_code == 200
    for path in ("/signin", "/signout"):
        assert svc.call("POST", path, tokens[Role.AUTHORITY]).status_code == 403
    audited = {(e.detail["route"], e.detail["who"]) for e in store.events()
               if e.kind == "api_request"}
    assert {(f"/campaigns/{{campaign_id}}{tail}", f"{role}-1") for tail, role in
            (("", "analyst"), ("/exact", "authority"), ("/exact", "reader"))} <= audited


def test_an_analyst_gets_released_tables_and_cannot_lower_the_threshold(service):
    svc, tokens, _ = service
    analyst = tokens[Role.ANALYST]
    got = svc.call("GET", f"/api/v1/campaigns/{CID}/report?by=region,site", analyst)
    assert got.status_code == 200 and got.json()["released"] is True
    assert got.json()["privacy"]["mechanism"] == "discrete_gaussian"
    assert "min_cell" not in got.json()  # noisy counts from the base, not suppressed rows
    exact = svc.call("GET", f"/api/v1/campaigns/{CID}/report?by=region,site",
                     tokens[Role.AUTHORITY])
    assert exact.status_code == 200 and exact.json()["min_cell"] == 11
    low = svc.call("GET", f"/api/v1/campaigns/{CID}/report?min_cell=5", analyst)
    assert low.status_code == 400 and "never less" in low.json()["detail"]
    assert svc.call("GET", "/api/v1/campaigns/nope/report", analyst).status_code == 404
    # analysts never reach per-study rows, recall or the ops routes
    assert svc.call("POST", f"/api/v1/campaigns/{CID}/recall", analyst).status_code == 403


def test_expired_and_revoked_tokens_are_refused_and_requests_audited(service):
    svc, tokens, store = service
    soon = store.create_token("temp-ops", Role.OPS, datetime.now(UTC) + timedelta(seconds=2),
                              key=token_key())
    assert svc.call("GET", "/api/v1/health", soon).status_code == 200
    store.revoke_token("ops-1", token_key())
    assert svc.call("GET", "/api/v1/health", tokens[Role.OPS]).status_code == 401
    import time

    time.sleep(2.5)
    assert svc.call("GET", "/api/v1/health", soon).status_code == 401
    events = [e for e in store.events() if e.kind == "api_request"]
    assert {"temp-ops", ""} <= {e.detail["who"] for e in events}
    health = [e for e in events if e.detail["route"] == "/api/v1/health"]
    assert [e.detail["status"] for e in health][-3:] == [200, 401, 401]
    assert all("ls_" not in str(e.detail) for e in events)  # no token in the audit


@pytest.mark.parametrize("service", [10], indirect=True)
def test_failed_logins_are_rate_limited(service):
    svc, tokens, _ = service
    codes = [svc.call("GET", "/api/v1/whoami", "wrong").status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    # the same client's valid token is served: others' failures never lock a holder out
    assert svc.call("GET", "/api/v1/whoami", tokens[Role.OPS]).status_code == 200


def test_token_cli_prints_the_token_last_and_stores_only_a_hash(postgres_url, capsys):
    from cli.main import main

    assert main(["token", "init"]) == 0
    assert main(["token", "create", "--role", "analyst", "--name", "alice", "--expires", "30d",
                 "--store", postgres_url]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"ls_[0-9a-f]{32}_[A-Za-z0-9_-]{43}", token)
    with ResultsStore.open(postgres_url) as store:
        who = store.identify(token, token_key())
        assert who is not None and who.name == "alice" and who.role is Role.ANALYST
        from sqlalchemy import text

        with store._engine.connect() as conn:
            dump = repr(conn.execute(text("SELECT * FROM tokens")).all())
    assert token.split("_", 2)[2] not in dump  # the secret half (may hold "_") is never stored
    assert main(["token", "list", "--store", postgres_url]) == 0
    assert "alice" in capsys.readouterr().out
    assert main(["token", "revoke", "--name", "alice", "--store", postgres_url]) == 0
    with ResultsStore.open(postgres_url) as store:
        assert store.identify(token, token_key()) is None
