"""For the people and machines that run the service: `/healthz` (liveness), `/readyz`
(readiness: the store answers), `/metrics` (the service's own series) and the ops role's
`/api/v1/health`.

The first three are open and unaudited. Kubernetes probes carry no token, and Prometheus
inside a cluster scrapes without one; each answers every few seconds per replica, so an
audit row each would add tens of thousands of rows a day to the chain that `audit verify`
walks, and would make liveness fail whenever the store does (the audit row is a store
write). They hold nothing to account for: no data, no identity, no campaign. /metrics
carries only operational series (jobs.service.metrics). They stay out of /openapi.json,
which documents the API: every route in it names its roles.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from jobs.service.deps import Config, serves, unaudited
from jobs.service.metrics import ServiceMetrics
from jobs.service.models import Health, Probe
from kernel.roles import Role
from kernel.version import installed_version

__all__ = ["router"]

log = logging.getLogger("jobs")

router = APIRouter()
_open: dict[str, Any] = {"include_in_schema": False, "dependencies": [Depends(unaudited)]}


@router.get("/healthz", response_model=Probe, **_open)
def healthz() -> Probe:
    """Liveness: the process answers. Reads nothing, so a store outage never restarts it."""
    return Probe(status="ok")


@router.get("/readyz", response_model=Probe, **_open)
def readyz(config: Config) -> Response:
    """Readiness: 200 when the store answers a read, else 503 (nothing about the store)."""
    try:
        config.store.campaigns()
    except Exception as exc:  # any failure to reach the store means: send no traffic here
        log.warning("readiness: the results store did not answer (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=Response, **_open)
def metrics(request: Request) -> Response:
    """The service's series in Prometheus' text format (jobs.service.metrics)."""
    collected: ServiceMetrics = request.app.state.metrics
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/health", response_model=Health, tags=["ops"], **serves(Role.OPS))
def health(config: Config) -> Health:
    """The service's version, once the store has answered a read."""
    config.store.campaigns()
    return Health(status="ok", version=installed_version())
