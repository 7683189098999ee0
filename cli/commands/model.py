"""`lungscreen model train|combine|evaluate|evaluate-rounds|dump|tune|export`: the reference
model's life cycle."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from cli.commands.model_rounds import register_rounds
from kernel.errors import BadInput

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("model", help="train, evaluate or export the reference model")
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train the candidate classifier on synthetic phantoms "
                       "(CPU, minutes)")
    t.add_argument("--out", type=Path, default=None,
                   help="weights folder (default: models/weights/ in the package)")
    t.add_argument("--phantoms", type=int, default=None,
                   help="phantoms to mine (default 280, the last 16 for validation)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (default 24)")
    t.add_argument("--seed", type=int, default=None, help="training seed (default 7)")
    t.add_argument("--threads", type=int, default=None, help="torch threads (default 2)")
    t.add_argument("--passes", type=int, default=None,
                   help="candidate passes to mine, the first N of the detector's (default all)")
    t.add_argument("--min-threshold", type=float, default=None,
                   help="floor of the recorded operating threshold (default 0.8)")
    t.add_argument("--small-weight", type=float, default=None,
                   help="loss weight of the positives of nodules under 6 mm (default 1)")
    t.add_argument("--small-juxtavascular", type=float, default=None,
                   help="share of the training phantoms' nodules drawn as 3-6 mm solid ones "
                   "touching a vessel (default 0)")
    t.add_argument("--juxta-airway", type=float, default=None,
                   help="share of the training phantoms' nodules placed against a bronchus' "
                   "wall (default 0)")
    t.add_argument("--cache", type=Path, default=None,
                   help="keep the mined examples in this file and reuse them next time")
    t.set_defaults(func=_train)

    c = sub.add_parser("combine", help="combine trained networks into one weights file that "
                       "averages their probabilities")
    c.add_argument("members", nargs="+", type=Path, help="single networks' weights files")
    c.add_argument("--out", type=Path, required=True, help="weights folder to write")
    c.add_argument("--version", required=True, help="the ensemble's model version")
    c.add_argument("--threshold", type=float, required=True,
                   help="reporting threshold (chosen on tuning phantoms)")
    c.set_defaults(func=_combine)

    e = sub.add_parser("evaluate", help="FROC / CPM, diameter error and Lung-RADS agreement "
                       "of the CNN detector and the LoG baseline")
    e.add_argument("cohort", nargs="?", type=Path, default=None,
                   help="a synthetic DICOM cohort folder (dicom/ + ground_truth.jsonl)")
    e.add_argument("--phantoms", type=int, default=None,
                   help="instead of COHORT: evaluate N in-memory phantoms")
    e.add_argument("--seed", type=int, default=1, help="first phantom seed (default 1)")
    e.add_argument("--profile", default="small", help="phantom profile (default small)")
    e.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    e.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    e.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    e.set_defaults(func=_evaluate)

    d = sub.add_parser("dump", help="dump phantoms' candidates and each network's outputs, "
                       "for `model tune` (about 100 MB and 10-20 s per phantom)")
    d.add_argument("weights", nargs="+", type=Path,
                   help="weights files (an ensemble's counts as each of its members)")
    d.add_argument("--phantoms", type=int, required=True, help="how many phantoms")
    d.add_argument("--seed", type=int, required=True, help="first phantom seed")
    d.add_argument("--profile", default="small", help="phantom profile (default small)")
    d.add_argument("--out", type=Path, required=True,
                   help="dump folder (phantoms already there are kept)")
    d.set_defaults(func=_dump)

    u = sub.add_parser("tune", help="Lung-RADS agreement of combinations of dumped networks "
                       "at several thresholds")
    u.add_argument("dumps", type=Path, help="a `model dump` folder")
    u.add_argument("--combos", required=True,
                   help="network indices in dump order, e.g. 0,1,0+1 (0+1: their mean)")
    u.add_argument("--thresholds", default="0.6,0.7,0.8,0.85,0.9",
                   help="comma-separated (default 0.6,0.7,0.8,0.85,0.9)")
    u.add_argument("--list", action="store_true", help="also list the studies that disagree")
    u.set_defaults(func=_tune)

    register_rounds(sub)

    x = sub.add_parser("export", help="export the network to TorchScript and ONNX, checked "
                       "against eager torch")
    x.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    x.add_argument("--out", type=Path, default=None,
                   help="output folder (default: beside the weights)")
    x.set_defaults(func=_export)


def _train(args: argparse.Namespace) -> int:
    from models.detection.blobs import DEFAULT_PASSES  # torch: model commands
    from models.detection.detector import DEFAULT_WEIGHTS  # torch: model commands
    from models.tooling.train import TrainConfig, train  # torch: model commands

    over = {k: v for k, v in (("n_phantoms", args.phantoms), ("epochs", args.epochs),
                              ("seed", args.seed), ("threads", args.threads),
                              ("candidate_passes", args.passes),
                              ("min_operating_threshold", args.min_threshold),
                              ("small_nodule_weight", args.small_weight),
                              ("small_juxtavascular", args.small_juxtavascular),
                              ("juxta_airway", args.juxta_airway))
            if v is not None}
    cfg = dataclasses.replace(TrainConfig(), **over)
    if cfg.n_phantoms <= cfg.val_phantoms or cfg.epochs < 1:
        raise BadInput(f"--phantoms ({cfg.n_phantoms}) must exceed the {cfg.val_phantoms} "
                       "validation phantoms and --epochs must be at least 1")
    if not 1 <= cfg.candidate_passes <= len(DEFAULT_PASSES):
        raise BadInput(f"--passes must be 1..{len(DEFAULT_PASSES)}, got {cfg.candidate_passes}")
    if cfg.small_nodule_weight <= 0:
        raise BadInput(f"--small-weight must be positive, got {cfg.small_nodule_weight}")
    for flag, share in (("--small-juxtavascular", cfg.small_juxtavascular),
                        ("--juxta-airway", cfg.juxta_airway)):
        if not 0.0 <= share <= 1.0:
            raise BadInput(f"{flag} must lie in [0, 1], got {share}")
    if not 0.0 <= cfg.min_operating_threshold < 1.0:
        raise BadInput(f"--min-threshold must lie in [0, 1), got {cfg.min_operating_threshold}")
    logging.getLogger("models").setLevel(logging.INFO)
    record = train(cfg, args.out or DEFAULT_WEIGHTS.parent, args.cache)
    print(json.dumps(record, indent=2))
    return 0


def _combine(args: argparse.Namespace) -> int:
    from models.tooling.ensemble import combine  # torch: model commands

    record = combine(args.members, args.out, args.version, args.threshold)
    print(f"wrote {args.out / 'nodule_net.pt'}: {len(args.members)} members, version "
          f"{record['version']}, threshold {record['operating_threshold']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from jobs.ingest.cases import cohort_cases  # torch: model commands
    from models.detection.detector import load_detector  # torch: model commands
    from models.tooling.cohort import CohortSkips, phantom_cases  # torch: model commands
    from models.tooling.report import check_seeds, format_table  # torch: model commands

    if (args.cohort is None) == (args.phantoms is None):
        raise BadInput("give either COHORT or --phantoms N (not both)")
    if args.phantoms is not None and args.phantoms < 1:
        raise BadInput(f"--phantoms must be at least 1, got {args.phantoms}")
    detector = load_detector(args.weights, args.device)
    skips = CohortSkips()
    if args.cohort is not None:
        if not args.cohort.is_dir():
            raise BadInput(f"cohort folder {args.cohort} does not exist")
        cases = cohort_cases(args.cohort, skips)
    else:
        check_seeds(range(args.seed, args.seed + args.phantoms))
        cases = phantom_cases(args.phantoms, args.seed, args.profile)
    from models.tooling.evaluate import evaluate  # torch: model commands

    logging.getLogger("models").setLevel(logging.INFO)
    report = evaluate(cases, detector)
    report["skipped"] = skips.counts
    report["source"] = (f"cohort {args.cohort.name}" if args.cohort is not None else
                        f"phantoms {args.seed}..{args.seed + args.phantoms - 1} ({args.profile})")
    print("\n".join(format_table(report)))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _dump(args: argparse.Namespace) -> int:
    from models.tooling.report import check_seeds  # torch: model commands
    from models.tooling.tuning import dump_phantoms  # torch: model commands

    if args.phantoms < 1:
        raise BadInput(f"--phantoms must be at least 1, got {args.phantoms}")
    check_seeds(range(args.seed, args.seed + args.phantoms))
    files = dump_phantoms(args.weights, args.seed, args.phantoms, args.out, args.profile)
    print(f"{len(files)} phantoms in {args.out}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from models.tooling.tuning import score_dumps  # torch: model commands

    try:
        combos = [tuple(int(i) for i in c.split("+")) for c in args.combos.split(",")]
        thresholds = [float(t) for t in args.thresholds.split(",")]
    except ValueError as exc:
        raise BadInput(f"--combos like 0,1,0+1 and --thresholds like 0.7,0.8: {exc}") from exc
    if any(i < 0 for c in combos for i in c) or not all(0.0 < t < 1.0 for t in thresholds):
        raise BadInput("network indices must be >= 0 and thresholds lie in (0, 1)")
    files = sorted(args.dumps.glob("*.pt"))
    if not files:
        raise BadInput(f"no dumped phantoms in {args.dumps}; run `lungscreen model dump`")
    res = score_dumps(files, combos, thresholds)
    print(f"Lung-RADS agreement over {res.studies} studies")
    print("networks  " + "".join(f"{t:>7}" for t in thresholds))
    for c in combos:
        print(f"{'+'.join(map(str, c)):9s} " + "".join(f"{res.agree[(c, t)]:>7}"
                                                       for t in thresholds))
    if args.list:
        for (c, t), wrong in res.wrong.items():
            print(f"{'+'.join(map(str, c))} at {t}: " + ", ".join(wrong))
    return 0


def _export(args: argparse.Namespace) -> int:
    from models.detection.detector import DEFAULT_WEIGHTS, load_detector  # torch: model commands
    from models.tooling.export import export_network  # torch: model commands

    detector = load_detector(args.weights, "cpu")
    out = args.out or (args.weights or DEFAULT_WEIGHTS).parent
    r = export_network(detector.net, out)
    print(f"TorchScript {r.torchscript} (max |diff| vs eager {r.torchscript_max_abs_diff:.2e})")
    print(f"ONNX        {r.onnx} (max |diff| vs eager {r.onnx_max_abs_diff:.2e})")
    return 0
