"""The identity provider's signing keys (a JWKS), looked up by a token's `kid`.

- `JwksFile`: a JWKS file, read once when the service starts (BadInput when unusable).
- `JwksUrl`: the provider's JWKS URL through PyJWT's `PyJWKClient`: the key set is cached
  for `cache_s`, fetched with a `timeout_s`, never through a redirect; an unknown `kid`
  refetches it at most once per `refresh_min_s` (PyJWKClient's cooldown), and a failed
  fetch is not retried within `refresh_min_s` either, so tokens with made-up key ids cannot
  make the service hammer the provider, up or down.

Only keys for signing (`use` sig or absent) whose algorithm is one the service accepts are
kept: a symmetric (`oct`) key published by mistake can never verify a token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWTError

from kernel.errors import BadInput

__all__ = ["JwksFile", "JwksUrl", "KeyNotFound", "KeysUnavailable"]


class KeyNotFound(Exception):
    """No usable signing key has the token's `kid`."""


class KeysUnavailable(Exception):
    """The JWKS URL did not answer with a key set (or failed within `refresh_min_s`)."""


def _usable(keys: Iterable[PyJWK], algorithms: Iterable[str]) -> dict[str, PyJWK]:
    allowed = set(algorithms)
    return {k.key_id: k for k in keys if k.key_id and k.public_key_use in ("sig", None)
            and k.algorithm_name in allowed}


class JwksFile:
    """The signing keys of the JWKS file `path`, read once."""

    def __init__(self, path: Path, algorithms: Iterable[str]) -> None:
        try:
            if Path(path).stat().st_mode & 0o022:  # whoever may write it chooses the keys
                raise BadInput(f"JWKS file {str(path)!r} is writable by group or others; "
                               f"run `chmod go-w {path}` and start again")
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            keys = _usable(PyJWKSet.from_dict(data).keys, algorithms)
        except (OSError, ValueError, PyJWTError) as exc:
            raise BadInput(f"JWKS file {str(path)!r} cannot be used ({type(exc).__name__}); "
                           "expected the provider's key set as JSON ({\"keys\": [...]}), "
                           "e.g. saved from its jwks_uri") from None
        if not keys:
            raise BadInput(f"JWKS file {str(path)!r} holds no signing key with a kid for "
                           f"{', '.join(sorted(set(algorithms)))}; save the provider's "
                           "current jwks_uri")
        self._keys = keys

    def key(self, kid: str) -> PyJWK:
        """The signing key `kid`; KeyNotFound when the file has none."""
        found = self._keys.get(kid)
        if found is None:
            raise KeyNotFound
        return found


class _FetchFailed(Exception):
    """The JWKS URL did not answer with a usable key set, now or lately."""


class _Client(PyJWKClient):
    """PyJWKClient that also holds back after a failed fetch: a wrong answer (HTML, a set
    with no key) or a timeout is not retried within `retry_s`. A cached set is still
    served meanwhile; only fetches are held back."""

    retry_s = 30.0
    failed_at: float | None = None

    def fetch_data(self) -> Any:
        if self.failed_at is not None and time.monotonic() - self.failed_at < self.retry_s:
            raise _FetchFailed("failed lately")
        try:
            return super().fetch_data()
        except Exception as exc:
            self.failed_at = time.monotonic()
            raise _FetchFailed(type(exc).__name__) from None


class JwksUrl:
    """The signing keys served at `url` (see the module doc for the caching)."""

    def __init__(self, url: str, algorithms: Iterable[str], *, cache_s: float = 300.0,
                 refresh_min_s: float = 30.0, timeout_s: float = 5.0) -> None:
        self.algorithms = frozenset(algorithms)
        self._client = _Client(url, cache_jwk_set=True, lifespan=cache_s, timeout=timeout_s,
                               cooldown_duration=refresh_min_s,
                               headers={"User-Agent": "lungscreen"})
        self._client.retry_s = refresh_min_s

    def key(self, kid: str) -> PyJWK:
        """The signing key `kid`; KeyNotFound, or KeysUnavailable when the key set could
        not be fetched (now, or less than `refresh_min_s` ago)."""
        try:
            found = self._client.get_signing_key(kid)
        except _FetchFailed:
            raise KeysUnavailable from None
        except PyJWTError:  # no such kid (after at most one refetch per refresh_min_s)
            raise KeyNotFound from None
        usable = _usable([found], self.algorithms)
        if kid not in usable:
            raise KeyNotFound
        return usable[kid]
