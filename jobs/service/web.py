"""What the analysts' page shares: its Jinja2 templates (the service's own, then the
release's, so `campaign.html` extends `released.html`), its security headers, the role check
of a page, and refusals as HTML (401 answers 303 to the sign-in page instead).

Every page is answered with a Content-Security-Policy that allows no script, no network
asset and no framing (inline styles only: the templates' CSS and the SVG charts), nosniff,
no Referer, and no caching (a shared computer keeps no table after sign-out).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobs.service.auth import require, roles_extra
from jobs.service.sessions import SESSION_COOKIE, Sessions
from jobs.store import Identity
from kernel.roles import Role

__all__ = ["HEADERS", "PAGE_TAG", "nav", "page_for", "refused", "render", "secure", "templates"]

PAGE_TAG = "pages"
"""The tag of every page route: a refusal on one of them is answered in HTML."""

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

@cache
def templates() -> Environment:
    """The pages' Jinja2 environment: autoescaped, undefined names fail."""
    return Environment(loader=ChoiceLoader([PackageLoader("jobs.service", "templates"),
                                            PackageLoader("jobs.release", "templates")]),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def secure(response: Response) -> Response:
    """`response` with the pages' security headers."""
    response.headers.update(HEADERS)
    return response


def render(name: str, code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> Response:
    """Template `name` rendered with `context`, as a page answered with `code`."""
    html = templates().get_template(name).render(**context)
    return secure(HTMLResponse(html, status_code=code, headers=headers))


def page_for(*roles: Role) -> dict[str, Any]:
    """The route options of a page that admits `roles` only (bearer token or session
    cookie; refusals in HTML), kept out of /openapi.json, which documents the API."""
    return {"dependencies": [Depends(require(*roles))], "include_in_schema": False,
            "tags": [PAGE_TAG], "openapi_extra": roles_extra(*roles),
            "response_class": HTMLResponse}


def _is_page(request: Request) -> bool:
    return PAGE_TAG in getattr(request.scope.get("route"), "tags", ())


async def refused(request: Request, exc: Exception) -> Response:
    """The app's handler of HTTPException and of invalid parameters: on a page, 401 is a
    303 to the sign-in page (the stale session cookie removed) and any other refusal an
    HTML page; elsewhere FastAPI's JSON."""
    if isinstance(exc, RequestValidationError):
        if not _is_page(request):
            return await request_validation_exception_handler(request, exc)
        exc = StarletteHTTPException(400, "; ".join(
            f"query parameter {str(e['loc'][-1])!r}: {e['msg']}" for e in exc.errors()))
    assert isinstance(exc, StarletteHTTPException)
    if not _is_page(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 401:
        response = secure(RedirectResponse("/", status_code=303))
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response
    headers = {k: v for k, v in (exc.headers or {}).items() if k == "Retry-After"}
    who = getattr(request.state, "identity", None)
    return render("error.html", exc.status_code, headers, status=exc.status_code,
                  detail=str(exc.detail), **(nav(request, who) if who else {"who": None}))


def nav(request: Request, who: Identity) -> dict[str, Any]:
    """The navigation's context: who is signed in, and the sign-out form's CSRF token
    (none when the page was asked for with a bearer token)."""
    sid = request.cookies.get(SESSION_COOKIE)
    by_cookie = sid and request.headers.get("authorization") is None
    sessions: Sessions = request.app.state.sessions
    return {"who": who, "signout": sessions.csrf(sid) if by_cookie and sid else ""}

