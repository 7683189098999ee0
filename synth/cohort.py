"""Writing a synthetic LDCT cohort: DICOM tree, ground truth, summary.

Layout of `out`:

- `dicom/<region>/<site>/...`: the DICOM files (see layout.py for the per-site folders);
- `ground_truth.jsonl`: one JSON object per study, in study order, with: index, round
  (the screening round, 1 here; every file's ClinicalTrialTimePointID holds it),
  phantom_seed and profile (make_phantom(phantom_seed, profile) re-renders the primary
  volume, except for defects that alter it), study_uid, patient_id, region, site, age,
  sex, study_date, vendor, transfer_syntax(_uid), primary_series_uid, shape [D, H, W] and
  spacing [z, y, x] mm of the primary series' volume (slices foot to head),
  first_slice_lps_mm (ImagePositionPatient of its lowest slice), lung_z_range, nodules
  [{nodule_id ("<study index>-<k>", the same nodule keeps it in later rounds), z, y, x
  (voxels of that volume), centre_lps_mm [x, y, z], diameter_mm,
  solid_diameter_mm, type solid|part_solid|ground_glass, attached_to none|pleura|vessel}],
  lung_rads (category label, "0" when the lungs are cut off), series [{series_uid, kind
  axial|scout|coronal|mr, files, bytes}], defects [{kind, files?, folders?}],
  rejected_files [{path, reason}] (files a reader must reject, relative to `out`), and
  expected {selected, reason}: what a correct series selector decides (plan.DEFECTS);
- `cohort.json`: the arguments, counts per region / site / defect / syntax, the version;
- `canaries.json` (canary mode only): every PHI value planted, by study.

`write_follow_up(out, prior, months=, seed=)` writes the next screening round of the
cohort in `prior` the same way (rounds.py plans it, followup.py renders each later scan),
adding `people.jsonl` (what the round after needs) and follow-up truth fields (its doc).

Studies are planned serially (plan.py) and rendered in a process pool; the output is the
same bytes for the same arguments whatever the number of workers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from pydicom.uid import UID

from kernel.errors import BadInput
from synth.dicom_writer import ENCODING_PLUGINS, available_syntaxes
from synth.params import PROFILES
from synth.plan import StudyPlan, plan_cohort
from synth.priors import PEOPLE_FILE, person_record, read_prior
from synth.rounds import plan_follow_up
from synth.study import write_study

__all__ = ["GENERATOR_VERSION", "CohortSummary", "check_follow_up_args", "declared_sites",
           "follow_up_canary", "follow_up_counts", "follow_up_meta", "fresh_dicom",
           "read_declared_sites", "run_jobs", "write_cohort", "write_follow_up",
           "write_records"]

GENERATOR_VERSION = "1.1"  # 1.1: round, nodule_id, ClinicalTrialTimePointID

log = logging.getLogger("jobs")
J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class CohortSummary:
    """What was written: where, how much, and the counts `cohort.json` holds."""

    out: Path
    dicom_root: Path
    truth_path: Path
    studies: int
    files: int
    bytes: int
    regions: dict[str, int]
    defects: dict[str, int]
    syntaxes: dict[str, int]
    expected_selected: int
    skipped_syntaxes: tuple[str, ...] = field(default=())

    @property
    def region_dirs(self) -> tuple[Path, ...]:
        """One folder per region (the folder a campaign's region source points at)."""
        return tuple(self.dicom_root / r for r in sorted(self.regions))


def declared_sites(plans: Sequence[StudyPlan]) -> dict[str, list[dict[str, Any]]]:
    """Region -> its sites as a spec's `regions[].sites` lists them: every site a study
    was planned at, with its institution."""
    sites: dict[str, dict[str, str]] = {}
    for p in plans:
        sites.setdefault(p.site.region, {})[p.site.name] = p.site.institution
    return {region: [{"name": name, "institutions": [inst]}
                     for name, inst in sorted(named.items())]
            for region, named in sorted(sites.items())}


def read_declared_sites(cohort: Path) -> dict[str, list[dict[str, Any]]]:
    """The declared sites a cohort's `cohort.json` holds (empty for an older cohort, or a
    folder without one)."""
    path = cohort / "cohort.json"
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return dict(doc.get("declared_sites", {}))


def _check(studies: int, regions: int, profile: str, workers: int | None) -> None:
    if studies < 1:
        raise BadInput(f"--studies must be at least 1, got {studies}")
    if not 1 <= regions <= studies:
        raise BadInput(f"--regions must be between 1 and the number of studies ({studies}), "
                       f"got {regions}")
    if profile not in PROFILES:
        raise BadInput(f"unknown profile {profile!r}; use one of {sorted(PROFILES)}")
    if workers is not None and workers < 1:
        raise BadInput(f"workers must be at least 1, got {workers}")


def _run(args: tuple[StudyPlan, Path]) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    return write_study(*args)


def fresh_dicom(out: Path) -> Path:
    """`out`/dicom, emptied (a cohort's DICOM tree is written afresh)."""
    dicom = out / "dicom"
    if dicom.exists():
        shutil.rmtree(dicom)
    dicom.mkdir(parents=True)
    return dicom


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int | None) -> list[R]:
    """`fn` over `jobs` in order, in a spawned process pool of up to `workers` (default:
    the CPUs), in this process when that is one (`fn` must be a module-level function)."""
    n_workers = min(workers or os.cpu_count() or 1, len(jobs))
    if n_workers <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, jobs))


