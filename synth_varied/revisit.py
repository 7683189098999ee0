"""Rendering a later scan of a known person of the varied family: same chest, new scan.

`render_visit(visit)` re-draws the person from their study seed (synth_varied.volume's
`draw_chest`: the same trees, fissures, mimics, and the emphysema of their first scan's
grid), draws the chest without nodules on a grid of the new scan's spacing in the
person's own frame, and samples it where the new scan's voxels fall once the patient is
posed (`visit.pose`: repositioned, turned, another breath hold); the table stays where
the scanner has it. The acquisition is framed on the posed lungs, keeps the site's
protocol (slices, pixels, kernel, noise texture) or, when `protocol_changed`, draws a new
one of the family's range. Nodules are drawn last, straight into the scan's frame: each
carried one moved and turned with the patient (not stretched) and refitted on the scan's
slice planes until its measured growth lies in its fate's band; new ones are placed
where there is room. Motion, kernel and noise are new.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kernel.contract import NoduleType
from synth.acquisition import Acquisition, Pose
from synth_varied.changes import Fate, NewLesion
from synth_varied.findings import Finding, render_finding
from synth_varied.finish import finish
from synth_varied.lesions import Shape, fit_size, measure
from synth_varied.persons import PROTOCOL_FIELDS, Lesion, Person
from synth_varied.placing import place_findings
from synth_varied.pose import anatomy_to_lps, lps_to_scanner
from synth_varied.scan import Scan, draw_scan
from synth_varied.torso import table_plate
from synth_varied.tubes import Grid
from synth_varied.volume import (
    Chest,
    VariedNodule,
    VariedStudy,
    draw_chest,
    lung_span,
    render_chest,
)

__all__ = ["Revisit", "Visit", "render_visit"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
_FLIP = np.eye(3)[::-1]  # (x, y, z) <-> (z, y, x)
_SLAB = 8
_BASE_NOISE = "base_noise_sigma"  # kept in a person's protocol: the level its noise varies about
_TRIES = 4  # refits of a carried nodule to land its growth in its band


@dataclass(frozen=True)
class Visit:
    """How to render a later scan of `person` (as of their prior scan)."""

    person: Person
    reposition: Acquisition  # relative to the prior scan
    fates: tuple[Fate, ...]
    new: tuple[NewLesion, ...]
    protocol_changed: bool
    seed: int  # the scan, new nodules' places, the noise
    overrides: tuple[tuple[str, Any], ...] = ()  # Scan fields every study of the cohort has

    @property
    def pose(self) -> Pose:
        """The person's first scan's LPS -> this scan's LPS."""
        return self.person.pose.then(self.reposition.pose())


@dataclass(frozen=True)
class Revisit:
    """A rendered visit: the study, the carried nodules outside it, and the person after."""

    study: VariedStudy
    unseen: tuple[int, ...]  # numbers of carried nodules the scan does not hold
    person: Person  # pose, protocol, lesions and next number after this scan


class _Frame:
    """The person's anatomy mm (z, y, x) <-> this scan's scanner mm (z, y, x)."""

    def __init__(self, pose: Pose, table_z: float) -> None:
        self.pose, self.table_z = pose, table_z
        self.turn = _FLIP @ pose.rotation @ _FLIP
        origin = self.to_anatomy(np.zeros(3))
        self.back = (np.stack([self.to_anatomy(e) for e in np.eye(3)]) - origin).T, origin

    def to_scanner(self, zyx: F64) -> F64:
        return lps_to_scanner(self.pose.apply(anatomy_to_lps(zyx, self.table_z)), self.table_z)

    def to_anatomy(self, zyx: F64) -> F64:
        return lps_to_scanner(self.pose.invert(anatomy_to_lps(zyx, self.table_z)), self.table_z)

    def shape(self, s: Shape) -> Shape:
        """`s` moved with the patient: its centre posed, its axes turned (not stretched)."""
        return dataclasses.replace(s, centre=self.to_scanner(s.centre),
                                   rotation=self.turn @ s.rotation)


