"""The service's report route over real HTTP and a real PostgreSQL store: an analyst gets
tables derived from the release base (the report's JSON shape plus `privacy`; a cell has one
value across groupings, requests repeat byte for byte, nothing measured is a 409), the
authority the exact, suppressed table; each request's audit event names which it got."""

from __future__ import annotations

import json

import pytest

from jobs.release import measure_increment, released_table, render_released
from jobs.service import ServiceConfig
from jobs.store import ResultsStore
from kernel.roles import Role
from tests.report_results import cohort
from tests.service_helpers import running_service
from tests.store_helpers import audit_key, token_key

pytestmark = pytest.mark.integration

CID, UNMEASURED = "svc-rel", "svc-new"


@pytest.fixture(scope="module")
def service(postgres_server):  # type: ignore[no-untyped-def]
    url = postgres_server.create_database("service_release")
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        for cid in (CID, UNMEASURED):
            store.ensure_campaign(cid, spec_digest="d", model_name="m", model_version="1")
        results = cohort(900, seed=8)
        store.commit_results(CID, results[:500])
        assert measure_increment(store, CID) is not None
        store.commit_results(CID, results[500:])
        assert measure_increment(store, CID) is not None
        store.commit_results(UNMEASURED, cohort(50, seed=9))
        tokens = {role: store.create_token(f"{role.value}-r", role, key=token_key())
                  for role in Role}
        with running_service(ServiceConfig(store, token_key=token_key())) as svc:
            yield svc, tokens, store


def _get(svc, token, by, cid=CID):  # type: ignore[no-untyped-def]
    return svc.call("GET", f"/api/v1/campaigns/{cid}/report?by={by}", token)


def test_an_analyst_gets_the_released_table_with_its_privacy(service):
    svc, tokens, store = service
    got = _get(svc, tokens[Role.ANALYST], "region,sex")
    assert got.status_code == 200
    doc = got.json()
    assert doc["released"] is True and doc["by"] == ["region", "sex"]
    privacy = doc["privacy"]
    assert privacy["mechanism"] == "discrete_gaussian"
    assert privacy["sigma"] > 0 and privacy["rho"] > 0 and privacy["rho_total_per_person"] > 0
    assert [i["increment"] for i in privacy["increments"]] == [1, 2]
    for group in doc["groups"]:
        assert set(group) >= {"level", "key", "counts"}
        assert all(isinstance(v, int) and v >= 0 for v in group["counts"].values())
        assert "suppressed" not in group
    # exactly the table the release base derives, byte for byte on a repeat
    derived = json.loads(render_released(released_table(store, CID, by=("region", "sex")),
                                         "json"))
    assert doc == derived
    again = _get(svc, tokens[Role.ANALYST], "region,sex")
    assert again.content == got.content


def test_a_cell_has_one_value_across_requests_and_groupings(service):
    svc, tokens, _ = service
    by_region = {tuple(g["key"].items()): g["counts"]
                 for g in _get(svc, tokens[Role.ANALYST], "region").json()["groups"]}
    by_region_site = {tuple(g["key"].items()): g["counts"]
                      for g in _get(svc, tokens[Role.ANALYST], "region,site").json()["groups"]}
    assert by_region and all(by_region_site[k] == v for k, v in by_region.items())


def test_the_authority_keeps_the_exact_suppressed_table(service):
    svc, tokens, store = service
    got = _get(svc, tokens[Role.AUTHORITY], "region")
    assert got.status_code == 200
    doc = got.json()
    assert doc["min_cell"] == 11 and "privacy" not in doc
    truth = doc["groups"][0]["counts"]["seen"]
    assert truth == 900  # exact: every result, no noise
    # an analyst's request of its own: the tests of this module run in any order
    assert _get(svc, tokens[Role.ANALYST], "region").status_code == 200
    events = [e.detail for e in store.events(CID) if e.kind == "api_request"]
    tables = {(e["role"], e.get("table")) for e in events if e["status"] == 200}
    assert {("authority", "exact"), ("analyst", "released")} <= tables


def test_nothing_measured_is_a_409_for_analysts_only(service):
    svc, tokens, _ = service
    got = _get(svc, tokens[Role.ANALYST], "region", cid=UNMEASURED)
    assert got.status_code == 409 and "release measure" in got.json()["detail"]
    assert _get(svc, tokens[Role.AUTHORITY], "region", cid=UNMEASURED).status_code == 200
    assert _get(svc, tokens[Role.ANALYST], "postcode").status_code == 400
    assert _get(svc, tokens[Role.OPS], "region").status_code == 403
