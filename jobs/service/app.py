"""The service's application: the routers (jobs.service.routes), one audit event and one
metrics observation per request, and the refusals' summary. Each route names its roles
(`x-roles` in /openapi.json); the store credentials stay here: analysts get tables derived
from the release base (noisy, measured once under differential privacy, with their
`privacy` object) and nothing else; the authority gets the exact, suppressed table. A token
scoped to campaigns (`token create --campaign`) lists those only and gets 404 for any other,
as for a campaign that does not exist.

| route | roles |
| --- | --- |
| GET /api/v1/whoami | every role |
| GET /api/v1/health | ops |
| GET /api/v1/campaigns | authority, analyst, ops |
| GET /api/v1/campaigns/{id}/status | authority, ops |
| GET /api/v1/campaigns/{id}/report | authority, analyst |
| POST /api/v1/campaigns/{id}/recall | authority |
| POST /api/v1/campaigns/{id}/recall/technical | authority |
| GET /healthz, /readyz, /metrics | open, unaudited (jobs.service.routes.ops) |
| GET /docs, /redoc, /openapi.json | open (jobs.service.routes.docs) |
| GET /, POST /signin, POST /signout | open; the posts need the form's CSRF token (pages) |
| GET /campaigns | authority, analyst (page) |
| GET /campaigns/{id} | analyst (page: the released tables) |
| GET /campaigns/{id}/exact | authority (page: the exact, suppressed report) |

The pages (jobs.service.routes.pages) take a bearer token or the session cookie of their
sign-in form; that cookie also works on the API's GET routes (the page's downloads), never
on a POST. Pages stay out of /openapi.json; their refusals are HTML (401: 303 to `/`).

With an identity provider configured (`ServiceConfig.oidc`), a bearer JWT of its is taken
as a token (jobs.service.oidc): its role from a claim, its refusals 401 as a bad token's.

Reports and recall are expensive: at most `ServiceConfig.expensive_in_flight` of them in
flight per token (jobs.service.limits.InFlight); one more is 429 with Retry-After.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from jobs.service.config import ServiceConfig
from jobs.service.limits import FailedLogins, InFlight, RefusalSummary
from jobs.service.metrics import ServiceMetrics
from jobs.service.oidc import OidcVerifier
from jobs.service.routes import campaigns, docs, ops, pages, recall, reports, tokens
from jobs.service.sessions import Sessions
from jobs.service.web import refused
from jobs.store import Identity, ResultsStore
from kernel.version import installed_version

__all__ = ["create_app"]

_ROUTERS = (tokens.router, campaigns.router, reports.router, recall.router, ops.router,
            docs.router, pages.router)


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application over `config`."""
    refusals = RefusalSummary(config.limit_window_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        summary = refusals.flush()  # the open window's refusals, at shutdown
        if summary is not None:
            await run_in_threadpool(config.store.audit, None, "rate_limited", **summary)

    app = FastAPI(title="lungscreen", version=installed_version(), lifespan=lifespan,
                  description="Screening campaigns: each role reaches only its own.",
                  docs_url=None, redoc_url=None)  # served from own assets: routes.docs
    app.state.config = config
    app.state.store = config.store
    app.state.token_key = config.token_key
    app.state.failed_logins = FailedLogins(config.failed_logins_per_minute,
                                           config.limit_window_s)
    app.state.in_flight = InFlight(config.expensive_in_flight)
    app.state.metrics = ServiceMetrics()
    app.state.sessions = Sessions(config.session_s)
    app.state.oidc = OidcVerifier(config.oidc) if config.oidc is not None else None
    app.add_exception_handler(StarletteHTTPException, refused)  # HTML on pages
    app.add_exception_handler(RequestValidationError, refused)
    for router in _ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def audit(request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        refusal = getattr(request.state, "refusal", "")
        app.state.metrics.observe(_template(request), request.method, response.status_code,
                                  time.perf_counter() - start, refusal)
        if refusal == "rate_limited":  # summarised, not a row
            client = request.client.host if request.client else "?"
            summary = refusals.refused(client)
        elif getattr(request.state, "audited", True):
            await run_in_threadpool(_audit, request, response.status_code)  # a store write
            summary = refusals.due()
        else:  # a probe or scrape writes nothing to the store
            summary = None
        if summary is not None:
            await run_in_threadpool(config.store.audit, None, "rate_limited", **summary)
        return response

    return app


def _template(request: Request) -> str:
    """The matched route's path template ("unmatched" for none): never the path itself.
    FastAPI's routes record themselves in the scope; Starlette's (/openapi.json) do not,
    so those are matched again."""
    route = request.scope.get("route")
    if route is None:
        route = next((r for r in request.app.router.routes
                      if r.matches(request.scope)[0] is Match.FULL), None)
    return getattr(route, "path", None) or "unmatched"


def _audit(request: Request, status: int) -> None:
    """One audit event per request: who, role, route, campaign, outcome, and the validated
    parameters that shaped what was released (jobs.service.deps.record_release); no PHI
    (routes are templates, the campaign id is the only path parameter kept)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    campaign_id = request.path_params.get("campaign_id")
    store: ResultsStore = request.app.state.store
    known = campaign_id if campaign_id and store.campaign(campaign_id) is not None else None
    store.audit(known, "api_request", who=identity.name if identity else "",
                role=identity.role.value if identity else "", method=request.method,
                route=_template(request), status=status,
                refusal=getattr(request.state, "refusal", ""),
                **getattr(request.state, "released", {}))