def _scan(visit: Visit, chest: Chest, frame: _Frame) -> Scan:
    """The new acquisition, framed on the posed lungs (module doc)."""
    pat = chest.patient
    rng = np.random.default_rng(np.random.SeedSequence([visit.seed, 1]))
    fresh = draw_scan(rng, pat, {})
    below, above = (float(v) for v in rng.uniform(8.0, 30.0, 2))
    jitter = float(rng.uniform(0.85, 1.15))
    kept = visit.person.protocol or {f: getattr(chest.scan, f) for f in PROTOCOL_FIELDS}
    # the site's noise varies about the protocol's own level, not about the last scan's (a
    # kept protocol would otherwise random-walk its noise round after round)
    proto = ({f: getattr(fresh, f) for f in PROTOCOL_FIELDS} if visit.protocol_changed
             else {**{f: kept[f] for f in PROTOCOL_FIELDS},
                   "noise_sigma": _base_noise(visit, chest, None) * jitter})
    side = pat.med_w + 2.0 * pat.lung_ax
    box = np.array([[z, y, x] for z in (0.0, pat.lung_height) for y in (-pat.lung_by, pat.lung_by)
                    for x in (-side, side)])
    zz = frame.to_scanner(box)[:, 0]
    centre = frame.to_scanner(np.array([0.5 * pat.lung_height, 0.0, 0.0]))
    over = dict(visit.overrides)
    merged: dict[str, Any] = {
        **proto, "z_first": float(zz.min()) - below,
        "x_centre": float(centre[2]) + fresh.x_centre,
        "y_centre": float(centre[1]) + fresh.y_centre, "motion_mm": fresh.motion_mm, **over}
    coverage = float(zz.max() - zz.min()) + below + above
    merged.setdefault("n_slices", int(np.ceil(coverage / float(merged["thickness"]))) + 1)
    return Scan(**merged)


def _base_noise(visit: Visit, chest: Chest, scan: Scan | None) -> float:
    """The noise level of the protocol this visit's scan keeps (`scan`: the scan made, whose
    noise is the protocol's own when the protocol changed)."""
    if visit.protocol_changed and scan is not None:
        return float(scan.noise_sigma)
    kept = visit.person.protocol
    if kept is None:
        return float(chest.scan.noise_sigma)
    return float(kept.get(_BASE_NOISE, kept["noise_sigma"]))


def _anatomy(chest: Chest, scan: Scan, frame: _Frame) -> tuple[F32, npt.NDArray[np.bool_]]:
    """The chest without nodules and its lung mask, sampled on the scan's voxels."""
    zs, ys, xs = scan.axes()
    sp = np.asarray(scan.spacing)
    corners = np.array([[z, y, x] for z in (zs[0], zs[-1]) for y in (ys[0], ys[-1])
                        for x in (xs[0], xs[-1])])
    back = frame.to_anatomy(corners)
    lo = back.min(axis=0) - 2 * sp
    n = np.ceil((back.max(axis=0) + 2 * sp - lo) / sp).astype(int) + 1
    za, ya, xa = (lo[i] + np.arange(n[i]) * sp[i] for i in range(3))
    field = Grid(*_first_grid(chest))
    hu_a, lung_a, _ = render_chest(chest, za, ya, xa, scan.spacing, table=False,
                                   field_grid=field)
    lung_u8 = lung_a.view(np.uint8)
    matrix, offset = frame.back
    hu = np.empty((zs.size, ys.size, xs.size), dtype=np.float32)
    lung = np.zeros(hu.shape, dtype=bool)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    for k0 in range(0, zs.size, _SLAB):
        z = zs[k0:k0 + _SLAB]
        pts = np.stack(np.broadcast_arrays(z[:, None, None], gy[None], gx[None]), axis=-1)
        idx = ((pts @ matrix.T + offset - lo) / sp).transpose(3, 0, 1, 2)
        hu[k0:k0 + z.size] = ndimage.map_coordinates(hu_a, idx, order=1, mode="nearest")
        lung[k0:k0 + z.size] = ndimage.map_coordinates(lung_u8, idx, order=0, mode="constant",
                                                       cval=0) > 0
    if chest.patient.table:  # the scanner's, where the first scan had it, under the patient
        plate = np.broadcast_to(table_plate(chest.patient, ys[None, :, None], xs[None, None, :]),
                                hu.shape)
        hu[plate & (hu < -500.0)] = 120.0
    return hu, lung


def _first_grid(chest: Chest) -> tuple[tuple[float, float, float], tuple[float, float, float],
                                       tuple[int, int, int]]:
    zs, ys, xs = chest.scan.axes()
    return ((float(zs[0]), float(ys[0]), float(xs[0])), chest.scan.spacing,
            (zs.size, ys.size, xs.size))


def _finding(les: Lesion, outer: Shape, diameter: float, planes: F64) -> Finding:
    core = None
    solid = diameter
    if les.kind is NoduleType.PART_SOLID:
        core = outer.scaled(max(les.core_share, 0.2))
        solid = measure(core, planes)
    elif les.kind is NoduleType.GROUND_GLASS:
        solid = 0.0
    return Finding(les.kind, outer, core, les.hu_solid, les.hu_glass, les.attached_to,
                   diameter, solid)


def _carried(les: Lesion, fate: Fate, unit: Shape, planes: F64) -> Finding:
    """`les` refitted until its measured growth lies in the fate's band (or tries run out)."""
    lo, hi = fate.band
    target = fate.prior_diameter_mm + fate.aim_mm
    outer, diameter = fit_size(unit, target, planes)
    for _ in range(_TRIES):
        growth = round(diameter - fate.prior_diameter_mm, 1)
        if lo <= growth <= hi:
            break
        target = max(1.0, target + min(max(fate.aim_mm, lo), hi) - growth)
        outer, diameter = fit_size(unit, target, planes)
    return _finding(les, outer, diameter, planes)


