"""One study of the varied family, in memory: `make_varied(seed)`.

The seed's streams are split once (patient, acquisition, vessels, airways, lung changes,
nodules, noise), and each is drawn in full, so an override of the acquisition (a thinner
slice, another matrix) shows the same person (the nodules are sized on the scan's own
slice planes, so where they go may differ). The volume is built slab by slab (torso,
fissures, bands), then whole (emphysema, vessels, airways, scars, nodules), and finished
as the scanner would store it (finish.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category, categorize_study
from synth_varied.findings import Finding, render_finding
from synth_varied.finish import finish
from synth_varied.mimics import Mimics, add_bands, draw_mimics
from synth_varied.parenchyma import Fissure, add_emphysema, add_fissures, draw_fissures
from synth_varied.patient import Patient, draw_patient
from synth_varied.placing import place_findings
from synth_varied.scan import Scan, draw_scan
from synth_varied.torso import render_torso
from synth_varied.trees import airway_tree, vessel_tree
from synth_varied.tubes import Grid, Tubes, tube_fraction

__all__ = ["Chest", "VariedNodule", "VariedStudy", "describe", "draw_chest", "lung_span",
           "make_varied", "render_chest", "seed_streams"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_SLAB = 24


@dataclass(frozen=True)
class VariedNodule:
    """One nodule's truth, in voxels of the study's volume (slices foot to head)."""

    z: float
    y: float
    x: float
    diameter_mm: float
    solid_diameter_mm: float
    type: NoduleType
    attached_to: str
    number: int


@dataclass(frozen=True)
class VariedStudy:
    """A rendered study: int16 HU [D, H, W], its grid, truth, and what was drawn."""

    hu: npt.NDArray[np.int16]
    grid: Grid
    nodules: tuple[VariedNodule, ...]
    lung_z_range: tuple[int, int]
    patient: Patient
    scan: Scan
    findings: tuple[Finding, ...]
    vessels: Tubes

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.grid.spacing

    @property
    def lungs_covered(self) -> bool:
        first, last = self.lung_z_range
        return 0 < first <= last < self.hu.shape[0] - 1

    def category(self) -> Category:
        """Lung-RADS from the truth (0 when the lungs are cut off)."""
        found = [Nodule(n.z, n.y, n.x, n.diameter_mm, n.solid_diameter_mm, n.type, 1.0)
                 for n in self.nodules]
        return categorize_study(found, lungs_covered=self.lungs_covered)


def _count(rng: np.random.Generator) -> int:
    if rng.uniform() < 1.0 / 3.0:
        return 0
    return int(rng.choice([1, 2, 3, 4], p=[0.5, 0.28, 0.14, 0.08]))


def seed_streams(seed: int) -> list[np.random.Generator]:
    """Study `seed`'s random streams: patient, acquisition, vessels, airways, lung changes,
    nodules, noise."""
    return [np.random.default_rng(s)
            for s in np.random.SeedSequence([int(seed), 0x7A51ED]).spawn(7)]


def describe(seed: int, **scan: object) -> tuple[Patient, Scan]:
    """Study `seed`'s patient and acquisition, as make_varied draws them, without rendering."""
    r_pat, r_scan = seed_streams(seed)[:2]
    pat = draw_patient(r_pat)
    return pat, draw_scan(r_scan, pat, dict(scan))


@dataclass(frozen=True)
class Chest:
    """What study `seed`'s streams draw of a person before anything is rendered: the
    patient, the scan, the trees, fissures, mimics and nodules, and the streams still to
    be used (emphysema, noise). A later round re-draws the person from it."""

    patient: Patient
    scan: Scan
    vessels: Tubes
    airways: Tubes
    fissures: list[Fissure]
    mimics: Mimics
    findings: tuple[Finding, ...]
    lung_rng: np.random.Generator  # at the emphysema draw
    noise_rng: np.random.Generator


def draw_chest(seed: int, *, n_nodules: int | None = None, **scan: object) -> Chest:
    """Study `seed`'s person and acquisition as make_varied draws them (its arguments)."""
    r_pat, r_scan, r_ves, r_air, r_lung, r_nod, r_noise = seed_streams(seed)
    pat = draw_patient(r_pat)
    acq = draw_scan(r_scan, pat, dict(scan))
    vessels = vessel_tree(r_ves, pat)
    zs, _, _ = acq.axes()
    airways = airway_tree(r_air, pat, float(zs[-1]))
    fissures = draw_fissures(r_lung, pat)
    mimics = draw_mimics(r_lung, pat)
    count = _count(r_nod) if n_nodules is None else int(n_nodules)
    findings = place_findings(r_nod, pat, vessels, mimics, zs, count)
    # an overridden field of view can leave a nodule outside the image: no truth for it
    half = acq.matrix * acq.pixel / 2.0 - 2.0
    findings = [f for f in findings if abs(f.outer.centre[1] - acq.y_centre) < half
                and abs(f.outer.centre[2] - acq.x_centre) < half]
    return Chest(pat, acq, vessels, airways, fissures, mimics, tuple(findings), r_lung,
                 r_noise)


