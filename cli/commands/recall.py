"""`lungscreen recall ID --out FILE [--min-category 4A]`: the authority's call-back list."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cli import remote
from cli.client import add_server, client_for
from jobs.spec.secrets import open_spec_store
from kernel.errors import BadInput

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "recall",
        help="authority only: who to call back, re-derived from the sources and the key",
        description=(
            "Match the campaign's screened studies at or above --min-category back to the "
            "people in the sources (with the pseudonym key) and write them to FILE as CSV, "
            "owner-only. Identifiers go to FILE only; every export is written to the audit "
            "log (<data_dir>/audit.log)."
        ),
    )
    p.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    p.add_argument("--out", type=Path, required=True, help="the CSV file to write (mode 0600)")
    p.add_argument("--min-category", default="4A",
                   help="lowest Lung-RADS category to recall: 3, 4A, 4B or 4X (default 4A)")
    p.add_argument("--spec", type=Path, default=None, help="the campaign's spec file")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where campaign specs are registered (see `campaign resume`)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="a data folder to look for the saved spec in")
    add_server(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jobs.recall import export_recall
    from jobs.spec.campaign import load_spec
    from jobs.spec.operator import os_operator
    from jobs.spec.registry import SpecRegistry, default_state_dir
    from kernel.lungrads import Category

    try:
        min_category = Category.parse(args.min_category)
    except ValueError as exc:
        raise BadInput(f"--min-category: {exc}") from None
    client = client_for(args, os.environ)
    if client is not None:  # the service re-derives, audits and sends the CSV
        args.min_category = min_category.value
        return remote.recall(args, client)
    if args.spec is not None:
        spec = load_spec(args.spec)
        if spec.id != args.campaign_id:
            raise BadInput(f"spec {str(args.spec)!r} is campaign {spec.id!r}, "
                           f"not {args.campaign_id!r}")
    else:
        state_dir = args.state_dir or default_state_dir(os.environ)
        spec = SpecRegistry(state_dir).load(args.campaign_id, args.data_dir)
    with open_spec_store(spec, os.environ) as store:
        done = export_recall(spec, store, min_category=min_category, out=args.out,
                             operator=os_operator(), env=dict(os.environ))
    print(f"recall list: {done.count} studies at category {min_category.value} or above "
          f"written to {done.path} (sha256 {done.sha256[:12]}...); "
          f"{done.not_found} not found in the sources; audited in {done.audit_log}")
    return 0
