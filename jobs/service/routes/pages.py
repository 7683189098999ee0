"""The analysts' page: server-rendered HTML (jobs.service.web), no script.

`GET /` signs in with a token (a form; the token never travels in a URL) and opens a session
(jobs.service.sessions); `GET /campaigns` lists the campaigns the identity sees; `GET
/campaigns/{id}?by=...` is an analyst's campaign page: the released tables (the release's
template), a grouping chooser, progress from released numbers only, the noise and what it
means, and downloads through the report route (the session cookie works there too). `GET
/campaigns/{id}/exact` is the authority's exact, suppressed report. The two POST forms carry
a CSRF token and are refused from another origin.

Single sign-on: the form takes lungscreen tokens only. A JWT from the identity provider is
admitted on every page and API route in the Authorization header (an authenticating proxy
that runs the provider's authorization-code flow can add it), but not pasted here: users do
not hold their access tokens (taking one from a browser's tools is what phishing asks for),
and one lives minutes, so the session would end mid-reading. The service's own
authorization-code flow (redirect, state, PKCE, a session per sign-in) is not built yet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials

from jobs import release
from jobs import report as exact
from jobs.release import groupings, page_context
from jobs.service.auth import authenticate
from jobs.service.deps import Caller, CampaignId, Config, Slot, record_release
from jobs.service.oidc import looks_like_jwt
from jobs.service.routes.reports import Grouping, Increments, MinCell
from jobs.service.sessions import NONCE_COOKIE, SESSION_COOKIE, Sessions
from jobs.service.web import PAGE_TAG, nav, page_for, render, secure, templates
from kernel.errors import BadInput
from kernel.roles import Role

__all__ = ["router"]

router = APIRouter(tags=[PAGE_TAG])
_open: dict[str, Any] = {"include_in_schema": False, "response_class": Response}
_PAGE_ROLES = (Role.AUTHORITY, Role.ANALYST)
_MAX_FORM = 8192  # bytes: a token and a CSRF token fit many times over


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int
            ) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def _same_origin(request: Request) -> bool:
    """False for a request a browser marks as sent from another site or origin. An absent
    or opaque ("null") Origin leaves the decision to the CSRF token: under the pages'
    Referrer-Policy no-referrer, Chromium sends `Origin: null` with their own forms."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin in (None, "null") or origin == f"{request.url.scheme}://{request.url.netloc}"


