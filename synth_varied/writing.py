"""Writing a cohort of the varied family: the same DICOM writer, layout and truth format
as `synth`'s cohorts (synth.dicom_writer, synth.layout, synth.cohort.write_records), so
every reader of a cohort (evaluation, campaigns, scans) takes it unchanged.

Studies are planned by synth.plan (site, person, vendor and with it the storage
convention, transfer syntax, UIDs, table position), rendered by `make_varied(plan.seed)`,
and written in a process pool; the bytes do not depend on the number of workers. Each
truth record has the fields synth.cohort documents, with `profile` "varied", plus
`family` and `acquisition` (the scan's thickness, pixel, matrix, kernel, noise, motion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import UID

from kernel.errors import BadInput
from synth.cohort import CohortSummary, fresh_dicom, run_jobs, write_records
from synth.dicom_writer import VENDORS, SeriesInfo, SliceOut, StudyInfo, write_series
from synth.layout import Layout
from synth.plan import StudyPlan, plan_cohort
from synth_varied.scan import Scan
from synth_varied.volume import VariedStudy, make_varied

__all__ = ["FAMILY", "scan_record", "write_rendered", "write_varied_cohort", "write_varied_study"]

FAMILY = "varied"


def _kernel_name(plan: StudyPlan, st: VariedStudy) -> str:
    sharp, medium, soft = VENDORS[plan.vendor].kernels
    if st.scan.sharpen > 0.4:
        return sharp
    return soft if st.scan.blur_mm > 0.4 else medium


def _lps(plan: StudyPlan, st: VariedStudy, z: float, y: float,
         x: float) -> tuple[float, float, float]:
    """Patient (x, y, z) mm of voxel (z, y, x)."""
    oz, oy, ox = st.grid.origin
    dz, dy, dx = st.grid.spacing
    return (ox + x * dx, oy + y * dy, oz + z * dz + plan.table_z)


def write_varied_study(plan: StudyPlan, root: Path,
                       acquisition: dict[str, object] | None = None) -> dict[str, Any]:
    """Render `plan.seed` of the family (`acquisition` overrides its Scan fields), write its
    one axial series under `root` (the DICOM tree) in the site's layout, and return its
    truth record (JSON-ready)."""
    overrides: dict[str, Any] = dict(acquisition or {})
    return write_rendered(plan, root, make_varied(plan.seed, **overrides))


def write_rendered(plan: StudyPlan, root: Path, st: VariedStudy) -> dict[str, Any]:
    """Write the rendered study `st` as `plan`'s one axial series under `root`; its truth
    record (JSON-ready)."""
    rng = np.random.default_rng(plan.detail_seed)
    layout = Layout(root, plan, rng)
    vendor = VENDORS[plan.vendor]
    info = StudyInfo(study_uid=plan.study_uid, frame_uid=plan.frame_uid,
                     identity=plan.identity, vendor=vendor, syntax=UID(plan.syntax),
                     kvp=plan.kvp, tube_ma=plan.tube_ma, kernel=_kernel_name(plan, st),
                     patient_position=plan.patient_position, round=plan.round)
    dz, dy, dx = st.spacing
    series = SeriesInfo(series_uid=f"{plan.uid_root}.2", number=2, description="LDCT CHEST",
                        thickness=dz, pixel_spacing=(dy, dx),
                        spacing_between=dz if vendor.spacing_tag else None)
    n = st.hu.shape[0]
    slices = []
    for k in range(n):
        instance = (n - k) if vendor.head_first_numbering else k + 1
        slices.append(SliceOut(layout.file(series, instance), st.hu[k],
                               _lps(plan, st, k, 0, 0), instance))
    size = write_series(info, series, slices)
    return _truth(plan, st, series, len(slices), size)


def _truth(plan: StudyPlan, st: VariedStudy, series: SeriesInfo, files: int,
           size: int) -> dict[str, Any]:
    ident = plan.identity
    nodules = [{
        "nodule_id": f"{plan.person_key}-{n.number}",
        "z": n.z, "y": n.y, "x": n.x,
        "centre_lps_mm": [round(v, 3) for v in _lps(plan, st, n.z, n.y, n.x)],
        "diameter_mm": n.diameter_mm, "solid_diameter_mm": n.solid_diameter_mm,
        "type": n.type.name.lower(), "attached_to": n.attached_to,
    } for n in st.nodules]
    return {
        "index": plan.index, "round": plan.round, "phantom_seed": plan.seed,
        "profile": FAMILY, "family": FAMILY,
        "study_uid": plan.study_uid, "patient_id": ident.PatientID,
        "region": plan.site.region, "site": plan.site.name, "age": ident.age,
        "sex": ident.sex, "study_date": ident.StudyDate,
        "vendor": VENDORS[plan.vendor].manufacturer,
        "transfer_syntax": UID(plan.syntax).name, "transfer_syntax_uid": plan.syntax,
        "primary_series_uid": series.series_uid,
        "shape": list(st.hu.shape), "spacing": list(st.spacing),
        "first_slice_lps_mm": [round(v, 3) for v in _lps(plan, st, 0, 0, 0)],
        "lung_z_range": list(st.lung_z_range),
        "nodules": nodules,
        "lung_rads": st.category().value,
        "series": [{"series_uid": series.series_uid, "kind": "axial", "files": files,
                    "bytes": size}],
        "defects": [], "rejected_files": [],
        "expected": {"selected": True, "reason": None},
        "acquisition": scan_record(st.scan),
    }


def scan_record(sc: Scan) -> dict[str, Any]:
    """The truth's `acquisition`: how the study was acquired and reconstructed."""
    return {"thickness_mm": sc.thickness, "pixel_mm": round(sc.pixel, 4),
            "matrix": sc.matrix, "soft_blur_mm": round(sc.blur_mm, 3),
            "sharpen": round(sc.sharpen, 3),
            "noise_sigma_hu": round(sc.noise_sigma, 2),
            "noise_grain_mm": round(sc.grain_mm, 3),
            "motion_mm": round(sc.motion_mm, 3),
            "pad_hu": sc.pad_hu if sc.fov_circle else None}


def _run(args: tuple[StudyPlan, Path, dict[str, object] | None]) -> dict[str, Any]:
    return write_varied_study(*args)


def write_varied_cohort(out: Path, *, studies: int, regions: int, seed: int,
                        workers: int | None = None, canary: bool = False,
                        acquisition: dict[str, object] | None = None) -> CohortSummary:
    """Write `studies` studies of the family over `regions` regions into `out`, laid out as
    synth.cohort documents (an existing `out/dicom` is replaced). `acquisition` overrides
    Scan fields of every study (small volumes for tests; recorded in cohort.json). Raises
    BadInput for impossible arguments."""
    if studies < 1:
        raise BadInput(f"--studies must be at least 1, got {studies}")
    if not 1 <= regions <= studies:
        raise BadInput(f"--regions must be between 1 and the number of studies ({studies}), "
                       f"got {regions}")
    if workers is not None and workers < 1:
        raise BadInput(f"workers must be at least 1, got {workers}")
    out = Path(out)
    dicom = fresh_dicom(out)
    plans = plan_cohort(studies=studies, regions=regions, seed=seed, profile=FAMILY,
                        defects=False, canary=canary)
    truths = run_jobs(_run, [(p, dicom, acquisition) for p in plans], workers)
    args = {"family": FAMILY, "studies": studies, "regions": regions, "seed": seed,
            "profile": FAMILY, "defects": False, "canary": canary}
    if acquisition:
        args["acquisition"] = dict(acquisition)
    return write_records(out, dicom, plans, truths, args, {"family": FAMILY}, canary)
