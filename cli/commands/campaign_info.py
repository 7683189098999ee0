"""`lungscreen campaign list` and `campaign status ID`: from the store, or through the
service with --server (cli.remote); the same JSON either way (the API's CampaignSummary
list and CampaignStatus)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from cli import remote
from cli.client import add_server, client_for
from cli.output import add_format
from cli.settings import required_store
from cli.store_option import add_campaign_store, add_store, campaign_store
from jobs.store import ResultsStore
from kernel.errors import BadInput

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `list` and `status` to `campaign`'s subcommands."""
    listing = sub.add_parser("list", help="the campaigns in the store (or the service) and "
                             "their state")
    add_store(listing, default=None, help="results store URL (default: $LUNGSCREEN_STORE, "
              "else `store` in the state folder's config.toml)")
    add_format(listing, help="a table (default), or json as the service's API answers")
    add_server(listing)
    listing.set_defaults(func=_list)

    status = sub.add_parser("status", help="one campaign's shards and studies per region")
    status.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    add_campaign_store(status)
    add_format(status, help="a table (default), or json as the service's API answers")
    add_server(status)
    status.set_defaults(func=_status)


def _list(args: argparse.Namespace) -> int:
    client = client_for(args, os.environ)
    if client is not None:
        return remote.campaign_list(args, client)

    with ResultsStore.open(required_store(args.store, os.environ), create=False) as store:
        body = [{"id": c.id, "state": c.state.value} for c in store.campaigns()]
    if args.format == "json":
        print(json.dumps(body))
    else:
        remote.print_campaigns(body)
    return 0


def _status(args: argparse.Namespace) -> int:
    client = client_for(args, os.environ)
    if client is not None:
        return remote.campaign_status(args, client)

    url, password, _ = campaign_store(args)
    with ResultsStore.open(url, password=password, create=False) as store:
        if store.campaign(args.campaign_id) is None:
            raise BadInput(f"no campaign {args.campaign_id!r} in store {store.url}")
        progress = store.progress(args.campaign_id)
    body: dict[str, Any] = {"campaign": args.campaign_id, "regions": {
        r: {"shards_planned": p.shards_planned, "shards_done": p.shards_done,
            "studies_planned": p.studies_planned + p.studies_settled_early,
            "studies_done": p.studies_done + p.studies_settled_early}
        for r, p in sorted(progress.items())}}
    if args.format == "json":
        print(json.dumps(body))
    else:
        remote.print_status(body)
    return 0
