"""What ops and Kubernetes reach without a token, over real HTTP: `/healthz` (liveness, no
data), `/readyz` (200 while the store answers, 503 without a word about it once a real
PostgreSQL database is gone), neither audited; `/metrics` with the service's own series
(requests by route template and status, latency, refusals by kind) and nothing clinical,
no token name, no campaign id; the ops role's `/api/v1/health` as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from jobs.service import ServiceConfig
from jobs.store import ResultsStore
from kernel.roles import Role
from tests.service_helpers import Service, running_service, seeded_store
from tests.store_helpers import audit_key, token_key

CID = "ops-1"
REPORT = f"/api/v1/campaigns/{CID}/report"


@pytest.fixture
def service(tmp_path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    with seeded_store(tmp_path, (CID,)) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key)) as svc:
        yield svc, tokens, store


def _api_events(store: ResultsStore) -> int:
    return sum(1 for e in store.events() if e.kind == "api_request")


def test_the_probes_are_open_carry_no_data_and_are_not_audited(service):
    svc, tokens, store = service
    before = _api_events(store)
    for token in (None, "not-a-token", tokens[Role.ANALYST]):
        for path in ("/healthz", "/readyz"):
            got = svc.call("GET", path, token)
            assert got.status_code == 200 and got.json() == {"status": "ok"}, path
    assert svc.call("GET", "/metrics").status_code == 200
    assert _api_events(store) == before  # probes and scrapes write no row
    assert svc.call("GET", "/api/v1/whoami", tokens[Role.OPS]).status_code == 200
    assert _api_events(store) == before + 1  # the API still does
    # the ops role's health keeps its token
    assert svc.call("GET", "/api/v1/health").status_code == 401
    assert svc.call("GET", "/api/v1/health", tokens[Role.OPS]).json()["status"] == "ok"


@pytest.mark.integration
def test_readyz_is_503_once_the_store_is_gone_and_says_nothing_of_it(postgres_server):
    name = "svc_ready"
    url = postgres_server.create_database(name)
    with ResultsStore.open(url, audit_key=audit_key()) as store, \
            running_service(ServiceConfig(store, token_key=token_key())) as svc:
        assert svc.call("GET", "/readyz").status_code == 200
        admin = create_engine(postgres_server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        got = svc.call("GET", "/readyz")
        assert got.status_code == 503 and got.json() == {"status": "unavailable"}
        for secret in (name, str(postgres_server.port), "postgres"):
            assert secret not in got.text
        assert svc.call("GET", "/healthz").status_code == 200  # alive: not restarted for it


def _scrape(svc: Service) -> dict[str, list[Any]]:
    got = svc.call("GET", "/metrics")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(got.text)}


def test_metrics_count_requests_and_refusals_with_no_clinical_or_token_label(service):
    svc, tokens, store = service
    # region x sex: the exact table's suppression audit at the finest grouping takes tens of
    # seconds on a loaded machine, and this test is about the metrics, not that audit
    for role in (Role.ANALYST, Role.AUTHORITY):
        for query in ("?by=region,site,sex", "?format=csv"):
            assert svc.call("GET", REPORT + query, tokens[role]).status_code == 200
    assert svc.call("GET", REPORT).status_code == 401  # no token
    assert svc.call("GET", REPORT, "ls_" + "0" * 32 + "_" + "A" * 43).status_code == 401
    assert svc.call("GET", REPORT, tokens[Role.OPS]).status_code == 403
    assert svc.call("GET", "/api/v1/campaigns/ghost-7/status",
                    tokens[Role.OPS]).status_code == 404
    assert svc.call("GET", "/no/such/path/region-0").status_code == 404
    families = _scrape(svc)
    assert {n.removesuffix("_created") for n in families} == {"lungscreen_service_requests",
                             "lungscreen_service_request_duration_seconds",
                             "lungscreen_service_refusals"}
    requests = {(s.labels["route"], s.labels["status"]): s.value
                for s in families["lungscreen_service_requests"] if s.name.endswith("_total")}
    assert requests[("/api/v1/campaigns/{campaign_id}/report", "200")] == 4
    assert requests[("/api/v1/campaigns/{campaign_id}/report", "401")] == 2
    assert requests[("unmatched", "404")] == 1
    refusals = {s.labels["kind"]: s.value for s in families["lungscreen_service_refusals"]
                if s.name.endswith("_total")}
    assert refusals["no_token"] == 1 and refusals["bad_token"] == 1
    assert refusals["wrong_role"] == 1 and refusals["busy"] == 0
    latency = [s for s in families["lungscreen_service_request_duration_seconds"]
               if s.name.endswith("_count")]
    assert {s.labels["route"] for s in latency} >= {"/api/v1/campaigns/{campaign_id}/report"}
    # only operational labels; no clinical count, campaign, region, token or person
    samples = [s for f in families.values() for s in f]
    assert {k for s in samples for k in s.labels} <= {"route", "method", "status", "kind", "le"}
    values = " ".join(v for s in samples for v in s.labels.values())
    names = [t.name for t in store.tokens()]
    for banned in ("lungrads", "category", "reason", "quarantin", "region-", "site",
                   CID, "ghost", "ls_", *names):
        assert banned not in values, banned
