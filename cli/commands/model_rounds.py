"""`lungscreen model evaluate-rounds PRIOR COHORT`: reading screens against their priors,
measured on a two-round synthetic cohort (jobs.rounds_evaluation)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
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
                   "the prior is in its sources) instead of the lung-relative frame alone, and "
                   "measure matched nodules again side by side")
    r.add_argument("--no-beside", action="store_true",
                   help="with --register: judge growth on each round's own sizes, not on "
                   "the side-by-side measurement (to see what it changes)")
    r.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    r.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    r.add_argument("--out", type=Path, default=None,
                   help="write the JSON figures here, with every linked nodule pair as the "
                   "truth has it and as it was read (its study's index, no identifier)")
    r.add_argument("--cache", type=Path, default=None, metavar="FILE",
                   help="keep the detector's findings per study in FILE, under the detector's "
                   "version and a digest of its code: a later evaluation of the same cohorts "
                   "(with or without --register) reads them instead of detecting again")
    r.set_defaults(func=_evaluate_rounds)


def _truths(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "ground_truth.jsonl"
    if not path.is_file():
        raise BadInput(f"{folder} holds no ground_truth.jsonl; expected a `lungscreen synth` "
                       "cohort folder")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {f"study-{r['index']}": r for r in rows}


def _cases(folder: Path, detect: Any, keep: bool) -> Iterator[Any]:
    """The cohort's studies as evaluation cases, one at a time (the volume kept with `keep`)."""
    from jobs.ingest.cases import cohort_cases  # pydicom and torch: model commands
    from jobs.rounds import lung_box  # numpy and scipy: model commands
    from jobs.rounds_evaluation import RoundCase, truth_detections  # model commands

    truths = _truths(folder)
    for case in cohort_cases(folder):
        truth = truths[case.name]
        found, covered = detect(case, truth, truth_detections)
        yield RoundCase(truth, found, case.spacing, lung_box(case.hu, case.spacing),
                        covered, case.hu if keep else None)


class _Cache:
    """The detector's findings per study (under a digest of its uid), in a JSON file, valid
    for one `key` (the detector's version and a digest of its code); another key starts it
    afresh."""

    def __init__(self, path: Path | None, key: str) -> None:
        self._path, self._key = path, key
        self._rows: dict[str, Any] = {}
        if path is not None and path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("key") == key:
                self._rows = dict(doc.get("studies", {}))

    def get(self, uid: str) -> Any:
        return self._rows.get(uid)

    def put(self, uid: str, rows: Any) -> None:
        self._rows[uid] = rows
        if len(self._rows) % 10 == 0:  # an evaluation cut short keeps most of its work
            self.save()

    def save(self) -> None:
        if self._path is not None:
            part = self._path.with_name(self._path.name + ".part")
            part.write_text(json.dumps({"key": self._key, "studies": self._rows}),
                            encoding="utf-8")
            part.replace(self._path)


def _digest(text: str) -> str:
    import hashlib  # only when a cache is asked for

    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _code_digest() -> str:
    """A digest of the detector's code (models/detection), so a cache follows its changes."""
    import hashlib  # only when a cache is asked for

    import models.detection  # the package's folder; imported by the detector anyway

    folder = Path(models.detection.__file__).parent
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _evaluate_rounds(args: argparse.Namespace) -> int:
    from jobs.rounds_evaluation import evaluate_rounds  # model commands
    from kernel.contract import nodules_from_array  # numpy: model commands
    from kernel.errors import LungsNotCovered  # with the line above: model commands

    for folder in (args.prior, args.cohort):
        if not folder.is_dir():
            raise BadInput(f"cohort folder {folder} does not exist")
    cache = _Cache(None, "")
    if args.oracle:
        def detect(case: Any, truth: dict[str, Any], oracle: Any) -> tuple[Any, bool]:
            return oracle(truth), str(truth.get("lung_rads")) != "0"
    else:
        import numpy as np  # with the detector: model commands

        from models.detection.detector import load_detector  # torch: model commands

        detector = load_detector(args.weights, args.device)
        cache = _Cache(args.cache, f"{detector.version}/{_code_digest()}")

        def detect(case: Any, truth: dict[str, Any], oracle: Any) -> tuple[Any, bool]:
            uid = _digest(str(truth["study_uid"]))  # no DICOM identifier in the cache file
            rows = cache.get(uid)
            if rows is None:
                try:
                    rows = detector.detect(case.hu, case.spacing).tolist()
                except LungsNotCovered:
                    rows = "lungs not covered"
                cache.put(uid, rows)
            if isinstance(rows, str):
                return (), False
            return nodules_from_array(np.asarray(rows, dtype=np.float32).reshape(-1, 7)), True

    try:
        figures = evaluate_rounds(list(_cases(args.prior, detect, args.register)),
                                  _cases(args.cohort, detect, args.register),
                                  beside=not args.no_beside)
    finally:
        cache.save()
    figures["detections"] = ("truth (oracle)" if args.oracle else "detector") + (
        ", lung-relative frame" if not args.register
        else ", registered" if args.no_beside else ", registered, measured side by side")
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
