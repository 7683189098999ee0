"""What single sign-on trusts (jobs.service.oidc): the provider's issuer, the audience,
where its keys are (a JWKS file, or its JWKS URL: https, or plain http to loopback only),
the claims that carry roles, campaigns and the name, and the accepted algorithms (RS256 and
ES256 only) and clock leeway (at most 60 s); checked when made, with the value and the fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from jobs.service.jwks import JwksFile, JwksUrl
from kernel.errors import BadInput
from kernel.roles import Role

__all__ = ["ALGORITHMS", "OidcConfig", "parse_role_map"]

ALGORITHMS = ("RS256", "ES256")


def parse_role_map(text: str) -> dict[str, Role]:
    """`idp-role=lungscreen-role,...` as a map; BadInput naming a bad pair."""
    found: dict[str, Role] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        idp, _, ours = pair.partition("=")
        if not idp.strip() or ours.strip() not in {r.value for r in Role}:
            raise BadInput(f"role map entry {pair[:64]!r}: expected IDP_ROLE=ROLE with ROLE "
                           f"one of {', '.join(r.value for r in Role)}")
        found[idp.strip()] = Role(ours.strip())
    if not found:
        raise BadInput("the role map is empty; expected e.g. lungscreen-analyst=analyst")
    return found


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OidcConfig:
    """The provider the service trusts, and how its tokens map to lungscreen identities
    (jobs.service.oidc); checked when made."""

    issuer: str
    audience: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
    roles_claim: str = "realm_access.roles"
    role_map: Mapping[str, Role] = field(
        default_factory=lambda: MappingProxyType({r.value: r for r in Role}))
    campaigns_claim: str | None = None
    name_claim: str = "sub"
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway_s: int = 30
    jwks_cache_s: float = 300.0
    jwks_refresh_min_s: float = 30.0
    jwks_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.issuer.strip() or not self.audience.strip():
            raise BadInput("single sign-on needs an issuer and an audience (--oidc-issuer, "
                           "--oidc-audience)")
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise BadInput("single sign-on needs one key source: --oidc-jwks-file FILE or "
                           "--oidc-jwks-url URL")
        if self.jwks_url is not None:
            url = urlsplit(self.jwks_url)
            if url.scheme not in ("https", "http") or not url.hostname:
                raise BadInput(f"--oidc-jwks-url {self.jwks_url[:128]!r} is not an http(s) "
                               "URL; expected the provider's jwks_uri")
            if url.scheme == "http" and not _loopback(url.hostname):
                raise BadInput(f"--oidc-jwks-url {self.jwks_url[:128]!r} is plain HTTP to "
                               f"{url.hostname}: anyone on the path could swap the keys; use "
                               "https (plain http only to a loopback address)")
        bad = sorted(set(self.algorithms) - set(ALGORITHMS))
        if bad or not self.algorithms:
            raise BadInput(f"algorithm {(bad or ['(none)'])[0]!r} is not accepted; single "
                           f"sign-on verifies {', '.join(ALGORITHMS)} only")
        if not 0 <= self.leeway_s <= 60:
            raise BadInput(f"clock leeway {self.leeway_s} s is outside 0..60 s")
        if self.name_claim not in ("sub", "preferred_username"):
            raise BadInput(f"name claim {self.name_claim[:32]!r}: expected sub or "
                           "preferred_username")
        for path in (self.roles_claim, self.campaigns_claim or "x"):
            if not all(path.split(".")):
                raise BadInput(f"claim path {path[:64]!r}: expected names joined by dots, "
                               "e.g. realm_access.roles")
        if not self.role_map:
            raise BadInput("the role map is empty; expected e.g. lungscreen-analyst=analyst")

    def keys(self) -> JwksFile | JwksUrl:
        """The key source: the file read now, or the URL's client (fetched on first use)."""
        if self.jwks_file is not None:
            return JwksFile(self.jwks_file, self.algorithms)
        assert self.jwks_url is not None
        return JwksUrl(self.jwks_url, self.algorithms, cache_s=self.jwks_cache_s,
                       refresh_min_s=self.jwks_refresh_min_s, timeout_s=self.jwks_timeout_s)
