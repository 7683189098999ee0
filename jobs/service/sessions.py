"""The analysts' page's sign-in sessions, held by the service, never by the browser.

Signing in with a token opens a session: a random 256-bit id, the only thing the browser
gets (an HttpOnly, SameSite=Strict, Path=/ cookie, Secure over https). The token stays in
this process's memory; every request re-checks it against the store, so a revoked or
expired token ends its sessions at once, and signing out forgets the id here (a copied
cookie is then worth nothing). A session lasts `ttl_s` (the cookie's Max-Age too), so a
stolen cookie is short-lived where a stolen token would last until it expires. Sessions do
not outlive the process: after a restart the analyst signs in again, as with the
in-memory limits (jobs.service.limits).

CSRF: the cookie authorises GET and HEAD only (jobs.service.auth). The two forms that
change state, sign-in and sign-out, carry a token `csrf(nonce)`: a MAC under this process's
key of the sign-in cookie's nonce (before sign-in) or of the session id (after).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["NONCE_COOKIE", "SESSION_COOKIE", "Sessions"]

SESSION_COOKIE = "lungscreen_session"
NONCE_COOKIE = "lungscreen_signin"


@dataclass(frozen=True)
class _Session:
    token: str
    expires: float  # time.monotonic()


class Sessions:
    """At most `limit` open sessions of `ttl_s` each; the oldest go first past the limit."""

    def __init__(self, ttl_s: int = 2 * 3600, limit: int = 10_000) -> None:
        self.ttl_s, self.limit = ttl_s, limit
        self._key = secrets.token_bytes(32)
        self._open: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> str:
        """A new session for `token`; its id (the cookie's value)."""
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [s for s, v in self._open.items() if v.expires <= now]:
                del self._open[old]
            while len(self._open) >= self.limit:
                del self._open[next(iter(self._open))]  # dicts keep insertion order
            self._open[sid] = _Session(token, now + self.ttl_s)
        return sid

    def token(self, sid: str | None) -> str | None:
        """The token of the open session `sid`; None when unknown or expired."""
        if not sid:
            return None
        with self._lock:
            found = self._open.get(sid)
            if found is not None and found.expires <= time.monotonic():
                del self._open[sid]
                found = None
        return found.token if found else None

    def close(self, sid: str | None) -> None:
        """Forget session `sid` (signing out)."""
        with self._lock:
            self._open.pop(sid or "", None)

    @staticmethod
    def nonce() -> str:
        """A fresh sign-in nonce (the sign-in form's cookie)."""
        return secrets.token_urlsafe(32)

    def csrf(self, nonce: str) -> str:
        """The CSRF token of a form bound to `nonce` (the sign-in nonce or the session id)."""
        return hmac.new(self._key, b"csrf\0" + nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, given: str | None) -> bool:
        """Whether `given` is `nonce`'s CSRF token (constant time)."""
        return bool(nonce and given) and hmac.compare_digest(self.csrf(nonce or ""),
                                                             given or "")
