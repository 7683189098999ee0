"""`lungscreen store init`: create (or migrate) a results store explicitly, the commands
that only read never do; `lungscreen store roles`: the SQL that gives the campaign driver's
and the service's PostgreSQL roles their least privileges on a results store
(jobs.store.roles), printed for the schema owner to run (`... | psql`); nothing is
connected to or changed by `roles`."""

from __future__ import annotations

import argparse
from typing import Any

from cli.store_option import add_store
from jobs.store import ResultsStore, role_grants

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("store", help="the results store: create it, its PostgreSQL roles")
    sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="create the store's tables (or migrate an older store); "
                          "run it as the schema owner. Commands that only read never create")
    add_store(init, required=True, help="results store URL (sqlite:///PATH or "
              "postgresql://USER@HOST:PORT/DATABASE; the database itself must exist)")
    init.set_defaults(func=_init)
    roles = sub.add_parser("roles", help="print the GRANTs for the driver's and the service's "
                           "roles (run them as the schema owner, after its first open)")
    roles.add_argument("--driver", required=True, metavar="ROLE",
                       help="the campaign driver's role: writes campaigns, shards, results, "
                       "release tables; appends events; no tokens")
    roles.add_argument("--service", required=True, metavar="ROLE",
                       help="the service's role: reads results and tokens, appends events")
    roles.set_defaults(func=_roles)


def _roles(args: argparse.Namespace) -> int:
    statements = role_grants(args.driver, args.service)
    print("-- lungscreen store roles: run as the schema owner (the role that created the "
          "tables)")
    for statement in statements:
        print(f"{statement};")
    return 0


def _init(args: argparse.Namespace) -> int:
    with ResultsStore.open(args.store, create=True) as store:
        url = store.url
    print(f"results store ready at {url}")
    return 0
