"""`lungscreen synth`: write a synthetic LDCT cohort as real DICOM, ground truth beside it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from synth.cohort import write_cohort
from synth.params import PROFILES

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic LDCT cohort (DICOM tree + ground truth)",
        description=(
            "Write N synthetic low-dose chest CT studies over R regions as DICOM files under "
            "OUT/dicom/<region>/<site>/..., with OUT/ground_truth.jsonl (nodules, Lung-RADS, "
            "what a series selector should decide) and OUT/cohort.json beside the tree. "
            "Deterministic for a seed."
        ),
    )
    p.add_argument("--out", type=Path, required=True, help="cohort folder (its dicom/ is replaced)")
    p.add_argument("--studies", type=int, required=True, help="number of studies")
    p.add_argument("--regions", type=int, default=2, help="number of regions (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="small",
                   help="image size: small (256^2, 2 mm; default), realistic (512^2, "
                   "1-1.25 mm), tiny (128^2, for tests of file handling)")
    p.add_argument("--defects", action="store_true",
                   help="give about 40%% of studies one archive defect (scout, gap, ...)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--canary", action="store_true",
                   help="put a unique CANARY token in every PHI field; list them in canaries.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    s = write_cohort(args.out, studies=args.studies, regions=args.regions, seed=args.seed,
                     profile=args.profile, defects=args.defects, workers=args.workers,
                     canary=args.canary)
    regions = ", ".join(f"{r} {n}" for r, n in s.regions.items())
    print(f"wrote {s.studies} studies ({regions}), {s.files} files, {s.bytes / 1e6:.1f} MB "
          f"under {s.dicom_root}")
    print(f"ground truth: {s.truth_path}; a correct selector selects {s.expected_selected}")
    if s.defects:
        print("defects: " + ", ".join(f"{k} {v}" for k, v in s.defects.items()))
    return 0
