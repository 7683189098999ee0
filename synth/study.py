"""Rendering and writing one planned study, defects included, and its ground-truth record.

`write_study(plan, root)` is what a cohort worker runs: it renders the phantom(s), writes
every series under `root` (the DICOM tree) in the site's folder layout, applies the
study's defect at the file level, and returns the JSON-ready truth record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import UID

from synth.dicom_writer import (
    CORONAL,
    VENDORS,
    SeriesInfo,
    SliceOut,
    StudyInfo,
    write_series,
)
from synth.followup import render_visit
from synth.layout import Layout
from synth.phantom import Phantom, crop_z, make_phantom, study_category
from synth.plan import DEFECTS, StudyPlan

__all__ = ["render_plan", "write_study"]


@dataclass(frozen=True)
class _Written:
    series: SeriesInfo
    kind: str
    files: tuple[Path, ...]
    bytes: int


def _kernel_name(plan: StudyPlan, ph: Phantom) -> str:
    sharp, medium, soft = VENDORS[plan.vendor].kernels
    k = ph.params.kernel if ph.params is not None else 0.0
    return sharp if k < 0.0 else (medium if k < 0.1 else soft)


def _study_info(plan: StudyPlan, ph: Phantom, syntax: str | None = None) -> StudyInfo:
    return StudyInfo(
        study_uid=plan.study_uid, frame_uid=plan.frame_uid, identity=plan.identity,
        vendor=VENDORS[plan.vendor], syntax=UID(syntax or plan.syntax), kvp=plan.kvp,
        tube_ma=plan.tube_ma, kernel=_kernel_name(plan, ph),
        patient_position=plan.patient_position, round=plan.round)


def _lps(plan: StudyPlan, ph: Phantom, z: float, y: float, x: float) -> tuple[float, float, float]:
    """Patient (x, y, z) mm of voxel (z, y, x) of `ph`."""
    oz, oy, ox = ph.origin
    dz, dy, dx = ph.spacing
    return (ox + x * dx, oy + y * dy, oz + z * dz + plan.table_z)


def _axial(plan: StudyPlan, ph: Phantom, layout: Layout, series: SeriesInfo,
           order: list[int], *, folder: str | None = None, first_rank: int = 0,
           total: int | None = None) -> list[SliceOut]:
    """Slices `order` (indices into ph.hu, repeats allowed) as files of `series`.

    A series written in parts (a study split across folders) passes each part's
    `first_rank` and the series' `total`, so instance numbers (and with them SOP Instance
    UIDs) run on across the parts instead of restarting.
    """
    n = len(order) if total is None else total
    head_first = VENDORS[plan.vendor].head_first_numbering
    out = []
    for rank, k in enumerate(order, start=first_rank):
        instance = (n - rank) if head_first else rank + 1
        path = layout.file(series, instance, folder=folder)
        out.append(SliceOut(path, ph.hu[k], _lps(plan, ph, k, 0, 0), instance))
    return out


def _series(plan: StudyPlan, ph: Phantom, number: int, description: str,
            **kw: Any) -> SeriesInfo:
    spacing_tag = VENDORS[plan.vendor].spacing_tag
    return SeriesInfo(series_uid=f"{plan.uid_root}.{number}", number=number,
                      description=description, thickness=ph.spacing[0],
                      pixel_spacing=(ph.spacing[1], ph.spacing[2]),
                      spacing_between=ph.spacing[0] if spacing_tag else None, **kw)


Shapes = list[dict[str, Any]] | None


def render_plan(plan: StudyPlan,
                slice_thickness: float | None = None) -> tuple[Phantom, Shapes]:
    """The study's volume (at `slice_thickness` mm, or its own), and its nodules' shapes
    where it is a later scan of a known person (None: make_phantom(seed)'s)."""
    variation = {} if slice_thickness is None else {"slice_thickness": slice_thickness}
    visit = plan.follow_up.visit if plan.follow_up is not None else None
    if visit is not None:
        return render_visit(plan.seed, plan.profile, visit, **variation)
    if slice_thickness is None:
        return make_phantom(plan.seed, plan.profile), None
    return make_phantom(plan.seed, plan.profile, slice_thickness=slice_thickness), None


def write_study(plan: StudyPlan, root: Path) -> tuple[dict[str, Any], Shapes]:
    """Render and write `plan` under `root`. The truth record (JSON-ready) comes back, with
    the nodules' shapes in anatomy mm for a later scan of a known person (what its next
    round starts from; None where make_phantom(seed) has them)."""
    defect = plan.defect
    rng = np.random.default_rng(plan.detail_seed)
    if defect == "thick_slices":
        ph, shapes = render_plan(plan, slice_thickness=5.0)
    else:
        ph, shapes = render_plan(plan)
    if defect == "incomplete_lung_coverage":
        first, last = ph.lung_z_range
        keep = int(rng.uniform(90.0, 170.0) / ph.spacing[0])
        start = int(rng.integers(max(first, 1), max(first + 2, last - keep)))
        ph = crop_z(ph, start, start + keep)
    layout = Layout(root, plan, rng)
    written: list[_Written] = []
    info = _study_info(plan, ph)
    order = list(range(ph.hu.shape[0]))
    primary = _series(plan, ph, 2, "LDCT CHEST")
    rejected: list[dict[str, str]] = []
    folder_b: str | None = None
    first, last = ph.lung_z_range
    mid = (first + last) // 2 + int(rng.integers(-5, 6))
    if defect == "slice_gap":
        order.pop(mid)
    elif defect == "duplicate_slices":
        order.insert(mid, mid)
    elif defect == "inconsistent_spacing":
        order = order[:mid] + order[mid::2]
    elif defect == "not_ct":
        primary = _series(plan, ph, 2, "T1 AXIAL THORAX", modality="MR",
                          image_type=("ORIGINAL", "PRIMARY", "M", "ND"))
    if defect == "split_folders":
        half = len(order) // 2
        slices = (_axial(plan, ph, layout, primary, order[:half], total=len(order))
                  + _axial(plan, ph, layout, primary, order[half:], folder=layout.second_folder(),
                           first_rank=half, total=len(order)))
        folder_b = layout.second_folder()
    else:
        slices = _axial(plan, ph, layout, primary, order)
    size = write_series(info, primary, slices)
    written.append(_Written(primary, "mr" if defect == "not_ct" else "axial",
                            tuple(s.path for s in slices), size))
    truth_ph = ph

    if defect == "thin_and_thick":
        other_t = 2.0 if plan.profile == "realistic" else 1.25
        other, other_shapes = render_plan(plan, slice_thickness=other_t)
        extra = _series(plan, other, 3, f"LDCT CHEST {other_t:g}MM")
        extra_slices = _axial(plan, other, layout, extra, list(range(other.hu.shape[0])))
        size = write_series(_study_info(plan, other), extra, extra_slices)
        written.append(_Written(extra, "axial", tuple(s.path for s in extra_slices), size))
        if other_t < ph.spacing[0]:
            truth_ph, primary, shapes = other, extra, other_shapes
    elif defect == "scout":
        written.append(_scout(plan, ph, layout, info))
    elif defect == "coronal_reformat":
        written.append(_coronal(plan, ph, layout, info))
    elif defect == "truncated_file":
        victim = slices[len(slices) // 2].path
        data = victim.read_bytes()
        victim.write_bytes(data[: int(len(data) * rng.uniform(0.4, 0.8))])
        rejected.append({"path": layout.rel(victim), "reason": "unreadable_file"})
    elif defect == "non_dicom_file":
        rejected.append({"path": layout.rel(layout.junk_file(rng)), "reason": "not_dicom"})
    return _truth(plan, truth_ph, primary, written, layout, rejected, folder_b), shapes


def _scout(plan: StudyPlan, ph: Phantom, layout: Layout, info: StudyInfo) -> _Written:
    """A coronal projection radiograph (localizer), one image, head at the top."""
    proj = ph.hu.astype(np.float32).mean(axis=1)[::-1]
    img = np.clip(proj, -1024, 3071).astype(np.int16)
    series = SeriesInfo(series_uid=f"{plan.uid_root}.1", number=1, description="TOPOGRAM",
                        thickness=ph.spacing[1], pixel_spacing=(ph.spacing[0], ph.spacing[2]),
                        orientation=CORONAL, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    top = _lps(plan, ph, ph.hu.shape[0] - 1, ph.hu.shape[1] / 2, 0)
    out = [SliceOut(layout.file(series, 1), img, top, 1)]
    return _Written(series, "scout", (out[0].path,), write_series(info, series, out))


def _coronal(plan: StudyPlan, ph: Phantom, layout: Layout, info: StudyInfo) -> _Written:
    """A coronal reformat of the axial volume: every 4th row, head at the top of each image."""
    step = 4
    series = SeriesInfo(series_uid=f"{plan.uid_root}.4", number=4, description="COR MPR",
                        thickness=ph.spacing[1] * step,
                        pixel_spacing=(ph.spacing[0], ph.spacing[2]), orientation=CORONAL,
                        image_type=("DERIVED", "SECONDARY", "REFORMATTED"))
    rows = range(step // 2, ph.hu.shape[1], step)
    out = [SliceOut(layout.file(series, n + 1), np.ascontiguousarray(ph.hu[::-1, j, :]),
                    _lps(plan, ph, ph.hu.shape[0] - 1, j, 0), n + 1)
           for n, j in enumerate(rows)]
    return _Written(series, "coronal", tuple(s.path for s in out), write_series(info, series, out))


def _truth(plan: StudyPlan, ph: Phantom, primary: SeriesInfo, written: list[_Written],
           layout: Layout, rejected: list[dict[str, str]], folder_b: str | None) -> dict[str, Any]:
    selected, reason = DEFECTS[plan.defect] if plan.defect else (True, None)
    ident = plan.identity
    nodules = [{
        "nodule_id": f"{plan.person_key}-{n.number}",
        "z": round(n.z, 3), "y": round(n.y, 3), "x": round(n.x, 3),
        "centre_lps_mm": [round(v, 3) for v in _lps(plan, ph, n.z, n.y, n.x)],
        "diameter_mm": n.diameter_mm, "solid_diameter_mm": n.solid_diameter_mm,
        "type": n.type.name.lower(), "attached_to": n.attached_to,
    } for n in ph.nodules]
    defects = []
    if plan.defect:
        entry: dict[str, Any] = {"kind": plan.defect}
        if rejected:
            entry["files"] = [r["path"] for r in rejected]
        if folder_b:
            entry["folders"] = [layout.rel(layout.study_dir), layout.rel(layout.study_dir.parent
                                                                          / folder_b)]
        defects.append(entry)
    truth = {
        "index": plan.index,
        "round": plan.round,
        "phantom_seed": plan.seed,
        "profile": plan.profile,
        "study_uid": plan.study_uid,
        "patient_id": ident.PatientID,
        "region": plan.site.region,
        "site": plan.site.name,
        "age": ident.age,
        "sex": ident.sex,
        "study_date": ident.StudyDate,
        "vendor": VENDORS[plan.vendor].manufacturer,
        "transfer_syntax": UID(plan.syntax).name,
        "transfer_syntax_uid": plan.syntax,
        "primary_series_uid": primary.series_uid,
        "shape": list(ph.hu.shape),
        "spacing": list(ph.spacing),
        "first_slice_lps_mm": [round(v, 3) for v in _lps(plan, ph, 0, 0, 0)],
        "lung_z_range": list(ph.lung_z_range),
        "nodules": nodules,
        "lung_rads": study_category(ph).value,
        "series": [{"series_uid": w.series.series_uid, "kind": w.kind, "files": len(w.files),
                    "bytes": w.bytes} for w in written],
        "defects": defects,
        "rejected_files": rejected,
        "expected": {"selected": selected, "reason": reason.value if reason else None},
    }
    if plan.follow_up is not None:
        truth.update(plan.follow_up.truth(nodules))
    return truth
