"""Rendering a later screening round of a known person: same anatomy, new acquisition.

`render_visit(seed, profile, visit)` draws the person of `make_phantom(seed, profile)`
again, as a new scan sees them: the patient lies a few mm and degrees off and holds a
different breath (`visit.pose`, applied to the noise-free anatomy by resampling), the
scanner may be another, the noise is new. Each prior nodule comes back at the same
anatomical place (moved rigidly with the patient) and grown, stable or smaller, refitted
so that its Lung-RADS diameter on this scan's slice planes is the size planned; new
nodules are drawn where none is. Truth is measured on the shapes drawn, as for a first
scan (placement.measure).

Frames: anatomy mm (z, y, x) is the phantom's; the person's first scan has LPS (x, y, z)
= (x, y, z + table_z); a later scan's LPS is the pose of the first's; its volume is sampled
on a grid of scanner mm (z, y, x) with the same table offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kernel.contract import NoduleType
from synth.acquisition import Acquisition, Pose
from synth.anatomy import draw_table
from synth.nodules import NoduleSpec, NoduleTruth, draw_nodule, fit_diameter
from synth.noise import finish_volume
from synth.phantom import (
    Body,
    Phantom,
    baseline_nodules,
    draw_body,
    lung_z_range,
    noise_profile,
    render_anatomy,
)
from synth.placement import measure, new_nodule

__all__ = ["Carried", "FollowUp", "NewNodule", "PriorLink", "Visit", "link_to_prior",
           "render_visit"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

_FLIP = np.eye(3)[::-1]  # (x, y, z) <-> (z, y, x)
_SLAB = 8


@dataclass(frozen=True)
class Carried:
    """A prior nodule in the new round: its fate and the size it is drawn at."""

    nodule_id: str
    number: int
    change: str  # "grown" | "stable" | "smaller" | "resolved" (not drawn)
    target_mm: float  # Lung-RADS diameter to draw it at (0 when resolved)
    prior_diameter_mm: float
    prior_solid_diameter_mm: float
    prior_centre_lps_mm: tuple[float, float, float]
    spec: NoduleSpec | None  # anatomy mm; None: nodule `number` of make_phantom(seed)


@dataclass(frozen=True)
class NewNodule:
    """A nodule the prior did not have."""

    number: int
    kind: NoduleType
    size_mm: float


@dataclass(frozen=True)
class Visit:
    """How to render a later scan of a person whose earlier scan is known."""

    pose: Pose  # the first scan's LPS -> this scan's LPS
    table_z: float  # LPS z minus anatomy z in the first scan
    carried: tuple[Carried, ...]
    new: tuple[NewNodule, ...]
    seed: int  # new nodules' places and the noise
    next_number: int  # the number the person's next new nodule gets
    scanner: tuple[tuple[str, float], ...] = ()  # ScanParams overrides of this scanner


@dataclass(frozen=True)
class PriorLink:
    """The prior study a follow-up is compared with."""

    study_uid: str
    study_date: str  # YYYYMMDD
    interval_days: int
    pixels_available: bool


def link_to_prior(nodule: dict[str, Any], prior: tuple[str, float, float] | None) -> None:
    """Add a nodule's follow-up truth fields (either family): its prior's id, diameter and
    solid diameter (`prior`; None: a new nodule), its growth, and its change named from the
    measured growth (over 0.3 mm either way: grown or smaller, else stable)."""
    growth = None if prior is None else round(nodule["diameter_mm"] - prior[1], 1)
    change = "new"
    if growth is not None:
        change = "grown" if growth > 0.3 else ("smaller" if growth < -0.3 else "stable")
    nodule.update({
        "prior_nodule_id": None if prior is None else prior[0],
        "change": change,
        "prior_diameter_mm": None if prior is None else prior[1],
        "prior_solid_diameter_mm": None if prior is None else prior[2],
        "growth_mm": growth,
    })


@dataclass(frozen=True)
class FollowUp:
    """A study of a follow-up cohort: its link to a prior and, for a known person, the
    visit (None: a person rendered as a first scan, a new entrant or one whose prior is
    missing)."""

    visit: Visit | None
    prior: PriorLink | None
    prior_expected: bool
    acquisition: Acquisition | None
    vendor_changed: bool = False

    def truth(self, nodules: list[dict[str, Any]]) -> dict[str, Any]:
        """The study's follow-up truth fields; adds each nodule's link to its prior. A
        linked nodule's change is named from its measured growth (over 0.3 mm: grown)."""
        carried = {c.nodule_id: c for c in self.visit.carried} if self.visit else {}
        for n in nodules:
            c = carried.get(n["nodule_id"])
            link_to_prior(n, None if c is None else
                          (c.nodule_id, c.prior_diameter_mm, c.prior_solid_diameter_mm))
        seen = {n["nodule_id"] for n in nodules}
        acq = None
        if self.acquisition is not None:
            acq = {**self.acquisition.to_json(), "vendor_changed": self.vendor_changed}

        def gone(c: Carried) -> dict[str, Any]:
            return {"nodule_id": c.nodule_id, "prior_diameter_mm": c.prior_diameter_mm,
                    "centre_lps_mm": list(c.prior_centre_lps_mm)}

        return {
            "prior": None if self.prior is None else {
                "study_uid": self.prior.study_uid, "study_date": self.prior.study_date,
                "interval_days": self.prior.interval_days,
                "pixels_available": self.prior.pixels_available},
            "prior_expected": self.prior_expected,
            "acquisition": acq,
            "resolved": [gone(c) for c in carried.values() if c.change == "resolved"],
            # still there, but outside this study's volume (a defect cut the lungs short)
            "unseen": [gone(c) for c in carried.values()
                       if c.change != "resolved" and c.nodule_id not in seen],
        }