def _planned(nl: NewLesion) -> Callable[[np.random.Generator], tuple[NoduleType, float]]:
    def draw(_rng: np.random.Generator) -> tuple[NoduleType, float]:
        return nl.kind, nl.size_mm
    return draw


def _new(visit: Visit, chest: Chest, lesions: list[Lesion], fates: dict[int, Fate],
         planes: F64) -> list[tuple[Lesion, float]]:
    """The new nodules placed in the person's frame (where there is room), with sizes."""
    rng = np.random.default_rng(np.random.SeedSequence([visit.seed, 2]))
    # kept clear of the carried nodules at the largest size their band allows (a new one
    # placed beside a growing one must not merge with it)
    grown = {n: f.prior_diameter_mm + max(f.band[1], 0.0) for n, f in fates.items()}
    clear = [_finding(les, les.shape.scaled(0.5 * grown[les.number]), grown[les.number], planes)
             for les in lesions if les.number in fates]
    out = []
    for nl in visit.new:
        placed = place_findings(rng, chest.patient, chest.vessels, chest.mimics, planes, 1,
                                draw=_planned(nl), keep_clear=clear)
        if placed:
            clear.append(placed[0])
            out.append((Lesion.of(nl.number, placed[0]), nl.size_mm))
    return out


def render_visit(visit: Visit) -> Revisit:
    """The later scan `visit` describes (module doc)."""
    person = visit.person
    over = dict(visit.overrides)
    chest = draw_chest(person.seed, n_nodules=None if person.lesions is None else 0, **over)
    lesions = list(person.lesions if person.lesions is not None
                   else (Lesion.of(k + 1, f) for k, f in enumerate(chest.findings)))
    frame = _Frame(visit.pose, person.table_z)
    scan = _scan(visit, chest, frame)
    hu, lung = _anatomy(chest, scan, frame)
    zs, ys, xs = scan.axes()
    grid = Grid((float(zs[0]), float(ys[0]), float(xs[0])), scan.spacing,
                (zs.size, ys.size, xs.size))
    half = scan.matrix * scan.pixel / 2.0 - 2.0

    def inside(s: Shape) -> bool:
        c = s.centre
        return bool(zs[0] + 3.0 < c[0] < zs[-1] - 3.0 and abs(c[1] - scan.y_centre) < half
                    and abs(c[2] - scan.x_centre) < half)

    fates = {f.number: f for f in visit.fates}
    drawn: list[tuple[int, Finding]] = []
    unseen: list[int] = []
    kept: list[Lesion] = []
    for les in lesions:
        fate = fates.get(les.number)
        if fate is None or fate.resolved:
            continue
        unit = frame.shape(les.shape)
        if inside(unit):
            drawn.append((les.number, _carried(les, fate, unit, zs)))
            kept.append(les)
        else:  # not carried on: the next round draws fates for this scan's nodules only
            unseen.append(les.number)
    first_planes = chest.scan.axes()[0]
    for les, size in _new(visit, chest, lesions, fates, first_planes):
        unit = frame.shape(les.shape)
        if inside(unit):
            outer, diameter = fit_size(unit, size, zs)
            drawn.append((les.number, _finding(les, outer, diameter, zs)))
            kept.append(les)
    for _, f in drawn:
        render_finding(hu, grid, f)
    noise = np.random.default_rng(np.random.SeedSequence([visit.seed, 3]))
    vol = finish(hu, scan, chest.patient, noise)
    truth = tuple(VariedNodule(
        z=round((f.outer.centre[0] - grid.origin[0]) / grid.spacing[0], 3),
        y=round((f.outer.centre[1] - grid.origin[1]) / grid.spacing[1], 3),
        x=round((f.outer.centre[2] - grid.origin[2]) / grid.spacing[2], 3),
        diameter_mm=f.diameter_mm, solid_diameter_mm=f.solid_diameter_mm, type=f.kind,
        attached_to=f.attached_to, number=number) for number, f in drawn)
    study = VariedStudy(vol, grid, truth, lung_span(lung), chest.patient, scan,
                        tuple(f for _, f in drawn), chest.vessels)
    after = dataclasses.replace(
        person, pose=visit.pose,
        protocol={**{f: getattr(scan, f) for f in PROTOCOL_FIELDS},
                  _BASE_NOISE: _base_noise(visit, chest, scan)},
        next_number=max([person.next_number, *(n.number + 1 for n in visit.new)]),
        lesions=tuple(kept))
    return Revisit(study, tuple(unseen), after)
