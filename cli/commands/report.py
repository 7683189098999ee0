"""`lungscreen report ID [--by region,site,age_band,sex] [--format table|csv|json|html]
[--released [--increments 1,2]] [--server URL]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cli import remote
from cli.client import add_server, client_for
from cli.output import add_format
from cli.store_option import add_campaign_store, campaign_store
from jobs.store import ResultsStore
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput
from kernel.records import DIMENSIONS

if TYPE_CHECKING:
    from jobs.report import Threshold

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="a campaign's regional summary, small cells suppressed",
        description=(
            "Counts, Lung-RADS mix, positive rate with 95% CI, quarantine reasons and nodule "
            "sizes per group. Counts under the campaign's min_cell, and the cells that would "
            "reveal them, are suppressed in every format."
        ),
    )
    p.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    p.add_argument("--by", default="region",
                   help=f"comma-separated: {', '.join(DIMENSIONS)} (default: region)")
    add_format(p, ("table", "csv", "json", "html", "parquet"),
               help="table for a terminal (default), csv, json or parquet (with --out) for "
                    "tools, html to share")
    p.add_argument("--out", type=Path, default=None, help="write to FILE instead of stdout")
    add_campaign_store(p)
    p.add_argument("--min-cell", type=int, default=None,
                   help="suppression threshold: may raise, never lower, the spec's "
                        f"(default: the spec's, or the deployment's floor {MIN_CELL} without one)")
    p.add_argument("--released", action="store_true",
                   help="the analysts' table, derived from the differentially private base "
                        "(`lungscreen release measure`), instead of the exact, suppressed one "
                        "(every format)")
    p.add_argument("--increments", default=None, metavar="N,...",
                   help="with --released: the increments to cover (default: all of them)")
    add_server(p)
    p.set_defaults(func=run)


def _store_and_threshold(args: argparse.Namespace) -> tuple[str, int, str | None]:
    """The store URL, the threshold and the store's password (None: libpq's own)."""
    from jobs.report import threshold_in_force  # scipy: report only

    url, password, spec = campaign_store(args)
    if spec is None:  # no spec: the deployment's floor
        return url, _threshold(args.min_cell, threshold_in_force()), None
    in_force = threshold_in_force(spec.id, spec.privacy.min_cell)
    return url, _threshold(args.min_cell, in_force), password


def _threshold(asked: int | None, in_force: Threshold) -> int:
    """The report's threshold (jobs.report.threshold); BadInput (exit 2) in CLI terms below."""
    from jobs.report import BelowThreshold, report_threshold  # scipy: report only

    try:
        return report_threshold(asked, in_force)
    except BelowThreshold:
        whose = "the campaign's threshold" if in_force.from_campaign else "the deployment's floor"
        floor = in_force.value
        raise BadInput(f"--min-cell {asked} is below {whose} {floor}; a report may only "
                       f"suppress more, never less: give --min-cell {floor} or more, or leave "
                       "it out") from None


def _released(args: argparse.Namespace, by: tuple[str, ...]) -> int:
    from jobs.release import (  # scipy: --released only
        parse_increments,
        released_table,
        render_released,
        to_parquet,
    )

    if args.min_cell is not None:
        raise BadInput("--min-cell is the exact table's threshold; a --released table is "
                       "noisy instead and takes none")
    if args.format == "parquet" and args.out is None:
        raise BadInput("--format parquet writes a file: add --out FILE.parquet")
    increments = parse_increments(args.increments)
    url, _, password = _store_and_threshold(args)
    with ResultsStore.open(url, password=password, create=False) as store:
        table = released_table(store, args.campaign_id, by=by, increments=increments)
    if args.format == "parquet":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(to_parquet(table))
        print(f"report written to {args.out}")
        return 0
    _write(args, render_released(table, args.format))
    return 0


def _write(args: argparse.Namespace, text: str) -> None:
    if args.out is None:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"report written to {args.out}")


def run(args: argparse.Namespace) -> int:
    from jobs.report import (  # scipy: report only
        campaign_report,
        parse_by,
        render,
        to_parquet,
    )

    client = client_for(args, os.environ)
    if client is not None:  # the service's table for the token's role, as it sends it
        return remote.report(args, client)
    try:
        by = parse_by(args.by)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if args.released:
        return _released(args, by)
    if args.increments is not None:
        raise BadInput("--increments selects increments of a --released table; add --released")
    url, min_cell, password = _store_and_threshold(args)
    with ResultsStore.open(url, password=password, create=False) as store:
        report = campaign_report(store, args.campaign_id, by=by, min_cell=min_cell)
    if args.format == "parquet":
        if args.out is None:
            raise BadInput("--format parquet writes a file: add --out FILE.parquet")
        to_parquet(report, args.out)
        print(f"report written to {args.out}")
        return 0
    _write(args, render(report, args.format))
    return 0