def _render(plans: Sequence[StudyPlan], dicom: Path, workers: int | None
            ) -> list[tuple[dict[str, Any], list[dict[str, Any]] | None]]:
    return run_jobs(_run, [(p, dicom) for p in plans], workers)


def write_records(out: Path, dicom: Path, plans: Sequence[StudyPlan],
                  truths: list[dict[str, Any]], args: dict[str, Any], extra: dict[str, Any],
                  canary: bool) -> CohortSummary:
    """Ground truth, cohort.json (`args` and `extra` with the counts), canaries.json: what
    every cohort family writes beside its DICOM tree (one truth record per plan)."""
    truth_path = out / "ground_truth.jsonl"
    with truth_path.open("w", encoding="utf-8") as fh:
        for t in truths:
            fh.write(json.dumps(t, sort_keys=True) + "\n")
    usable = available_syntaxes()
    skipped = tuple(UID(u).name for u, ok in usable.items() if not ok and u in ENCODING_PLUGINS)
    summary = CohortSummary(
        out=out, dicom_root=dicom, truth_path=truth_path, studies=len(truths),
        files=sum(s["files"] for t in truths for s in t["series"]),
        bytes=sum(s["bytes"] for t in truths for s in t["series"]),
        regions=dict(sorted(Counter(t["region"] for t in truths).items())),
        defects=dict(sorted(Counter(d["kind"] for t in truths for d in t["defects"]).items())),
        syntaxes=dict(sorted(Counter(t["transfer_syntax"] for t in truths).items())),
        expected_selected=sum(1 for t in truths if t["expected"]["selected"]),
        skipped_syntaxes=skipped,
    )
    doc = {
        "generator": "lungscreen synth", "version": GENERATOR_VERSION, "args": args,
        "regions": summary.regions,
        "sites": dict(sorted(Counter(t["site"] for t in truths).items())),
        # the facilities, as a campaign spec declares them (RegionSpec.sites)
        "declared_sites": declared_sites(plans),
        "defects": summary.defects, "transfer_syntaxes": summary.syntaxes,
        "skipped_syntaxes": list(skipped), "expected_selected": summary.expected_selected,
        "lung_rads": dict(sorted(Counter(t["lung_rads"] for t in truths).items())),
        "files": summary.files, "bytes": summary.bytes, **extra,
    }
    (out / "cohort.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
    if canary:
        canaries = [{"index": p.index, "fields": p.identity.phi()} for p in plans]
        (out / "canaries.json").write_text(json.dumps(canaries, indent=1) + "\n",
                                           encoding="utf-8")
    log.debug("synth: wrote %d studies, %d files, %.1f MB", summary.studies, summary.files,
              summary.bytes / 1e6)
    return summary


def write_cohort(out: Path, *, studies: int, regions: int, seed: int, profile: str = "small",
                 defects: bool = False, workers: int | None = None, canary: bool = False,
                 defect_share: float = 0.4) -> CohortSummary:
    """Write a cohort of `studies` studies over `regions` regions into `out` (see module doc).

    An existing `out/dicom` is replaced. `workers` processes render in parallel (default:
    the CPU count); `canary` plants a unique token in every PHI field and lists them in
    `canaries.json`. Raises BadInput for impossible arguments.
    """
    _check(studies, regions, profile, workers)
    out = Path(out)
    dicom = fresh_dicom(out)
    plans = plan_cohort(studies=studies, regions=regions, seed=seed, profile=profile,
                        defects=defects, defect_share=defect_share, canary=canary)
    truths = [t for t, _ in _render(plans, dicom, workers)]
    args = {"studies": studies, "regions": regions, "seed": seed, "profile": profile,
            "defects": defects, "defect_share": defect_share, "canary": canary}
    return write_records(out, dicom, plans, truths, args, {}, canary)


def follow_up_counts(truths: list[dict[str, Any]]) -> dict[str, Any]:
    """A follow-up cohort's counts for its cohort.json, from its truth records."""
    nodules = [n for t in truths for n in t["nodules"]]
    changes = Counter(n["change"] for n in nodules)
    changes["resolved"] = sum(len(t["resolved"]) for t in truths)
    growth = [n["growth_mm"] for n in nodules if n["change"] == "grown"]
    return {
        "changes": {k: changes.get(k, 0) for k in ("new", "grown", "stable", "smaller",
                                                   "resolved")},
        "grown_by_more_than_1_5_mm": sum(1 for g in growth if g > 1.5),
        "new_entrants": sum(1 for t in truths if t["prior"] is None and t["round"] == 1),
        "prior_missing": sum(1 for t in truths if t["prior"] is None and t["prior_expected"]),
        "priors_without_pixels": [t["prior"]["study_uid"] for t in truths
                                  if t["prior"] is not None
                                  and not t["prior"]["pixels_available"]],
    }


def check_follow_up_args(months: int, workers: int | None) -> None:
    """BadInput for a follow-up's impossible arguments (either family)."""
    if not 1 <= months <= 120:
        raise BadInput(f"--months must be between 1 and 120, got {months}")
    if workers is not None and workers < 1:
        raise BadInput(f"workers must be at least 1, got {workers}")


def follow_up_canary(out: Path, prior: Path, prior_root: Path, prior_meta: dict[str, Any],
                     canary: bool | None) -> bool:
    """Whether the follow-up into `out` of the prior read from `prior` is in canary mode
    (default: as its prior); BadInput for an `out` inside the prior, or a canary follow-up
    of a prior that was not."""
    if out.resolve() == prior_root.resolve() or prior_root.resolve() in out.resolve().parents:
        raise BadInput(f"--out {out} is the prior cohort's folder or inside it; write the "
                       "follow-up into a folder of its own")
    prior_canary = bool(prior_meta.get("args", {}).get("canary", False))
    if canary and not prior_canary:
        raise BadInput(f"--canary needs a prior written with --canary ({prior} was not): a "
                       "follow-up keeps each person's own fields from the prior")
    return prior_canary if canary is None else canary


def follow_up_meta(prior_meta: dict[str, Any], prior_digest: str, prior_round: int,
                   months: int, truths: list[dict[str, Any]]) -> dict[str, Any]:
    """What a follow-up's cohort.json adds: its prior (the chain of rounds), round, counts."""
    keep = ("args", "follow_up_of", "months", "round")
    previous: dict[str, Any] = {k: prior_meta[k] for k in keep if k in prior_meta}
    return {"follow_up_of": {**previous, "ground_truth_sha256": prior_digest},
            "months": months, "round": prior_round + 1, **follow_up_counts(truths)}


def write_follow_up(out: Path, prior: Path, *, months: int, seed: int, defects: bool = False,
                    workers: int | None = None, canary: bool | None = None,
                    defect_share: float = 0.4, new_share: float = 0.1,
                    missing_share: float = 0.05, unavailable_share: float = 0.1,
                    vendor_share: float = 0.2) -> CohortSummary:
    """Write the next screening round of the cohort in `prior` into `out` (rounds.py).

    The layout is a cohort's (module doc) plus `people.jsonl` (what the round after needs,
    priors.py); ground truth adds, per study, prior {study_uid, study_date, interval_days,
    pixels_available} (null without one), prior_expected, acquisition {shift_mm,
    rotation_deg, z_scale, pivot_lps_mm, vendor_changed} relative to the prior (null
    without one), resolved and unseen [{nodule_id, prior_diameter_mm, centre_lps_mm}], and
    per nodule prior_nodule_id, change (new|grown|stable|smaller), prior_diameter_mm,
    prior_solid_diameter_mm and growth_mm (nulls for a new one). `canary` (default: as the
    prior) needs a canary prior: the person's own fields come from it. Nothing in `prior`
    changes. Raises BadInput for a folder that is not a cohort, or impossible arguments.
    """
    check_follow_up_args(months, workers)
    before = read_prior(Path(prior))
    out = Path(out)
    canary = follow_up_canary(out, Path(prior), before.root, before.meta, canary)
    plans = plan_follow_up(before, seed=seed, months=months, defects=defects,
                           defect_share=defect_share, canary=canary, new_share=new_share,
                           missing_share=missing_share, unavailable_share=unavailable_share,
                           vendor_share=vendor_share)
    dicom = fresh_dicom(out)
    results = _render(plans, dicom, workers)
    with (out / PEOPLE_FILE).open("w", encoding="utf-8") as fh:
        for plan, (_, shapes) in zip(plans, results, strict=True):
            fh.write(json.dumps(person_record(plan, shapes), sort_keys=True) + "\n")
    truths = [t for t, _ in results]
    args = {"follow_up": True, "months": months, "seed": seed, "profile": before.profile,
            "defects": defects, "defect_share": defect_share, "canary": canary,
            "new_share": new_share, "missing_share": missing_share,
            "unavailable_share": unavailable_share, "vendor_share": vendor_share}
    extra = follow_up_meta(before.meta, before.digest, before.round, months, truths)
    return write_records(out, dicom, plans, truths, args, extra, canary)
