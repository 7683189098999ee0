"""The service's routes (OpenAPI at /openapi.json). Each names its roles (`x-roles`); the
store credentials stay here: analysts get tables derived from the release base (noisy,
measured once under differential privacy, with their `privacy` object) and nothing else;
the authority gets the exact, suppressed table. A token scoped to campaigns
(`token create --campaign`) lists those only and gets 404 for any other, as for a campaign
that does not exist.

| route | roles |
| --- | --- |
| GET /api/v1/whoami | every role |
| GET /api/v1/health | ops |
| GET /api/v1/campaigns | authority, analyst, ops |
| GET /api/v1/campaigns/{id}/status | authority, ops |
| GET /api/v1/campaigns/{id}/report | authority, analyst |
| POST /api/v1/campaigns/{id}/recall | authority |

Reports and recall are expensive: at most `ServiceConfig.expensive_in_flight` of them in
flight per token (jobs.service.limits.InFlight); one more is 429 with Retry-After.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jobs.service.auth import require, roles_extra
from jobs.service.limits import Busy, FailedLogins, InFlight, RefusalSummary
from jobs.spec.campaign import CampaignSpec
from jobs.store import ResultsStore, TokenKey
from jobs.store.tokens import Identity
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput, LungscreenError
from kernel.lungrads import Category
from kernel.roles import Role
from kernel.version import installed_version

__all__ = ["ServiceConfig", "create_app"]

AUTH, ANALYST, OPS = Role.AUTHORITY, Role.ANALYST, Role.OPS


@dataclass(frozen=True)
class ServiceConfig:
    """What the service holds: the opened store, the campaigns' specs (for thresholds,
    sources and keys), the deployment's threshold floor, the environment recall reads
    source credentials from, and the token key its tokens' rows must verify under."""

    store: ResultsStore
    specs: Mapping[str, CampaignSpec] = field(default_factory=dict)
    min_cell_floor: int = MIN_CELL
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    failed_logins_per_minute: int = 10  # per client address and token id; then 429
    limit_window_s: float = 60.0  # the failed sign-ins' window, and the refusals' summary
    expensive_in_flight: int = 2  # reports and recall in flight per identity; then 429
    busy_retry_after_s: int = 10  # the Retry-After of that 429
    token_key: TokenKey = field(kw_only=True, repr=False)


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application over `config`."""
    refusals = RefusalSummary(config.limit_window_s)
    in_flight = InFlight(config.expensive_in_flight)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        summary = refusals.flush()  # the open window's refusals, at shutdown
        if summary is not None:
            await run_in_threadpool(config.store.audit, None, "rate_limited", **summary)

    app = FastAPI(title="lungscreen", version=installed_version(), lifespan=lifespan,
                  description="Screening campaigns: each role reaches only its own.")
    app.state.store = config.store
    app.state.token_key = config.token_key
    app.state.failed_logins = FailedLogins(config.failed_logins_per_minute,
                                           config.limit_window_s)

    @app.middleware("http")
    async def audit(request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if getattr(request.state, "refusal", "") == "rate_limited":  # summarised, not a row
            client = request.client.host if request.client else "?"
            summary = refusals.refused(client)
        else:
            await run_in_threadpool(_audit, request, response.status_code)  # a store write
            summary = refusals.due()
        if summary is not None:
            await run_in_threadpool(config.store.audit, None, "rate_limited", **summary)
        return response

    def route(method: str, path: str, *roles: Role) -> Callable[[Any], Any]:
        """Register a route that admits `roles` only, and publish them (`x-roles`)."""
        return app.api_route(path, methods=[method], openapi_extra=roles_extra(*roles),
                             dependencies=[Depends(require(*roles))])

    @contextlib.contextmanager
    def expensive(request: Request) -> Iterator[None]:
        """A slot of the caller's own for an expensive request; 429 when all are taken."""
        who: Identity = request.state.identity
        try:
            with in_flight.hold(who.name):
                yield
        except Busy:
            request.state.refusal = "busy"
            raise HTTPException(
                429, f"{config.expensive_in_flight} expensive requests (reports, recall) of "
                "this token are in flight already; retry when one has finished",
                headers={"Retry-After": str(config.busy_retry_after_s)}) from None

    def campaign(request: Request, campaign_id: str) -> str:
        """`campaign_id` when it exists and the caller's scope covers it; else 404, the same
        answer for both, so a scope tells nothing of the campaigns outside it."""
        who: Identity = request.state.identity
        if not who.sees(campaign_id) or config.store.campaign(campaign_id) is None:
            raise HTTPException(404, f"no campaign {campaign_id[:64]!r} in this service's store")
        return campaign_id

    @route("GET", "/api/v1/whoami", *Role)
    def whoami(request: Request) -> dict[str, str]:
        who: Identity = request.state.identity
        return {"name": who.name, "role": who.role.value}

    @route("GET", "/api/v1/health", OPS)
    def health() -> dict[str, str]:
        config.store.campaigns()  # the store answers
        return {"status": "ok", "version": installed_version()}

    @route("GET", "/api/v1/campaigns", AUTH, ANALYST, OPS)
    def campaigns(request: Request) -> list[dict[str, str]]:
        who: Identity = request.state.identity
        return [{"id": c.id, "state": c.state.value} for c in config.store.campaigns()
                if who.sees(c.id)]

    @route("GET", "/api/v1/campaigns/{campaign_id}/status", AUTH, OPS)
    def status(request: Request, campaign_id: str) -> dict[str, Any]:
        cid = campaign(request, campaign_id)
        regions = config.store.progress(cid)
        return {"campaign": cid, "regions": {
            r: {"shards_planned": p.shards_planned, "shards_done": p.shards_done,
                "studies_planned": p.studies_planned + p.studies_settled_early,
                "studies_done": p.studies_done + p.studies_settled_early}
            for r, p in sorted(regions.items())}}

    @route("GET", "/api/v1/campaigns/{campaign_id}/report", AUTH, ANALYST)
    def report(request: Request, campaign_id: str, by: str = "region",
               min_cell: Annotated[int | None, Query(ge=1, le=1000)] = None) -> JSONResponse:
        """The campaign's table by `by`. An analyst gets the released table: derived from
        the release base (counts measured once per increment with discrete Gaussian noise,
        zCDP), in the report's shape (`groups`: level, key, counts) plus a `privacy` object
        (mechanism, sigma, rho per increment, the budget per person, the increments used);
        409 until an increment is measured. The authority gets the exact table with
        small-cell suppression at the campaign's threshold (`min_cell` may only raise it).
        Reports and recall are expensive: at most `expensive_in_flight` per token at once,
        then 429 with Retry-After."""
        from jobs.report.build import campaign_report, parse_by
        from jobs.report.formats import render

        cid = campaign(request, campaign_id)
        threshold = _threshold(config, cid)
        if min_cell is not None and min_cell < threshold:
            raise HTTPException(400, f"min_cell {min_cell} is below the campaign's threshold "
                                f"{threshold}; a report may only suppress more, never less")
        try:
            grouping = parse_by(by)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        cells = max(threshold, min_cell or 0)
        who: Identity = request.state.identity
        with expensive(request):
            if who.role is ANALYST:
                return _released_report(request, config.store, cid, grouping)
            _released(request, by=",".join(grouping), min_cell=cells, format="json",
                      table="exact")
            built = campaign_report(config.store, cid, by=grouping, min_cell=cells)
            return JSONResponse(content=json.loads(render(built, "json")))

    @route("POST", "/api/v1/campaigns/{campaign_id}/recall", AUTH)
    def recall(request: Request, campaign_id: str, min_category: str = "4A") -> Response:
        from jobs.recall import export_recall

        who: Identity = request.state.identity
        cid = campaign(request, campaign_id)
        spec = config.specs.get(cid)
        if spec is None:
            raise HTTPException(409, f"the service holds no spec for campaign {cid!r}; start "
                                "it with --spec SPEC to serve recall (it reads the sources)")
        try:
            category = Category(min_category.upper())
        except ValueError:
            raise HTTPException(400, f"min_category {min_category[:8]!r} is not a Lung-RADS "
                                "category (e.g. 3, 4A, 4B, 4X)") from None
        _released(request, min_category=category.value, format="csv")
        with expensive(request), tempfile.TemporaryDirectory(prefix="lungscreen-recall-") as tmp:
            out = Path(tmp) / "recall.csv"
            try:
                export_recall(spec, config.store, min_category=category, out=out,
                              operator=who.name, env=config.env)
            except BadInput as exc:
                raise HTTPException(400, str(exc)) from None
            except LungscreenError as exc:
                raise HTTPException(500, str(exc)) from None
            data = out.read_bytes()
        return Response(data, media_type="text/csv",
                        headers={"Cache-Control": "no-store"})

    return app


