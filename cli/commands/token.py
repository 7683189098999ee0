"""`lungscreen token init|create|list|revoke`: the service's bearer tokens, in the store,
each for one role and every campaign or only those `--campaign` names.

Tokens expire after 90 days unless `--expires` says otherwise (`never` explicitly). The
store is `--store`, else `LUNGSCREEN_STORE`, else `store` in the state folder's config.toml
(cli.settings).

Minting needs the service's token key (`<state folder>/token.key`, made by `token init` or
the first `serve`): store access alone makes no token the service accepts. Creations and
revocations are audited under the OS account and host that ran them."""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cli.output import add_format
from cli.settings import required_store
from cli.store_option import add_store
from jobs.spec import default_audit_key, default_state_dir, default_token_key, os_operator
from jobs.store import TOKEN_KEY_FILE, ResultsStore
from kernel.errors import BadInput
from kernel.roles import Role

if TYPE_CHECKING:
    from jobs.store import TokenInfo

__all__ = ["DEFAULT_EXPIRY", "expiry", "register"]

DEFAULT_EXPIRY = "90d"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("token", help="bearer tokens for the service, by role")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="make the service's token key in the state folder "
                          "(once; `serve` makes it too)")
    init.set_defaults(func=_init)
    create = sub.add_parser("create", help="a new token (printed once, as the last line); "
                            "needs the token key in the state folder")
    create.add_argument("--role", required=True, choices=[r.value for r in Role],
                        help="what the holder may reach: authority (campaigns, recall), "
                        "analyst (published tables), ops (status, health), reader")
    create.add_argument("--name", required=True,
                        help="who holds it (unique; the name the audit log records)")
    create.add_argument("--expires", default=DEFAULT_EXPIRY, metavar="D",
                        help="lifetime: 30d, 12h, 90m, an ISO date, or never (default "
                        f"{DEFAULT_EXPIRY})")
    create.add_argument("--campaign", action="append", default=None, metavar="ID",
                        help="scope the token to this campaign (repeat, or a comma list): "
                        "its holder sees these only, any other is answered 404 "
                        "(default: every campaign)")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="every token: name, role, expiry, last use, revoked "
                             "(never a secret)")
    add_format(listing, help="a table (default), or json: one object per token")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a token by name, at once")
    revoke.add_argument("--name", required=True, help="the holder whose token to revoke")
    revoke.set_defaults(func=_revoke)
    for child in (create, listing, revoke):  # init touches only the state folder
        add_store(child, default=None, help="results store URL (default: $LUNGSCREEN_STORE, "
                  "else `store` in the state folder's config.toml)")


def expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """`30d`, `12h`, `90m` from now, or an ISO date/time (UTC unless it says); None for
    `never` (or None)."""
    if text is None or text.strip().lower() == "never":
        return None
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"(\d{1,5})([dhm])", text)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now + timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: n})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--expires {text[:40]!r}: expected 30d, 12h, 90m, an ISO date or "
                       "never") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise BadInput(f"--expires {text!r} is in the past")
    return when


def _store(args: argparse.Namespace) -> str:
    return required_store(args.store, os.environ)


def _init(_args: argparse.Namespace) -> int:
    default_token_key(os.environ, create=True)
    print(f"token key ready at {default_state_dir(os.environ) / TOKEN_KEY_FILE} "
          "(owner-only; keep it with the service, never in the store)")
    return 0


def _create(args: argparse.Namespace) -> int:
    scope = None if args.campaign is None else [
        c for item in args.campaign for c in (part.strip() for part in item.split(",")) if c]
    expires = expiry(args.expires)
    key = default_token_key(os.environ)  # never created here: the service's key mints
    with ResultsStore.open(_store(args), audit_key=default_audit_key(os.environ),
                           operator=os_operator()) as store:
        token = store.create_token(args.name, Role(args.role), expires, key=key,
                                   campaigns=scope)
        scoped = {} if scope is None else {"campaigns": ",".join(sorted(set(scope)))}
        store.audit(None, "token_created", name=args.name, role=args.role,
                    expires=_iso(expires) or "never", **scoped)
    where = "every campaign" if scope is None else ", ".join(sorted(set(scope)))
    until = "never expires" if expires is None else f"expires {_iso(expires)}"
    print(f"token for {args.name} ({args.role}; {where}; {until}); shown once, keep it "
          "secret:")
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    with ResultsStore.open(_store(args), create=False) as store:
        tokens = store.tokens()
    if args.format == "json":
        print(json.dumps([_listed(t) for t in tokens], indent=2))
        return 0
    print(f"{'NAME':<24} {'ROLE':<10} {'EXPIRES':<17} {'LAST USED':<17} {'STATE':<8} "
          "CAMPAIGNS")
    for t in tokens:
        expires = t.expires_at.isoformat(timespec="minutes")[:16] if t.expires_at else "never"
        used = t.last_used_at.isoformat(timespec="minutes")[:16] if t.last_used_at else "-"
        scope = "*" if t.campaigns is None else ",".join(sorted(t.campaigns))
        print(f"{t.name:<24} {t.role.value:<10} {expires:<17} {used:<17} {_state(t):<8} "
              f"{scope}")
    return 0


def _state(t: TokenInfo) -> str:
    if t.revoked_at:
        return "revoked"
    return "expired" if t.expires_at and t.expires_at <= datetime.now(UTC) else "live"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds")


def _listed(t: TokenInfo) -> dict[str, Any]:
    """One token for `list --json` (never its secret)."""
    return {"id": t.token_id, "name": t.name, "role": t.role.value,
            "campaigns": None if t.campaigns is None else sorted(t.campaigns),
            "created": _iso(t.created_at), "expires": _iso(t.expires_at),
            "last_used": _iso(t.last_used_at), "revoked": _iso(t.revoked_at),
            "state": _state(t)}


def _revoke(args: argparse.Namespace) -> int:
    key = default_token_key(os.environ)  # revocations are kept beside the service's key
    with ResultsStore.open(_store(args), audit_key=default_audit_key(os.environ),
                           operator=os_operator()) as store:
        store.revoke_token(args.name, key)
        store.audit(None, "token_revoked", name=args.name)
    print(f"revoked the token of {args.name}")
    return 0
