"""Single sign-on: JWT bearer tokens from an OpenID Connect provider (PyJWT).

A token is admitted when its header names an accepted algorithm (RS256 or ES256: never
`none` nor HS*, so a provider's public key can never serve as an HMAC secret) and a `kid`
in the provider's key set (jobs.service.jwks), its signature verifies under that key, and
its claims hold: `iss` is the configured issuer, `aud` holds the configured audience, `exp`,
`iat` and `sub` are present, `exp` and `nbf` are met within `leeway_s` (at most 60 s).

Its role comes from the claim at `roles_claim` (a dotted path, e.g. Keycloak's
`realm_access.roles`), each name looked up in `role_map`; names not in the map are ignored
(Keycloak adds `offline_access` and the like). No mapped role, or more than one, is refused:
roles are not ranked (an authority is not an analyst, nor ops a reader), so any pick would
grant one person's access by a rule the provider's administrators cannot see.

The identity is `oidc:<sub>` (or `oidc:<preferred_username>` with `name_claim`): no e-mail
or other claim reaches the audit trail. With `campaigns_claim`, the token must carry the
campaign ids its holder sees (a token without the claim is refused, never unscoped).

Every refusal is an `OidcRefused` whose `reason` (a code of REASONS) goes to the audit
row; the token itself is never logged nor echoed. The configuration: jobs.service.oidc_config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jwt

from jobs.service.jwks import KeyNotFound, KeysUnavailable
from jobs.service.oidc_config import ALGORITHMS, OidcConfig, parse_role_map
from jobs.store import Identity
from kernel.roles import Role

__all__ = ["ALGORITHMS", "REASONS", "OidcConfig", "OidcRefused", "OidcVerifier",
           "looks_like_jwt", "parse_role_map"]

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_CAMPAIGN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # a spec's id (jobs.spec.campaign_spec)
_MAX_TOKEN = 16 * 1024  # bytes: far above any provider's access token
_REQUIRED = ["exp", "iat", "iss", "aud", "sub"]
# the most specific first: InvalidSignatureError is a DecodeError
_MAPPED: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "oidc_expired"),
    (jwt.ImmatureSignatureError, "oidc_not_yet_valid"),
    (jwt.InvalidIssuerError, "oidc_bad_issuer"),
    (jwt.InvalidAudienceError, "oidc_bad_audience"),
    (jwt.InvalidSignatureError, "oidc_bad_signature"),
    (jwt.InvalidAlgorithmError, "oidc_bad_algorithm"),
    (jwt.MissingRequiredClaimError, "oidc_missing_claim"),
    (jwt.DecodeError, "oidc_malformed"),
)
REASONS = ("oidc_expired", "oidc_not_yet_valid", "oidc_bad_issuer", "oidc_bad_audience",
           "oidc_bad_signature", "oidc_bad_algorithm", "oidc_missing_claim",
           "oidc_malformed", "oidc_invalid", "oidc_unknown_key", "oidc_jwks_unavailable",
           "oidc_no_role", "oidc_unknown_role", "oidc_ambiguous_role", "oidc_bad_subject",
           "oidc_bad_scope")


def looks_like_jwt(value: str) -> bool:
    """Whether a bearer value has a JWT's shape (three base64url parts; the last may be
    empty, as `alg: none` has it), not a lungscreen token's `ls_...`."""
    return not value.startswith("ls_") and _JWT.match(value) is not None


class OidcRefused(Exception):
    """A token not admitted; `reason` is one of REASONS (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class OidcVerifier:
    """Checks tokens against one `OidcConfig` (its key source made once)."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys = config.keys()

    def identify(self, token: str) -> Identity:
        """The token's holder; OidcRefused with the reason otherwise."""
        c = self.config
        if len(token) > _MAX_TOKEN or not looks_like_jwt(token):
            raise OidcRefused("oidc_malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused("oidc_malformed") from None
        if header.get("alg") not in c.algorithms:  # before any key is looked up or fetched
            raise OidcRefused("oidc_bad_algorithm")
        kid = header.get("kid")
        try:
            key = self._keys.key(kid) if isinstance(kid, str) else None
        except KeyNotFound:
            key = None
        except KeysUnavailable:
            raise OidcRefused("oidc_jwks_unavailable") from None
        if key is None:
            raise OidcRefused("oidc_unknown_key")
        try:
            claims = jwt.decode(token, key, algorithms=list(c.algorithms), audience=c.audience,
                                issuer=c.issuer, leeway=c.leeway_s,
                                options={"require": _REQUIRED})
        except jwt.PyJWTError as exc:
            raise OidcRefused(next((r for t, r in _MAPPED if isinstance(exc, t)),
                                   "oidc_invalid")) from None
        return Identity(self._name(claims), self._role(claims), self._campaigns(claims))

    def _name(self, claims: Mapping[str, Any]) -> str:
        value = claims.get(self.config.name_claim)
        if not isinstance(value, str) or not 0 < len(value) <= 255 or not value.isprintable():
            raise OidcRefused("oidc_bad_subject")
        return f"oidc:{value}"

    def _role(self, claims: Mapping[str, Any]) -> Role:
        names = _claim(claims, self.config.roles_claim)
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            raise OidcRefused("oidc_no_role")
        roles = {self.config.role_map[n] for n in names
                 if isinstance(n, str) and n in self.config.role_map}
        if not roles:
            raise OidcRefused("oidc_unknown_role")
        if len(roles) > 1:
            raise OidcRefused("oidc_ambiguous_role")
        return roles.pop()

    def _campaigns(self, claims: Mapping[str, Any]) -> frozenset[str] | None:
        if self.config.campaigns_claim is None:
            return None
        ids = _claim(claims, self.config.campaigns_claim)
        if not isinstance(ids, list) or not all(
                isinstance(i, str) and _CAMPAIGN.match(i) for i in ids):
            raise OidcRefused("oidc_bad_scope")
        return frozenset(ids)