def _released_report(request: Request, store: ResultsStore, campaign_id: str,
                     grouping: tuple[str, ...]) -> JSONResponse:
    """An analyst's report: derived from the release base (noisy, consistent counts and the
    `privacy` object), never from per-study rows. 409 while nothing is measured."""
    from jobs.release import released_table, render_released

    _released(request, by=",".join(grouping), format="json", table="released")
    try:
        table = released_table(store, campaign_id, by=grouping)
    except BadInput as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(content=json.loads(render_released(table, "json")))


def _threshold(config: ServiceConfig, campaign_id: str) -> int:
    spec = config.specs.get(campaign_id)
    return max(config.min_cell_floor, spec.privacy.min_cell if spec is not None else 0)


def _released(request: Request, **params: str | int) -> None:
    """Record what shaped a release (grouping, threshold, format) for the request's audit
    event: values the route has validated, never the raw query text."""
    request.state.released = params


def _audit(request: Request, status: int) -> None:
    """One audit event per request: who, role, route, campaign, outcome, and the validated
    parameters that shaped what was released (`_released`); no PHI (routes are templates,
    the campaign id is the only path parameter kept)."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    identity: Identity | None = getattr(request.state, "identity", None)
    campaign_id = request.path_params.get("campaign_id")
    store: ResultsStore = request.app.state.store
    known = campaign_id if campaign_id and store.campaign(campaign_id) is not None else None
    store.audit(known, "api_request", who=identity.name if identity else "",
                role=identity.role.value if identity else "", method=request.method,
                route=template, status=status,
                refusal=getattr(request.state, "refusal", ""),
                **getattr(request.state, "released", {}))
