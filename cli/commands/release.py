"""`lungscreen release measure ID [--store URL | --spec SPEC]`: the analysts' release."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cli.store_option import add_campaign_store, campaign_store
from jobs.spec import default_audit_key, os_operator
from jobs.store import ResultsStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "release", help="the analysts' release: results measured once under differential privacy")
    sub = p.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    measure = sub.add_parser(
        "measure", help="measure the results committed since the last increment",
        description="Counts the results committed since the campaign's last increment at "
                    "every level of the geography, adds discrete Gaussian noise once, "
                    "reconciles and stores the base that every analyst table is derived "
                    "from. Nothing new: nothing is measured. The deployment's budget: "
                    "LUNGSCREEN_RELEASE_RHO per increment (default 0.5), "
                    "LUNGSCREEN_RELEASE_RHO_TOTAL per person (default 2); a measurement that "
                    "would take anyone past the total is refused.")
    measure.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    add_campaign_store(measure)
    measure.set_defaults(func=_measure)


def _measure(args: argparse.Namespace) -> int:
    from jobs.release import Budget, measure_increment  # scipy: release only

    url, password, _ = campaign_store(args)
    # measuring appends a release_measured event to the keyed audit trail
    with ResultsStore.open(url, password=password,
                           audit_key=default_audit_key(os.environ),
                           operator=os_operator(), create=False) as store:
        measured = measure_increment(store, args.campaign_id, budget=Budget.from_env(os.environ))
    if measured is None:
        print(f"campaign {args.campaign_id}: nothing committed since the last increment; "
              "nothing measured")
        return 0
    inc, m = measured.increment, measured.measurement
    print(f"campaign {args.campaign_id}: increment {inc.seq} measured: {inc.results} results "
          f"committed {inc.first_commit.isoformat(timespec='seconds')} to "
          f"{inc.last_commit.isoformat(timespec='seconds')}"
          + (f" ({inc.excluded} further results of the same people not counted)"
             if inc.excluded else ""))
    families = ", ".join(m.domain.get("families", ["cells"]))
    print(f"  {m.mechanism} noise over {', '.join(m.levels)} x {families} ({m.cells} counts): "
          f"sigma {m.sigma:.4g}, rho {m.rho:g}; {measured.cells} non-zero base cells stored")
    return 0
