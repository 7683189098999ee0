"""`lungscreen status [ID] [--once] [--json] [--server URL]`: live progress from the results
store, or through the service."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli import remote
from cli.campaign_ref import add_campaign_ref, spec_registry
from cli.client import add_server, client_for
from cli.output import add_format
from cli.settings import load_settings
from cli.store_option import add_store
from jobs.run import default_env
from jobs.spec import CampaignSpec, load_spec
from kernel.errors import BadInput

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status",
        help="live progress per region, throughput, ETA, quarantines, Triton health",
        description="Show one campaign (ID) or all of them, from the results store; refreshes "
        "until Ctrl-C unless --once.",
    )
    p.add_argument("campaign_id", metavar="ID", nargs="?", help="the campaign (default: all)")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    add_format(p, help="the text view (default), or json: one object per snapshot")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    add_store(p, default=None,
              help="results store URL (default: $LUNGSCREEN_STORE, else `store` in the state "
              "folder's config.toml, else the store of each registered spec)")
    add_campaign_ref(p)
    p.add_argument("--triton", action="append", default=[], metavar="URL",
                   help="also probe this Triton server (grpc://HOST:PORT or http://HOST:PORT)")
    p.add_argument("--metrics-url", default=None,
                   help="a running driver's exporter (http://127.0.0.1:PORT/metrics) for its "
                   "live throughput")
    add_server(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jobs.status import StatusRequest, run_status  # prometheus: status only

    client = client_for(args, default_env())
    if client is not None:  # progress per region, as the service reports it
        return remote.status(args, client)
    store = args.store if args.spec is not None else load_settings(default_env()).store_or(
        args.store)
    request = StatusRequest(
        campaign_id=args.campaign_id, store_url=store, specs=tuple(_specs(args)),
        triton_urls=tuple(args.triton), metrics_url=args.metrics_url, once=args.once,
        as_json=args.format == "json", interval_s=args.interval, env=dict(default_env()),
    )
    return run_status(request, sys.stdout, clear=sys.stdout.isatty() and not args.once)


def _specs(args: argparse.Namespace) -> list[CampaignSpec]:
    """The specs the request can use: --spec, else the registered one(s)."""
    if args.spec is not None:
        return [load_spec(args.spec, check_paths=False)]
    registry = spec_registry(args)
    folder = registry.state_dir / "campaigns"
    if args.campaign_id:
        ids = [args.campaign_id]
    else:
        ids = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    specs = []
    for cid in ids:
        try:
            specs.append(registry.load(cid, args.data_dir))
        except BadInput:
            if args.store is None:
                raise
    return specs
