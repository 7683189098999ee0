"""`lungscreen release measure ID [--store URL | --spec SPEC]`: the analysts' release."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cli.store_option import add_store
from kernel.errors import BadInput

__all__ = ["register", "store_of"]


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
    add_store_options(measure)
    measure.set_defaults(func=_measure)


def add_store_options(p: argparse.ArgumentParser) -> None:
    """--store, --spec, --state-dir, --data-dir: where a campaign's store is."""
    add_store(p, default=None, help="the results store URL (default: the campaign spec's)")
    p.add_argument("--spec", type=Path, default=None, help="the campaign's spec file")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where campaign specs are registered (see `campaign resume`)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="a data folder to look for the saved spec in")


def store_of(args: argparse.Namespace) -> tuple[str, str | None]:
    """The store URL and its password (None: the URL's or libpq's own) for these options."""
    if args.store is not None and args.spec is None:
        return args.store, None
    from jobs.spec.campaign import load_spec
    from jobs.spec.registry import SpecRegistry, default_state_dir
    from jobs.spec.secrets import store_password

    if args.spec is not None:
        spec = load_spec(args.spec, check_paths=False)
        if spec.id != args.campaign_id:
            raise BadInput(f"spec {str(args.spec)!r} is campaign {spec.id!r}, "
                           f"not {args.campaign_id!r}")
    else:
        spec = SpecRegistry(args.state_dir or default_state_dir(os.environ)).load(
            args.campaign_id, args.data_dir)
    password = None if args.store else store_password(spec, os.environ)
    return args.store or spec.store_url, password


def _measure(args: argparse.Namespace) -> int:
    from jobs.release import Budget, measure_increment
    from jobs.spec.operator import os_operator
    from jobs.spec.secrets import default_audit_key
    from jobs.store import ResultsStore

    url, password = store_of(args)
    # measuring appends a release_measured event to the keyed audit trail
    with ResultsStore.open(url, password=password,
                           audit_key=default_audit_key(os.environ),
                           operator=os_operator()) as store:
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
