"""`lungscreen serve --store URL [--spec SPEC]... [--host H] --port P`: the service with
roles (jobs.service), on loopback unless told otherwise, TLS when given a certificate. Safe
by default (jobs.service.startup): plain HTTP off loopback only with --insecure-http, and
no start with a store, key or TLS key that others can read. With `--oidc-*`
(cli.oidc_options), an identity provider's JWT access tokens are admitted too."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any

from cli.oidc_options import add_oidc, oidc_config
from cli.settings import required_store
from cli.store_option import add_store
from jobs.spec import default_audit_key, default_token_key, load_spec
from jobs.store import ResultsStore
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="the HTTP API with roles: each user reaches only what is theirs",
        description="Serve the results store over HTTP (OpenAPI at /openapi.json, its docs "
        "at /docs and /redoc, served without internet). Every /api/v1 route names its roles; "
        "requests need a bearer token (lungscreen token create) and are audited in the "
        "store. Open and unaudited: /healthz (liveness), /readyz (the store answers), "
        "/metrics (the service's own series, nothing clinical). The store credentials stay "
        "with the service.")
    add_store(p, default=None, help="results store URL (the service holds it; default: "
              "$LUNGSCREEN_STORE, else `store` in the state folder's config.toml)")
    p.add_argument("--spec", type=Path, action="append", default=[],
                   help="a campaign's spec (its threshold, sources and key, for reports and "
                   "recall); repeat for more campaigns")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=int, required=True, help="port (0: any free one, printed)")
    p.add_argument("--certfile", type=Path, default=None, help="TLS certificate (PEM)")
    p.add_argument("--keyfile", type=Path, default=None, help="TLS private key (PEM)")
    p.add_argument("--insecure-http", action="store_true",
                   help="allow plain HTTP on a non-loopback --host (refused without it: "
                   "tokens would cross the network in clear text); warned")
    p.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                   help="the proxies (comma-separated addresses or networks) whose "
                   "X-Forwarded-For names the client; default none: the client is the peer")
    p.add_argument("--min-cell-floor", type=int, default=MIN_CELL,
                   help=f"the deployment's suppression floor (default {MIN_CELL}); no "
                   "report goes below it")
    add_oidc(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn  # uvicorn: serve only

    from jobs.service import (  # fastapi: serve only
        ServiceConfig,
        check_bind,
        check_private_files,
        create_app,
        private_files,
        uvicorn_options,
    )

    args.store = required_store(args.store, os.environ)
    if (args.certfile is None) != (args.keyfile is None):
        raise BadInput("--certfile and --keyfile go together (TLS needs both)")
    if args.min_cell_floor < MIN_CELL:
        raise BadInput(f"--min-cell-floor {args.min_cell_floor} is below {MIN_CELL}; the "
                       "floor may be raised, never lowered")
    warning = check_bind(args.host, tls=args.certfile is not None,
                         insecure_http=args.insecure_http)
    check_private_files(private_files(args.store, args.keyfile))
    oidc = oidc_config(args)  # BadInput before anything is opened
    specs = {s.id: s for s in (load_spec(p, check_paths=False) for p in args.spec)}
    audit_key = default_audit_key(os.environ)  # both refused when others can read them
    token_key = default_token_key(os.environ, create=True)  # the service mints tokens
    # a store the service serves must exist: a mistyped URL is refused, never created
    with ResultsStore.open(args.store, audit_key=audit_key, create=False) as store:
        app = create_app(ServiceConfig(store, specs, args.min_cell_floor, dict(os.environ),
                                       token_key=token_key, oidc=oidc))
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                access_log=False, ssl_certfile=args.certfile,
                                ssl_keyfile=args.keyfile,
                                **uvicorn_options(args.forwarded_allow_ips))
        server = uvicorn.Server(config)
        scheme = "https" if args.certfile else "http"
        # bound here, so that --port 0 can say which port it got before serving
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.host, args.port))
        except OSError as exc:
            sock.close()
            raise BadInput(f"cannot bind {args.host}:{args.port} ({exc.strerror}); choose "
                           "another --port or --host") from None
        sock.listen(2048)  # connections wait in the backlog until the app is up
        port = sock.getsockname()[1]
        if warning:
            print(warning, file=sys.stderr, flush=True)
        print(f"serving on {scheme}://{args.host}:{port}", file=sys.stderr, flush=True)
        server.run(sockets=[sock])
        return 0