def render_chest(chest: Chest, zs: F64, ys: F64, xs: F64, spacing: tuple[float, float, float],
                 *, table: bool = True, field_grid: Grid | None = None
                 ) -> tuple[F32, npt.NDArray[np.bool_], Grid]:
    """The chest without nodules, ideal (float32 HU), and its lung mask, on the grid of
    axes `zs`, `ys`, `xs` (patient mm) and `spacing` (z, y, x; pixels square); `table`
    False leaves the scanner table out, `field_grid` lays the emphysema over the person's
    first scan's grid (a later scan's grid is another)."""
    pat = chest.patient if table else dataclasses.replace(chest.patient, table=False)
    grid = Grid((float(zs[0]), float(ys[0]), float(xs[0])), spacing,
                (zs.size, ys.size, xs.size))
    hu = np.empty(grid.shape, dtype=np.float32)
    lung = np.empty(grid.shape, dtype=bool)
    y3, x3 = ys[None, :, None], xs[None, None, :]
    edge = grid.spacing[1]
    mimics = chest.mimics
    for z0 in range(0, zs.size, _SLAB):
        z3 = zs[z0:z0 + _SLAB, None, None]
        h, m = render_torso(pat, z3, y3, x3)
        add_fissures(h, m, pat, chest.fissures, z3, y3, x3, edge)
        add_bands(h, m, mimics.bands, z3, y3, x3, edge)
        hu[z0:z0 + _SLAB], lung[z0:z0 + _SLAB] = h, m
    add_emphysema(chest.lung_rng, hu, lung, pat, grid, field_grid)
    f = tube_fraction(chest.vessels, grid)
    hu += f * np.maximum(np.float32(pat.hu_vessel) - hu, 0.0)
    airways = chest.airways
    walls = np.maximum(0.3, pat.wall_ratio * np.maximum(airways.r0, airways.r1))
    f = tube_fraction(airways.grown(walls), grid)
    hu += f * np.maximum(np.float32(pat.hu_wall) - hu, 0.0)
    f = tube_fraction(airways, grid)
    hu += f * (np.float32(-1000.0) - hu)
    f = tube_fraction(mimics.scars, grid)
    hu += f * (np.float32(mimics.scar_hu) - hu)
    return hu, lung, grid


def lung_span(lung: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """First and last slice holding lung ((0, -1) when none does)."""
    idx = np.flatnonzero(lung.any(axis=(1, 2)))
    return (int(idx[0]), int(idx[-1])) if idx.size else (0, -1)


def make_varied(seed: int, *, n_nodules: int | None = None, clean: bool = False,
                **scan: object) -> VariedStudy:
    """Render study `seed`. `n_nodules` fixes the count (default: none in a third of
    studies, else 1-4); `clean` leaves out motion, kernel and noise (the ideal volume);
    `scan` overrides fields of Scan (thickness, pixel, matrix, noise_sigma, ...), raising
    TypeError for an unknown name."""
    chest = draw_chest(seed, n_nodules=n_nodules, **scan)
    acq = chest.scan
    zs, ys, xs = acq.axes()
    hu, lung, grid = render_chest(chest, zs, ys, xs, acq.spacing)
    for finding in chest.findings:
        render_finding(hu, grid, finding)
    if clean:
        vol = np.rint(np.clip(hu, -1024.0, 3071.0)).astype(np.int16)
    else:
        vol = finish(hu, acq, chest.patient, chest.noise_rng)
    truth = tuple(VariedNodule(
        z=round((fd.outer.centre[0] - grid.origin[0]) / grid.spacing[0], 3),
        y=round((fd.outer.centre[1] - grid.origin[1]) / grid.spacing[1], 3),
        x=round((fd.outer.centre[2] - grid.origin[2]) / grid.spacing[2], 3),
        diameter_mm=fd.diameter_mm, solid_diameter_mm=fd.solid_diameter_mm, type=fd.kind,
        attached_to=fd.attached_to, number=k + 1) for k, fd in enumerate(chest.findings))
    return VariedStudy(vol, grid, truth, lung_span(lung), chest.patient, acq, chest.findings,
                       chest.vessels)
