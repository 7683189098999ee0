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

Studies are planned serially (plan.py) and rendered in a process pool; the output is the
same bytes for the same arguments whatever the number of workers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pydicom.uid import UID

from kernel.errors import BadInput
from synth.dicom_writer import ENCODING_PLUGINS, available_syntaxes
from synth.params import PROFILES
from synth.plan import StudyPlan, plan_cohort
from synth.study import write_study

__all__ = ["GENERATOR_VERSION", "CohortSummary", "declared_sites", "read_declared_sites",
           "write_cohort"]

GENERATOR_VERSION = "1.1"  # 1.1: round, nodule_id, ClinicalTrialTimePointID

log = logging.getLogger("jobs")


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


def _run(args: tuple[StudyPlan, Path]) -> dict[str, Any]:
    return write_study(*args)


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
    dicom = out / "dicom"
    if dicom.exists():
        shutil.rmtree(dicom)
    dicom.mkdir(parents=True)
    plans = plan_cohort(studies=studies, regions=regions, seed=seed, profile=profile,
                        defects=defects, defect_share=defect_share, canary=canary)
    n_workers = min(workers or os.cpu_count() or 1, studies)
    jobs = [(p, dicom) for p in plans]
    if n_workers == 1:
        truths = [_run(j) for j in jobs]
    else:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            truths = list(pool.map(_run, jobs))
    truth_path = out / "ground_truth.jsonl"
    with truth_path.open("w", encoding="utf-8") as fh:
        for t in truths:
            fh.write(json.dumps(t, sort_keys=True) + "\n")
    usable = available_syntaxes()
    skipped = tuple(UID(u).name for u, ok in usable.items() if not ok and u in ENCODING_PLUGINS)
    summary = CohortSummary(
        out=out, dicom_root=dicom, truth_path=truth_path, studies=studies,
        files=sum(s["files"] for t in truths for s in t["series"]),
        bytes=sum(s["bytes"] for t in truths for s in t["series"]),
        regions=dict(sorted(Counter(t["region"] for t in truths).items())),
        defects=dict(sorted(Counter(d["kind"] for t in truths for d in t["defects"]).items())),
        syntaxes=dict(sorted(Counter(t["transfer_syntax"] for t in truths).items())),
        expected_selected=sum(1 for t in truths if t["expected"]["selected"]),
        skipped_syntaxes=skipped,
    )
    doc = {
        "generator": "lungscreen synth", "version": GENERATOR_VERSION,
        "args": {"studies": studies, "regions": regions, "seed": seed, "profile": profile,
                 "defects": defects, "defect_share": defect_share, "canary": canary},
        "regions": summary.regions,
        "sites": dict(sorted(Counter(t["site"] for t in truths).items())),
        # the facilities, as a campaign spec declares them (RegionSpec.sites)
        "declared_sites": declared_sites(plans),
        "defects": summary.defects, "transfer_syntaxes": summary.syntaxes,
        "skipped_syntaxes": list(skipped), "expected_selected": summary.expected_selected,
        "lung_rads": dict(sorted(Counter(t["lung_rads"] for t in truths).items())),
        "files": summary.files, "bytes": summary.bytes,
    }
    (out / "cohort.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
    if canary:
        canaries = [{"index": p.index, "fields": p.identity.phi()} for p in plans]
        (out / "canaries.json").write_text(json.dumps(canaries, indent=1) + "\n",
                                           encoding="utf-8")
    log.debug("synth: wrote %d studies, %d files, %.1f MB", studies, summary.files,
              summary.bytes / 1e6)
    return summary
