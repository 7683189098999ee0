"""Who a request comes from, and whether its role may use the route.

`require(*roles)` is the dependency every route declares: no or a bad bearer token (also one
whose row the service's token key did not mint) is 401,
a role the route does not serve is 403, and failed logins from one client are rate-limited
(429) and audited. The identity lands on `request.state` for the audit middleware.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobs.store import ResultsStore, TokenKey
from jobs.store.tokens import Identity
from kernel.roles import Role

__all__ = ["FailedLogins", "require", "roles_extra"]

_bearer = HTTPBearer(auto_error=False)


class FailedLogins:
    """At most `limit` failed logins per client address in `window_s`; then 429."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.setdefault(client, deque())
        while times and times[0] < now - self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())


def roles_extra(*roles: Role) -> dict[str, Any]:
    """The OpenAPI extension that publishes a route's roles (`x-roles`)."""
    return {"x-roles": [r.value for r in roles]}


def require(*roles: Role) -> Callable[..., Identity]:
    """A dependency admitting the holders of a valid token whose role is in `roles`."""
    allowed = frozenset(roles)

    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
              ) -> Identity:
        store: ResultsStore = request.app.state.store
        limiter: FailedLogins = request.app.state.failed_logins
        client = request.client.host if request.client else "?"
        if limiter.blocked(client):
            request.state.refusal = "rate_limited"
            raise HTTPException(429, "too many failed logins from this address; wait a minute")
        key: TokenKey = request.app.state.token_key
        identity = store.identify(credentials.credentials, key) if credentials else None
        if identity is None:
            limiter.failed(client)
            request.state.refusal = "no_token" if credentials is None else "bad_token"
            raise HTTPException(401, "a valid bearer token is required (lungscreen token "
                                "create)", headers={"WWW-Authenticate": "Bearer"})
        request.state.identity = identity
        if identity.role not in allowed:
            request.state.refusal = "wrong_role"
            raise HTTPException(403, f"role {identity.role.value} may not use this route; it "
                                f"serves: {', '.join(sorted(r.value for r in allowed))}")
        return identity

    return check