def _to_lps(zyx: F64, table_z: float) -> F64:
    out: F64 = zyx[..., ::-1] + np.array([0.0, 0.0, table_z])
    return out


def _from_lps(xyz: F64, table_z: float) -> F64:
    out: F64 = (xyz - np.array([0.0, 0.0, table_z]))[..., ::-1]
    return out


def _scanner_grid(body: Body, visit: Visit) -> tuple[F64, F32, F32]:
    """The new scan's sample positions (scanner mm): the prior's field of view, its z range
    following the lungs' centre and 10 mm longer at each end (the breath hold and tilt
    move the lungs' ends)."""
    zs0, ys, xs = body.grid()
    dz = float(body.params.slice_thickness)
    anat = body.anat
    centre = np.array([anat.lung_base + 0.5 * anat.lung_height, 0.0, 0.0])
    moved = _from_lps(visit.pose.apply(_to_lps(centre, visit.table_z)), visit.table_z)
    pad = math.ceil(10.0 / dz)
    zs = (np.arange(-pad, zs0.size + pad) + 0.5) * dz + (moved[0] - centre[0])
    return zs, ys, xs


def _resample(body: Body, visit: Visit, zs: F64, ys: F32, xs: F32,
              spacing: tuple[float, float, float]) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Noise-free anatomy (no nodules) and the lung mask sampled on the scanner grid: the
    anatomy is drawn on a grid covering the posed field of view, then interpolated; the
    table, which does not move with the patient, is drawn on the scanner grid."""
    to_anat = _affine_to_anatomy(visit)
    corners = np.array([[z, y, x] for z in (zs[0], zs[-1]) for y in (ys[0], ys[-1])
                        for x in (xs[0], xs[-1])], dtype=np.float64)
    back = corners @ to_anat[0].T + to_anat[1]
    sp = np.asarray(spacing)
    lo = back.min(axis=0) - 2 * sp
    hi = back.max(axis=0) + 2 * sp
    n = np.ceil((hi - lo) / sp).astype(int) + 1
    rz = lo[0] + np.arange(n[0]) * sp[0]
    ry = (lo[1] + np.arange(n[1]) * sp[1]).astype(np.float32)
    rx = (lo[2] + np.arange(n[2]) * sp[2]).astype(np.float32)
    hu_r, lungs_r, _ = render_anatomy(body, rz, ry, rx, spacing, float(rz[-1]), table=False)
    lungs_u8 = lungs_r.view(np.uint8)
    out = np.empty((zs.size, ys.size, xs.size), dtype=np.float32)
    lungs = np.zeros(out.shape, dtype=bool)
    first = np.array([rz[0], ry[0], rx[0]], dtype=np.float64)
    gy, gx = np.meshgrid(ys.astype(np.float64), xs.astype(np.float64), indexing="ij")
    for k0 in range(0, zs.size, _SLAB):
        zz = zs[k0:k0 + _SLAB]
        pts = np.stack(np.broadcast_arrays(zz[:, None, None], gy[None], gx[None]), axis=-1)
        idx = ((pts @ to_anat[0].T + to_anat[1] - first) / sp).transpose(3, 0, 1, 2)
        out[k0:k0 + zz.size] = ndimage.map_coordinates(hu_r, idx, order=1, mode="nearest")
        lungs[k0:k0 + zz.size] = ndimage.map_coordinates(lungs_u8, idx, order=0,
                                                         mode="constant", cval=0) > 0
    draw_table(body.anat, out, xs, ys)  # the scanner's: where the prior had it
    return out, lungs


def _affine_to_anatomy(visit: Visit) -> tuple[F64, F64]:
    """(M, m) with anatomy = M @ scanner + m, both (z, y, x) mm."""
    inv = np.linalg.inv(visit.pose.matrix)
    table = np.array([0.0, 0.0, visit.table_z])
    # scanner s -> LPS F s + t -> first scan's LPS inv (F s + t - offset) -> anatomy F (. - t)
    matrix = _FLIP @ inv @ _FLIP
    offset = _FLIP @ (inv @ (table - visit.pose.offset) - table)
    return matrix, offset


def render_visit(seed: int, profile: str, visit: Visit,
                 **variation: object) -> tuple[Phantom, list[dict[str, Any]]]:
    """The follow-up scan of person `seed` (see module doc), and the shapes of its nodules
    in anatomy mm (what the next round starts from: [{number, shape}])."""
    body = draw_body(seed, profile, {**dict(visit.scanner), **variation})
    carried_specs: dict[int, NoduleSpec] = {}
    if any(c.spec is None for c in visit.carried):
        carried_specs = {t.number: spec for spec, t in baseline_nodules(body)}
    rng_new = np.random.default_rng(np.random.SeedSequence([visit.seed, 1]))
    rng_noise = np.random.default_rng(np.random.SeedSequence([visit.seed, 2]))
    params = body.params
    spacing = (float(params.slice_thickness), float(params.pixel_spacing),
               float(params.pixel_spacing))
    zs, ys, xs = _scanner_grid(body, visit)
    hu, lungs = _resample(body, visit, zs, ys, xs, spacing)

    anatomical: list[tuple[int, NoduleSpec, float]] = []  # number, shape, size to draw
    for c in visit.carried:
        spec = c.spec if c.spec is not None else carried_specs.get(c.number)
        if spec is not None and c.change != "resolved":
            anatomical.append((c.number, spec, c.target_mm))
    avoid = [(s.outer.centres[0], 0.5 * 1.25 * float(c.prior_diameter_mm))
             for c in visit.carried
             for s in [c.spec if c.spec is not None else carried_specs.get(c.number)]
             if s is not None]
    bz, _, _ = body.grid()
    for nn in visit.new:
        spec = new_nodule(body.anat, rng_new, body.vessels, nn.kind, nn.size_mm, avoid, bz,
                          float(params.pixel_spacing))
        if spec is not None:
            anatomical.append((nn.number, spec, nn.size_mm))

    first = np.array([zs[0], ys[0], xs[0]], dtype=np.float64)
    rotation = _FLIP @ visit.pose.rotation @ _FLIP
    planes = np.arange(zs.size) * spacing[0]
    truths: list[NoduleTruth] = []
    shapes: list[dict[str, Any]] = []
    for number, spec, target in anatomical:
        centre = _from_lps(visit.pose.apply(_to_lps(spec.outer.centres[0], visit.table_z)),
                           visit.table_z)
        local, factor = fit_diameter(spec.placed(centre - first, rotation), target, planes,
                                     spacing[1])
        draw_nodule(hu, spacing, local)
        truths.append(measure(local, spacing, zs.size, number))
        shapes.append({"number": number, "shape": spec.scaled(factor).to_json()})

    to_anat = _affine_to_anatomy(visit)
    anat_z = (np.stack([zs, np.zeros_like(zs), np.zeros_like(zs)], axis=1) @ to_anat[0].T
              + to_anat[1])[:, 0]  # the anatomy's height at each slice's centre
    vol = finish_volume(hu, rng_noise, kernel=params.kernel, noise_sigma=params.noise_sigma,
                        noise_corr=params.noise_corr,
                        sigma_profile=noise_profile(body.anat, anat_z))
    origin = (float(first[0]), float(first[1]), float(first[2]))
    return Phantom(vol, spacing, tuple(truths), lung_z_range(lungs), origin, params), shapes
