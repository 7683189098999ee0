"""`lungscreen model evaluate-rounds PRIOR COHORT`: reading screens against their priors,
measured on a two-round synthetic cohort (jobs.rounds_evaluation)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kernel.errors import BadInput

__all__ = ["register_rounds"]

_FIGURES = (("matched", "nodules matched to their prior (present and detected on both)"),
            ("growth_sensitivity", "growth called, of the nodules that grew > 1.5 mm"),
            ("growth_precision", "grew > 1.5 mm, of the nodules called grown"),
            ("agreement", "Lung-RADS with priors, agreement per study"),
            ("stable_not_recalled", "stable 6-8 mm solid nodules read below 3"),
            ("registered", "screens whose prior has nodules, registered to it"))


def register_rounds(sub: Any) -> None:
    r = sub.add_parser("evaluate-rounds", help="nodule matching, growth and Lung-RADS with "
                       "priors on a two-round synthetic cohort")
    r.add_argument("prior", type=Path, help="the first round's cohort folder (lungscreen synth)")
    r.add_argument("cohort", type=Path,
                   help="the next round's cohort folder (lungscreen synth --follow-up PRIOR)")
    r.add_argument("--oracle", action="store_true",
                   help="read the truth nodules instead of the detector's: the reading alone")
    r.add_argument("--register", action="store_true",
                   help="register each screen to its prior's pixels (as a campaign does when "
                   "the prior is in its sources) instead of the lung-relative frame alone")
    r.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    r.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    r.add_argument("--out", type=Path, default=None, help="write the JSON figures here")
    r.set_defaults(func=_evaluate_rounds)


def _truths(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "ground_truth.jsonl"
    if not path.is_file():
        raise BadInput(f"{folder} holds no ground_truth.jsonl; expected a `lungscreen synth` "
                       "cohort folder")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {f"study-{r['index']}": r for r in rows}


def _cases(folder: Path, detect: Any, keep: bool) -> list[Any]:
    from jobs.ingest.cases import cohort_cases  # pydicom and torch: model commands
    from jobs.rounds import lung_box  # numpy and scipy: model commands
    from jobs.rounds_evaluation import RoundCase, truth_detections  # model commands

    truths = _truths(folder)
    out = []
    for case in cohort_cases(folder):
        truth = truths[case.name]
        found, covered = detect(case, truth, truth_detections)
        out.append(RoundCase(truth, found, case.spacing, lung_box(case.hu, case.spacing),
                             covered, case.hu if keep else None))
    return out


def _evaluate_rounds(args: argparse.Namespace) -> int:
    from jobs.rounds_evaluation import evaluate_rounds  # model commands
    from kernel.contract import nodules_from_array  # numpy: model commands
    from kernel.errors import LungsNotCovered  # with the line above: model commands

    for folder in (args.prior, args.cohort):
        if not folder.is_dir():
            raise BadInput(f"cohort folder {folder} does not exist")
    if args.oracle:
        def detect(case: Any, truth: dict[str, Any], oracle: Any) -> tuple[Any, bool]:
            return oracle(truth), str(truth.get("lung_rads")) != "0"
    else:
        from models.detection.detector import load_detector  # torch: model commands

        detector = load_detector(args.weights, args.device)

        def detect(case: Any, truth: dict[str, Any], oracle: Any) -> tuple[Any, bool]:
            try:
                return nodules_from_array(detector.detect(case.hu, case.spacing)), True
            except LungsNotCovered:
                return (), False

    figures = evaluate_rounds(_cases(args.prior, detect, args.register),
                              _cases(args.cohort, detect, args.register))
    figures["detections"] = ("truth (oracle)" if args.oracle else "detector") + (
        ", registered" if args.register else ", lung-relative frame")
    figures["cohorts"] = [str(args.prior), str(args.cohort)]
    print(f"rounds: {figures['studies']['round_1']} + {figures['studies']['round_2']} studies, "
          f"{figures['detections']}")
    for name, label in _FIGURES:
        f = figures[name]
        value = "n/a" if f["value"] is None else f"{100 * f['value']:.1f}%"
        low, high = f["ci95"]
        print(f"  {label:<62} {value:>7}  ({f['hits']}/{f['of']}, 95% CI "
              f"{100 * low:.1f}-{100 * high:.1f})")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0
