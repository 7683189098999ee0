"""What a route declares, in one place: the roles it serves (`serves`: the role check, its
`x-roles`, its error responses documented), the service's config (`Config`), the caller
(`Caller`), the campaign in the caller's scope (`CampaignId`, else 404), a slot for an
expensive request (`Slot`, else 429), and whether a request is audited (`unaudited`).

A route with its roles is then one function in one routes/ module:

    @router.get("/campaigns/{campaign_id}/thing", response_model=Thing,
                **serves(AUTH, OPS, errors=(404,)))
    def thing(campaign_id: CampaignId, config: Config) -> Thing: ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from jobs.service.auth import require, roles_extra
from jobs.service.config import ServiceConfig
from jobs.service.limits import Busy, InFlight
from jobs.service.models import Error
from jobs.store import Identity
from kernel.roles import Role

__all__ = ["ERRORS", "Caller", "CampaignId", "Config", "Slot", "documented", "record_release",
           "serves", "unaudited"]

ERRORS: dict[int, str] = {
    400: "a query parameter is invalid (the message names it and what it expects)",
    401: "no valid bearer token (lungscreen token create)",
    403: "the token's role is not one this route serves (`x-roles`)",
    404: "no such campaign in the token's scope (the same answer for both)",
    406: "the Accept header names no media type this route serves",
    409: "the campaign is not ready for this request (the message says what to run)",
    429: "too many failed sign-ins from this address or for this token, or (reports, "
         "recall) too many of this token's expensive requests in flight; see Retry-After",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for `codes`: each an Error ({"detail": str}) with its meaning."""
    return {code: {"model": Error, "description": ERRORS[code]} for code in codes}


def serves(*roles: Role, errors: tuple[int, ...] = (),
           ok: dict[str, Any] | None = None) -> dict[str, Any]:
    """The route options of one that admits `roles` only: the role check (401, 403, 429
    after failed sign-ins), the roles published as `x-roles`, those responses and `errors`
    documented, and `ok` (media type -> OpenAPI media object) as more media types of its
    200 response."""
    responses = documented(401, 403, 429, *errors)
    if ok:
        responses[200] = {"content": ok}
    return {"dependencies": [Depends(require(*roles))], "openapi_extra": roles_extra(*roles),
            "responses": responses}


def _config(request: Request) -> ServiceConfig:
    config: ServiceConfig = request.app.state.config
    return config


Config = Annotated[ServiceConfig, Depends(_config)]


def _caller(request: Request) -> Identity:
    identity: Identity = request.state.identity  # set by the role check (`serves`)
    return identity


Caller = Annotated[Identity, Depends(_caller)]


def _campaign(campaign_id: str, who: Caller, config: Config) -> str:
    """`campaign_id` when it exists and the caller's scope covers it; else 404, the same
    answer for both, so a scope tells nothing of the campaigns outside it."""
    if not who.sees(campaign_id) or config.store.campaign(campaign_id) is None:
        raise HTTPException(404, f"no campaign {campaign_id[:64]!r} in this service's store")
    return campaign_id


CampaignId = Annotated[str, Depends(_campaign)]


def _slot(request: Request, who: Caller, config: Config) -> Iterator[None]:
    """A slot of the caller's own for an expensive request, held until the route returns;
    429 with Retry-After when all `expensive_in_flight` are taken."""
    in_flight: InFlight = request.app.state.in_flight
    try:
        with in_flight.hold(who.name):
            yield
    except Busy:
        request.state.refusal = "busy"
        raise HTTPException(
            429, f"{config.expensive_in_flight} expensive requests (reports, recall) of this "
            "token are in flight already; retry when one has finished",
            headers={"Retry-After": str(config.busy_retry_after_s)}) from None


# released before the response is sent, so a client's next request finds it free
Slot = Annotated[None, Depends(_slot, scope="function")]


def unaudited(request: Request) -> None:
    """Mark the request as not audited one row each (the probes and the scrape: see
    jobs.service.routes.ops)."""
    request.state.audited = False


def record_release(request: Request, **params: str | int) -> None:
    """Record what shaped a release (grouping, threshold, format, table) for the request's
    audit event: values the route has validated, never the raw query text."""
    request.state.released = params
