"""`serve`'s single sign-on options (`--oidc-*`) and the OidcConfig they make
(jobs.service.oidc): none given, the service admits lungscreen tokens only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.service import OidcConfig

__all__ = ["add_oidc", "oidc_config"]

_FLAGS = ("oidc_issuer", "oidc_audience", "oidc_jwks_file", "oidc_jwks_url",
          "oidc_roles_claim", "oidc_role_map", "oidc_campaigns_claim", "oidc_name_claim")


def add_oidc(p: argparse.ArgumentParser) -> None:
    """Add the `--oidc-*` options to `p`."""
    g = p.add_argument_group(
        "single sign-on (OpenID Connect)", "also admit the JWT access tokens of an identity "
        "provider (RS256/ES256), checked against its issuer, audience and keys")
    g.add_argument("--oidc-issuer", metavar="URL", help="the tokens' `iss`, exactly (e.g. "
                   "https://kc.example.org/realms/health)")
    g.add_argument("--oidc-audience", metavar="AUD", help="an `aud` every token must hold "
                   "(e.g. the client id lungscreen)")
    keys = g.add_mutually_exclusive_group()
    keys.add_argument("--oidc-jwks-file", type=Path, metavar="FILE",
                      help="the provider's signing keys as a JWKS file, read at start")
    keys.add_argument("--oidc-jwks-url", metavar="URL", help="the provider's jwks_uri "
                      "(https; cached 5 minutes, refetched at most every 30 s)")
    g.add_argument("--oidc-roles-claim", metavar="PATH", help="the claim holding the roles, "
                   "a dotted path (default realm_access.roles; a client's: "
                   "resource_access.CLIENT.roles)")
    g.add_argument("--oidc-role-map", metavar="IDP=ROLE,...", help="provider role names to "
                   "lungscreen roles, e.g. lungscreen-analyst=analyst (default: the same "
                   "names: authority, analyst, ops, reader)")
    g.add_argument("--oidc-campaigns-claim", metavar="PATH", help="a claim listing the "
                   "campaign ids its holder sees (default: no scope, every campaign)")
    g.add_argument("--oidc-name-claim", choices=("sub", "preferred_username"),
                   help="who the audit trail names: oidc:<sub> (default) or "
                   "oidc:<preferred_username>")


def oidc_config(args: argparse.Namespace) -> OidcConfig | None:
    """The OidcConfig the options name; None when none is given; BadInput when some are
    but not the issuer, audience and one key source."""
    from jobs.service import OidcConfig, parse_role_map  # fastapi: serve only

    given = {f: getattr(args, f) for f in _FLAGS if getattr(args, f) is not None}
    if not given:
        return None
    missing = [f"--{f.replace('_', '-')}" for f in ("oidc_issuer", "oidc_audience")
               if f not in given]
    if missing:
        raise BadInput(f"single sign-on needs {' and '.join(missing)} with the other --oidc-* "
                       "options")
    extra: dict[str, Any] = {}  # the config's defaults where no option is given
    if args.oidc_roles_claim is not None:
        extra["roles_claim"] = args.oidc_roles_claim
    if args.oidc_role_map is not None:
        extra["role_map"] = parse_role_map(args.oidc_role_map)
    if args.oidc_name_claim is not None:
        extra["name_claim"] = args.oidc_name_claim
    return OidcConfig(args.oidc_issuer, args.oidc_audience, jwks_file=args.oidc_jwks_file,
                      jwks_url=args.oidc_jwks_url, campaigns_claim=args.oidc_campaigns_claim,
                      **extra)
