"""Who a request comes from, and whether its role may use the route.

`require(*roles)` is the dependency every route declares: no or a bad bearer token (also one
whose row the service's token key did not mint) is 401, a role the route does not serve is
403, and failed sign-ins are limited per client address and per presented token id (429;
jobs.service.limits), never a valid token. The identity lands on `request.state` for the
audit middleware.

The page's session cookie (jobs.service.sessions) counts as the bearer token it was opened
with, on GET and HEAD only: a cross-site form can never make a cookie change state. A
bearer token in the Authorization header wins over the cookie.

A bearer value shaped as a JWT goes to single sign-on (jobs.service.oidc) when the service
has an identity provider configured, else it is a bad token. Its refusals are the same
generic 401, the reason (`oidc_*`) kept in the audit row only, and are limited per client
address alone: a JWT's `sub` or `jti` is the sender's to choose before its signature is
checked, so it keys nothing. The page's session cookie only ever holds a lungscreen token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobs.service.limits import FailedLogins
from jobs.service.oidc import OidcRefused, OidcVerifier, looks_like_jwt
from jobs.service.sessions import SESSION_COOKIE, Sessions
from jobs.store import Identity, ResultsStore, TokenKey
from kernel.roles import Role

__all__ = ["authenticate", "require", "roles_extra"]

_TOKEN_ID = re.compile(r"^ls_([0-9a-f]{32})_")

_bearer = HTTPBearer(auto_error=False)
_REFUSALS = {"bearer": "bad_token", "session": "bad_session",
             "session_write": "cookie_not_for_writes"}  # by how the token came


def roles_extra(*roles: Role) -> dict[str, Any]:
    """The OpenAPI extension that publishes a route's roles (`x-roles`)."""
    return {"x-roles": [r.value for r in roles]}


def require(*roles: Role) -> Callable[..., Identity]:
    """A dependency admitting the holders of a valid token whose role is in `roles`."""
    allowed = frozenset(roles)

    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
              ) -> Identity:
        return _authorise(request, authenticate(request, credentials), allowed)

    return check


def _presented(request: Request, credentials: HTTPAuthorizationCredentials | None,
               ) -> tuple[str | None, str]:
    """The token a request presents, and how: the bearer token, else (GET and HEAD only)
    the token of the page's session cookie."""
    if credentials is not None:
        return credentials.credentials, "bearer"
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and request.method not in ("GET", "HEAD"):
        return None, "session_write"  # a cookie never authorises a change
    if sid:
        sessions: Sessions = request.app.state.sessions
        return sessions.token(sid), "session"
    return None, ""


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None, *,
                 oidc: bool = True) -> Identity:
    """The holder of the request's token (bearer or session cookie; with `oidc`, a bearer
    JWT from the configured identity provider too); 401, or 429 once the client address
    or the presented token id has failed too often."""
    limiter: FailedLogins = request.app.state.failed_logins
    token, via = _presented(request, credentials)
    identity, refusal = _identify(request, token, via, oidc)
    if identity is None:  # a valid token is served whatever others did
        keys = [f"addr:{request.client.host if request.client else '?'}"]
        match = _TOKEN_ID.match(credentials.credentials) if credentials else None
        if match:
            keys.append(f"token:{match.group(1)}")
        if limiter.blocked(*keys):
            request.state.refusal = "rate_limited"
            raise HTTPException(429, "too many failed sign-ins from this address or for "
                                "this token; wait a minute",
                                headers={"Retry-After": str(int(limiter.window_s))})
        limiter.failed(*keys)
        request.state.refusal = refusal
        raise HTTPException(401, "a valid bearer token is required (lungscreen token "
                            "create)", headers={"WWW-Authenticate": "Bearer"})
    request.state.identity = identity
    return identity


def _identify(request: Request, token: str | None, via: str, oidc: bool,
              ) -> tuple[Identity | None, str]:
    """The token's holder, or None and the refusal's reason (for the audit row)."""
    refusal = _REFUSALS.get(via, "no_token")
    if not token:
        return None, refusal
    verifier: OidcVerifier | None = request.app.state.oidc
    if via == "bearer" and looks_like_jwt(token):
        if verifier is None or not oidc:
            return None, refusal
        try:
            return verifier.identify(token), ""
        except OidcRefused as refused:
            return None, refused.reason
    store: ResultsStore = request.app.state.store
    key: TokenKey = request.app.state.token_key
    identity = store.identify(token, key)
    return identity, "" if identity else refusal


def _authorise(request: Request, identity: Identity, allowed: frozenset[Role]) -> Identity:
    """`identity` when its role is in `allowed`; 403 naming the roles otherwise."""
    if identity.role not in allowed:
        request.state.refusal = "wrong_role"
        raise HTTPException(403, f"role {identity.role.value} may not use this route; it "
                            f"serves: {', '.join(sorted(r.value for r in allowed))}")
    return identity
