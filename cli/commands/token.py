"""`lungscreen token init|create|list|revoke`: the service's bearer tokens, in the store,
each for one role and every campaign or only those `--campaign` names.

Minting needs the service's token key (`<state folder>/token.key`, made by `token init` or
the first `serve`): store access alone makes no token the service accepts. Creations and
revocations are audited under the OS account and host that ran them."""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.store_option import add_store
from kernel.errors import BadInput
from kernel.roles import Role

__all__ = ["register"]


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
    create.add_argument("--expires", default=None, metavar="D",
                        help="lifetime: 30d, 12h, 90m, or an ISO date (default: none)")
    create.add_argument("--campaign", action="append", default=None, metavar="ID",
                        help="scope the token to this campaign (repeat, or a comma list): "
                        "its holder sees these only, any other is answered 404 "
                        "(default: every campaign)")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="every token: name, role, expiry, revoked")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a token by name, at once")
    revoke.add_argument("--name", required=True, help="the holder whose token to revoke")
    revoke.set_defaults(func=_revoke)
    for child in (create, listing, revoke):  # init touches only the state folder
        add_store(child, required=True, help="results store URL")


def expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """`30d`, `12h`, `90m` from now, or an ISO date/time (UTC unless it says)."""
    if text is None:
        return None
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"(\d{1,5})([dhm])", text)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now + timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: n})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--expires {text[:40]!r}: expected 30d, 12h, 90m or an ISO date"
                       ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise BadInput(f"--expires {text!r} is in the past")
    return when


def _init(_args: argparse.Namespace) -> int:
    from jobs.spec.secrets import default_token_key
    from jobs.spec.state import default_state_dir
    from jobs.store.tokenkey import TOKEN_KEY_FILE

    default_token_key(os.environ, create=True)
    print(f"token key ready at {default_state_dir(os.environ) / TOKEN_KEY_FILE} "
          "(owner-only; keep it with the service, never in the store)")
    return 0


def _create(args: argparse.Namespace) -> int:
    from jobs.spec.operator import os_operator
    from jobs.spec.secrets import default_audit_key, default_token_key
    from jobs.store import ResultsStore

    scope = None if args.campaign is None else [
        c for item in args.campaign for c in (part.strip() for part in item.split(",")) if c]
    key = default_token_key(os.environ)  # never created here: the service's key mints
    with ResultsStore.open(args.store, audit_key=default_audit_key(os.environ),
                           operator=os_operator()) as store:
        token = store.create_token(args.name, Role(args.role), expiry(args.expires), key=key,
                                   campaigns=scope)
        scoped = {} if scope is None else {"campaigns": ",".join(sorted(set(scope)))}
        store.audit(None, "token_created", name=args.name, role=args.role, **scoped)
    where = "every campaign" if scope is None else ", ".join(sorted(set(scope)))
    print(f"token for {args.name} ({args.role}; {where}); shown once, keep it secret:")
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.store import ResultsStore

    with ResultsStore.open(args.store, create=False) as store:
        tokens = store.tokens()
    print(f"{'NAME':<24} {'ROLE':<10} {'EXPIRES':<20} {'STATE':<8} CAMPAIGNS")
    for t in tokens:
        state = "revoked" if t.revoked_at else ("expired" if t.expires_at and
                                                t.expires_at <= datetime.now(UTC) else "live")
        expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
        scope = "*" if t.campaigns is None else ",".join(sorted(t.campaigns))
        print(f"{t.name:<24} {t.role.value:<10} {expires:<20} {state:<8} {scope}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from jobs.spec.operator import os_operator
    from jobs.spec.secrets import default_audit_key, default_token_key
    from jobs.store import ResultsStore

    key = default_token_key(os.environ)  # revocations are kept beside the service's key
    with ResultsStore.open(args.store, audit_key=default_audit_key(os.environ),
                           operator=os_operator()) as store:
        store.revoke_token(args.name, key)
        store.audit(None, "token_revoked", name=args.name)
    print(f"revoked the token of {args.name}")
    return 0