async def _form(request: Request) -> dict[str, str]:
    """The posted form's fields (the first value of each); 413 past `_MAX_FORM` bytes,
    read no further."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise HTTPException(413, "the form is larger than a sign-in form can be")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _signin_page(request: Request, status: int = 200, error: str = "") -> Response:
    sessions = _sessions(request)
    nonce = sessions.nonce()
    response = render("signin.html", status, csrf=sessions.csrf(nonce), error=error)
    _cookie(request, response, NONCE_COOKIE, nonce, 3600)
    return response


@router.get("/", **_open)
def signin_form(request: Request, config: Config) -> Response:
    """The sign-in form; an open session goes on to the campaign list."""
    token = _sessions(request).token(request.cookies.get(SESSION_COOKIE))
    if token and config.store.identify(token, config.token_key) is not None:
        return secure(RedirectResponse("/campaigns", status_code=303))
    return _signin_page(request)


@router.post("/signin", **_open)
async def signin(request: Request) -> Response:
    """Open a session for the posted token: 303 to the campaigns with the session cookie;
    401 (the form again) for a bad token, counted by the failed sign-in limit (429)."""
    form = await _form(request)
    sessions = _sessions(request)
    if not _same_origin(request) or not sessions.csrf_ok(request.cookies.get(NONCE_COOKIE),
                                                         form.get("csrf")):
        request.state.refusal = "csrf"
        return _signin_page(request, 403, "The sign-in form had expired or came from "
                            "another site; sign in again here.")
    token = form.get("token", "").strip()
    try:  # a lungscreen token only: see the module doc on single sign-on
        who = authenticate(request, HTTPAuthorizationCredentials(scheme="Bearer",
                                                                 credentials=token),
                           oidc=False)
    except HTTPException as exc:
        return _signin_page(request, exc.status_code, "Too many failed sign-ins; wait a "
                            "minute." if exc.status_code == 429 else "That token is not "
                            "valid (unknown, expired or revoked)." if not looks_like_jwt(
                                token) else "Sign in here with a lungscreen token; single "
                            "sign-on tokens are taken in the Authorization header only.")
    if who.role not in _PAGE_ROLES:
        request.state.refusal = "wrong_role"
        return _signin_page(request, 403, f"The page serves analysts and the authority; a "
                            f"{who.role.value} token has no page.")
    response = secure(RedirectResponse("/campaigns", status_code=303))
    _cookie(request, response, SESSION_COOKIE, sessions.open(token), sessions.ttl_s)
    response.delete_cookie(NONCE_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/signout", **_open)
async def signout(request: Request, config: Config) -> Response:
    """End the session (its id is forgotten here, its cookie removed); 303 to `/`."""
    form = await _form(request)
    sessions, sid = _sessions(request), request.cookies.get(SESSION_COOKIE)
    if not _same_origin(request) or not sessions.csrf_ok(sid, form.get("csrf")):
        request.state.refusal = "csrf"
        raise HTTPException(403, "sign-out needs the page's own form")
    token = sessions.token(sid)
    who = config.store.identify(token, config.token_key) if token else None
    if who is not None:
        request.state.identity = who  # the audit names who signed out
    sessions.close(sid)
    response = secure(RedirectResponse("/", status_code=303))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/campaigns", **page_for(*_PAGE_ROLES))
def campaign_list(request: Request, who: Caller, config: Config) -> Response:
    """The campaigns the identity sees, each linked to its page for the role."""
    exact = who.role is Role.AUTHORITY
    rows = [{"id": c.id, "state": c.state.value,
             "href": f"/campaigns/{quote(c.id, safe='')}" + ("/exact" if exact else "")}
            for c in config.store.campaigns() if who.sees(c.id)]
    return render("campaigns.html", campaigns=rows, **nav(request, who))


@router.get("/campaigns/{campaign_id}", **page_for(Role.ANALYST))
def campaign_page(request: Request, campaign_id: CampaignId, who: Caller, config: Config,
                  grouping: Grouping, _slot: Slot, increments: Increments = None) -> Response:
    """The campaign's released tables by `by`, over every increment or the ones chosen
    (`increments`: a period); 409 (a page) until an increment is measured."""
    by = ",".join(grouping)
    period = ",".join(map(str, increments)) if increments else ""
    record_release(request, by=by, format="page", table="released",
                   increments=period or "all")
    try:
        table = release.released_table(config.store, campaign_id, by=grouping,
                                       increments=increments)
    except BadInput as exc:
        raise HTTPException(409, str(exc)) from None
    api = f"/api/v1/campaigns/{quote(campaign_id, safe='')}/report?"
    choices = [(",".join(g), " × ".join(d.replace("_", " ") for d in g)) for g in groupings()]
    if by not in {value for value, _ in choices}:
        choices.append((by, " × ".join(d.replace("_", " ") for d in grouping)))
    periods = [("", "every increment")] + [
        (str(i.seq), f"increment {i.seq} ({i.first_commit:%Y-%m-%d} to {i.last_commit:%Y-%m-%d})")
        for i in config.store.increments(campaign_id)]
    if period and period not in {value for value, _ in periods}:
        periods.append((period, f"increments {period}"))
    query = {"by": by, **({"increments": period} if period else {})}
    html = templates().get_template("campaign.html").render(
        **page_context(table), **nav(request, who), choices=choices, chosen=by,
        periods=periods, period=period,
        downloads=[(fmt, api + urlencode({**query, "format": fmt}))
                   for fmt in ("csv", "json", "parquet")])
    return secure(Response(html, media_type="text/html"))


@router.get("/campaigns/{campaign_id}/exact", **page_for(Role.AUTHORITY))
def exact_page(request: Request, campaign_id: CampaignId, config: Config,
               grouping: Grouping, min_cell: MinCell, _slot: Slot) -> Response:
    """The authority's exact report, suppressed at the threshold in force."""
    record_release(request, by=",".join(grouping), min_cell=min_cell, format="page",
                   table="exact")
    built = exact.campaign_report(config.store, campaign_id, by=grouping, min_cell=min_cell)
    return secure(Response(exact.render(built, "html"), media_type="text/html"))
