"""`lungscreen synth`: write a synthetic LDCT cohort as real DICOM, ground truth beside it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kernel.errors import BadInput
from synth.cohort import CohortSummary
from synth.params import PROFILES
from synth_varied import (
    DEFAULT_FAMILY,
    FAMILIES,
    check_family,
    write_family_cohort,
    write_family_follow_up,
)

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic LDCT cohort (DICOM tree + ground truth)",
        description=(
            "Write N synthetic low-dose chest CT studies over R regions as DICOM files under "
            "OUT/dicom/<region>/<site>/..., with OUT/ground_truth.jsonl (nodules, Lung-RADS, "
            "what a series selector should decide) and OUT/cohort.json beside the tree. "
            "With --follow-up PRIOR_DIR, write the next screening round of that cohort "
            "instead: the same people --months later (new scans, nodules grown, stable, "
            "smaller, resolved or new, each linked to its prior in the truth), new entrants, "
            "and people whose prior is missing. Deterministic for a seed (and the prior). "
            "--family varied writes a second, independently written family instead, which "
            "varies anatomy (vessel calibre, tortuosity, branching, airway walls, fissures, "
            "emphysema, scars) and acquisition (slices 0.6-2.5 mm, pixels 0.5-1.1 mm, "
            "matrix 256-512, kernel, noise, motion) from study to study; a --follow-up is "
            "written by the family of its prior."
        ),
    )
    p.add_argument("--out", type=Path, required=True, help="cohort folder (its dicom/ is replaced)")
    p.add_argument("--studies", type=int, default=None,
                   help="number of studies (required without --follow-up)")
    p.add_argument("--regions", type=int, default=None, help="number of regions (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None,
                   help="image size: small (256^2, 2 mm; default), realistic (512^2, "
                   "1-1.25 mm), tiny (128^2, for tests of file handling)")
    p.add_argument("--family", default=None, metavar="NAME",
                   help=f"cohort family: {DEFAULT_FAMILY} (default; synth's generator) or "
                   "varied (varied anatomy and acquisition; no --profile or --defects); one "
                   f"of {', '.join(FAMILIES)}; with --follow-up, the prior's family (the "
                   "default there)")
    p.add_argument("--follow-up", type=Path, default=None, metavar="PRIOR_DIR",
                   help="write the next round of the cohort in PRIOR_DIR (an earlier --out; "
                   "left unchanged); its studies, regions and profile are the prior's")
    p.add_argument("--months", type=int, default=None,
                   help="with --follow-up: months since the prior round (e.g. 12)")
    p.add_argument("--defects", action="store_true",
                   help="give about 40%% of studies one archive defect (scout, gap, ...)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--canary", action="store_true", default=None,
                   help="put a unique CANARY token in every PHI field; list them in canaries.json "
                   "(a follow-up is in canary mode when its prior is)")
    p.set_defaults(func=run)


def _write(args: argparse.Namespace) -> CohortSummary:
    if args.follow_up is None:
        family = DEFAULT_FAMILY if args.family is None else args.family
        check_family(family, profile=args.profile, defects=args.defects)
        if args.months is not None:
            raise BadInput("--months goes with --follow-up PRIOR_DIR")
        if args.studies is None:
            raise BadInput("--studies is required (or --follow-up PRIOR_DIR for a next round)")
        return write_family_cohort(family, args.out, studies=args.studies,
                                   regions=2 if args.regions is None else args.regions,
                                   seed=args.seed, profile=args.profile,
                                   defects=args.defects, workers=args.workers,
                                   canary=bool(args.canary))
    given = [f for f, v in (("--studies", args.studies), ("--regions", args.regions),
                            ("--profile", args.profile)) if v is not None]
    if given:
        raise BadInput(f"{', '.join(given)} cannot go with --follow-up: a next round has the "
                       "prior cohort's people, regions and profile")
    if args.months is None:
        raise BadInput("--follow-up needs --months N (the months since the prior round)")
    return write_family_follow_up(args.out, args.follow_up, months=args.months,
                                  seed=args.seed, family=args.family, defects=args.defects,
                                  workers=args.workers, canary=args.canary)


def run(args: argparse.Namespace) -> int:
    s = _write(args)
    regions = ", ".join(f"{r} {n}" for r, n in s.regions.items())
    print(f"wrote {s.studies} studies ({regions}), {s.files} files, {s.bytes / 1e6:.1f} MB "
          f"under {s.dicom_root}")
    print(f"ground truth: {s.truth_path}; a correct selector selects {s.expected_selected}")
    if s.defects:
        print("defects: " + ", ".join(f"{k} {v}" for k, v in s.defects.items()))
    return 0
