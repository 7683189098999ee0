"""`lungscreen recall ID --out FILE [--min-category 4A] [--confirmed-only] | --technical`:
the authority's call-back list (on readers' confirmed categories where they decided), or
its technical recall list (repeat scan or manual read)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cli import remote
from cli.campaign_ref import add_campaign_ref, resolve_spec
from cli.client import add_server, client_for
from jobs.recall import export_recall
from jobs.spec import open_spec_store, os_operator
from jobs.technical_recall import export_technical_recall
from kernel.errors import BadInput
from kernel.lungrads import Category

if TYPE_CHECKING:
    from jobs.spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "recall",
        help="authority only: who to call back, re-derived from the sources and the key",
        description=(
            "Match the campaign's screened studies at or above --min-category back to the "
            "people in the sources (with the pseudonym key) and write them to FILE as CSV, "
            "owner-only. Identifiers go to FILE only; every export is written to the audit "
            "log (<data_dir>/audit.log). A study a reader decided (`lungscreen review`) is "
            "recalled on its confirmed category, the reader's latest decision, whatever the "
            "AI said; an undecided one on the AI's category, or not at all with "
            "--confirmed-only. With --technical: the people whose study needs a "
            "repeat scan or a manual read instead, with its reason and next_step (readers' "
            "decisions do not change it)."
        ),
    )
    p.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    p.add_argument("--out", type=Path, required=True, help="the CSV file to write (mode 0600)")
    p.add_argument("--min-category", default=None,
                   help="lowest Lung-RADS category to recall: 3, 4A, 4B or 4X (default 4A)")
    p.add_argument("--confirmed-only", action="store_true",
                   help="recall only studies a reader decided, on their confirmed category "
                   "(no one on an unconfirmed AI finding)")
    p.add_argument("--technical", action="store_true",
                   help="the technical recall list: studies the model could not read that "
                   "need a repeat scan or a manual read (columns reason, next_step)")
    add_campaign_ref(p)
    add_server(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.technical and args.min_category is not None:
        raise BadInput("--technical lists the studies that could not be screened; "
                       "--min-category is for the recall list: give one of them")
    if args.technical and args.confirmed_only:
        raise BadInput("--technical lists the studies that could not be screened, whatever "
                       "readers decided; --confirmed-only is for the recall list: give one")
    try:
        min_category = Category.parse(args.min_category or "4A")
    except ValueError as exc:
        raise BadInput(f"--min-category: {exc}") from None
    client = client_for(args, os.environ)
    if client is not None:  # the service re-derives, audits and sends the CSV
        args.min_category = min_category.value
        return remote.recall(args, client)
    spec = resolve_spec(args)
    with open_spec_store(spec, os.environ, create=False) as store:
        if args.technical:
            return _technical(args, spec, store, os_operator())
        done = export_recall(spec, store, min_category=min_category, out=args.out,
                             operator=os_operator(), env=dict(os.environ),
                             confirmed_only=args.confirmed_only)
    basis = "confirmed " if done.confirmed_only else ""
    print(f"recall list: {done.count} studies at {basis}category {min_category.value} or above "
          f"written to {done.path} (sha256 {done.sha256[:12]}...); "
          f"{done.not_found} not found in the sources; audited in {done.audit_log}")
    return 0


def _technical(args: argparse.Namespace, spec: CampaignSpec, store: ResultsStore,
               operator: str) -> int:
    done = export_technical_recall(spec, store, out=args.out, operator=operator,
                                   env=dict(os.environ))
    steps = ", ".join(f"{n} {step.replace('_', ' ')}" for step, n in done.by_step.items())
    print(f"technical recall list: {done.count} people ({steps}) written to {done.path} "
          f"(sha256 {done.sha256[:12]}...); {done.not_found} not found in the sources; "
          f"audited in {done.audit_log}")
    return 0
