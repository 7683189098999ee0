"""`report`, `status`, `recall` and `campaign list|status` through the service
(cli.client): each prints what the API returns, as JSON untouched or as a short table."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cli.client import ServiceClient
from jobs.spec import write_private
from kernel.errors import BadInput

__all__ = ["campaign_list", "campaign_status", "print_campaigns", "print_status", "recall",
           "report", "status"]


def report(args: argparse.Namespace, client: ServiceClient) -> int:
    """GET /campaigns/{id}/report: the body printed (json, csv, html) or written to --out;
    `table` asks for the API's default, JSON. The token's role picks the table."""
    if args.released or args.increments is not None:
        raise BadInput("with --server the token's role picks the table (an analyst's is the "
                       "released one): leave out --released and --increments")
    fmt = "json" if args.format == "table" else args.format
    if fmt == "parquet" and args.out is None:
        raise BadInput("--format parquet writes a file: add --out FILE.parquet")
    params: dict[str, Any] = {"by": args.by, "format": fmt}
    if args.min_cell is not None:
        params["min_cell"] = args.min_cell
    got = client.call("GET", f"/campaigns/{args.campaign_id}/report", params=params,
                      campaign=args.campaign_id)
    if args.out is None:
        sys.stdout.write(got.content.decode("utf-8"))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(got.content)
    print(f"report written to {args.out}")
    return 0


def campaign_list(args: argparse.Namespace, client: ServiceClient) -> int:
    """GET /campaigns: JSON as the API sends it, or one line per campaign."""
    got = client.call("GET", "/campaigns")
    if args.format == "json":
        sys.stdout.write(got.text + "\n")
    else:
        print_campaigns(got.json())
    return 0


def campaign_status(args: argparse.Namespace, client: ServiceClient) -> int:
    """GET /campaigns/{id}/status: JSON as the API sends it, or a table per region."""
    got = client.call("GET", f"/campaigns/{args.campaign_id}/status",
                      campaign=args.campaign_id)
    if args.format == "json":
        sys.stdout.write(got.text + "\n")
    else:
        print_status(got.json())
    return 0


def status(args: argparse.Namespace, client: ServiceClient) -> int:
    """`status [ID]` through the service: one campaign or every one the token sees, once or
    every --interval seconds until Ctrl-C."""
    while True:
        if args.campaign_id:
            ids = [args.campaign_id]
        else:
            ids = [c["id"] for c in client.call("GET", "/campaigns").json()]
        bodies = [client.call("GET", f"/campaigns/{cid}/status", campaign=cid).json()
                  for cid in ids]
        if args.format == "json":
            print(json.dumps(bodies[0] if args.campaign_id else bodies))
        else:
            for body in bodies:
                print_status(body)
            if not bodies:
                print("no campaigns in this token's scope")
        sys.stdout.flush()
        if args.once:
            return 0
        time.sleep(args.interval)


def recall(args: argparse.Namespace, client: ServiceClient) -> int:
    """POST /campaigns/{id}/recall (or /recall/technical with --technical): the CSV written
    to --out, owner-only; the service re-derives it from the sources and audits it."""
    technical = getattr(args, "technical", False)
    got = client.call("POST", f"/campaigns/{args.campaign_id}/recall"
                      + ("/technical" if technical else ""),
                      params={} if technical else {
                          "min_category": args.min_category,
                          # only when asked: a service without the parameter ignores none
                          **({"confirmed_only": "true"}
                             if getattr(args, "confirmed_only", False) else {})},
                      campaign=args.campaign_id)
    data = got.content
    write_private(args.out, data, prefix=".recall-")
    rows = max(sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8")))) - 1, 0)
    what = "people to re-scan or read by hand" if technical else (
        f"rows at category {args.min_category} or above")
    print(f"recall list: {rows} {what} written to "
          f"{args.out} (sha256 {hashlib.sha256(data).hexdigest()[:12]}...); audited by the "
          f"service at {client.base}")
    return 0


def print_campaigns(campaigns: Sequence[Mapping[str, Any]]) -> None:
    print(f"{'CAMPAIGN':<40} STATE")
    for c in campaigns:
        print(f"{c['id']:<40} {c['state']}")


def print_status(body: Mapping[str, Any]) -> None:
    """A campaign's status (the API's CampaignStatus) as a table per region."""
    print(f"campaign {body['campaign']}")
    print(f"  {'REGION':<20} {'SHARDS':>13} {'STUDIES':>15} {'DONE':>6}")
    for region, r in body["regions"].items():
        planned, done = r["studies_planned"], r["studies_done"]
        pct = f"{100 * done / planned:.0f}%" if planned else "-"
        print(f"  {region:<20} {r['shards_done']:>6}/{r['shards_planned']:<6} "
              f"{done:>7}/{planned:<7} {pct:>6}")


