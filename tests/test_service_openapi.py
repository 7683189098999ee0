"""The API's OpenAPI document, walked: every route under /api/v1 documents 401 and 403 (as
{"detail": str}) and a 200 with a real schema; campaign routes document 404; the report
documents CSV beside JSON and its `privacy` as optional. And what the routes really return
validates against the models the document publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter

from jobs.service import ServiceConfig
from jobs.service.models import (
    CampaignStatus,
    CampaignSummary,
    Error,
    Health,
    Report,
    Whoami,
)
from kernel.roles import Role
from tests.service_helpers import Service, running_service, seeded_store

CID = "oas-1"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_store(tmp_path_factory.mktemp("oas"), (CID,)) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key)) as svc:
        yield svc, tokens


def _operations(svc: Service) -> list[tuple[str, str, dict[str, Any]]]:
    spec = svc.call("GET", "/openapi.json").json()
    return [(method, path, op) for path, methods in spec["paths"].items()
            for method, op in methods.items()]


def test_every_api_route_documents_401_403_and_a_200_schema(service):
    svc, _ = service
    ops = _operations(svc)
    assert len(ops) >= 6 and all(path.startswith("/api/v1/") for _, path, _ in ops)
    error = {"$ref": "#/components/schemas/Error"}
    for method, path, op in ops:
        responses = op["responses"]
        for code in ("401", "403", "429"):
            assert responses[code]["content"]["application/json"]["schema"] == error, \
                (method, path, code)
        ok = responses["200"]["content"]
        assert ok and all(media["schema"] not in ({}, None) for media in ok.values()), \
            (method, path, ok)
        if "{campaign_id}" in path:
            assert responses["404"]["content"]["application/json"]["schema"] == error
        assert op["x-roles"], (method, path)


def test_the_report_documents_csv_and_an_optional_privacy(service):
    svc, _ = service
    spec = svc.call("GET", "/openapi.json").json()
    op = spec["paths"]["/api/v1/campaigns/{campaign_id}/report"]["get"]
    ok = op["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/Report"}
    assert ok["text/csv"]["schema"] == {"type": "string"}
    assert {"400", "404", "406", "409"} <= set(op["responses"])
    assert {p["name"] for p in op["parameters"]} >= {"campaign_id", "by", "min_cell", "format"}
    schemas = spec["components"]["schemas"]
    assert "privacy" not in schemas["Report"]["required"]
    assert set(schemas["Privacy"]["properties"]) >= {"mechanism", "sigma", "rho",
                                                     "rho_total_per_person", "increments"}
    assert set(schemas["Group"]["required"]) >= {"level", "key", "counts"}
    assert schemas["Error"]["properties"] == {"detail": {"title": "Detail", "type": "string"}}


def test_what_the_routes_return_matches_their_models(service):
    svc, tokens = service
    auth, analyst, ops = tokens[Role.AUTHORITY], tokens[Role.ANALYST], tokens[Role.OPS]
    checks = [
        ("/api/v1/whoami", analyst, Whoami),
        ("/api/v1/health", ops, Health),
        ("/api/v1/campaigns", auth, list[CampaignSummary]),
        (f"/api/v1/campaigns/{CID}/status", ops, CampaignStatus),
        (f"/api/v1/campaigns/{CID}/report?by=region,sex", analyst, Report),
        (f"/api/v1/campaigns/{CID}/report?by=region,site", auth, Report),
    ]
    for path, token, model in checks:
        got = svc.call("GET", path, token)
        assert got.status_code == 200, (path, got.text)
        TypeAdapter(model).validate_python(got.json())  # extra fields are refused too
    released = Report.model_validate(svc.call("GET", checks[4][0], analyst).json())
    exact = Report.model_validate(svc.call("GET", checks[5][0], auth).json())
    assert released.privacy is not None and released.min_cell is None
    assert exact.privacy is None and exact.min_cell == 11
    for path, token in (("/api/v1/whoami", None), ("/api/v1/health", analyst),
                        ("/api/v1/campaigns/ghost/report", auth)):
        refused = svc.call("GET", path, token)
        assert refused.status_code in (401, 403, 404)
        Error.model_validate(refused.json())
