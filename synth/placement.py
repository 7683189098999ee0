"""Choosing nodules (type, size, attachment), placing them in the lungs, drawing them.

Free nodules need a clear margin of lung all round; pleural ones sit on the lung's edge,
reaching the chest wall; vessel ones sit against a vessel of 0.8-3 mm radius; airway ones
(training data only) against the wall of a bronchus. Candidates are
drawn in batches and tested against the analytic lung; nodules never overlap. Each truth
diameter is measured on the final shape (nodules.lungrads_diameter), after the shape was
scaled so its measurement matches the size drawn.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kernel.contract import NoduleType
from synth.anatomy import Anatomy
from synth.nodules import (
    Blob,
    NoduleSpec,
    NoduleTruth,
    draw_nodule,
    lungrads_diameter,
    random_blob,
)
from synth.raster import Tubes

__all__ = ["AIRWAY_WALL_MM", "choose_nodules", "measure", "new_nodule", "place_nodules",
           "shape_nodule"]

AIRWAY_WALL_MM = 1.5  # the airway wall's thickness (phantom.py grows the lumen by it)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_DIRS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1],
                  [1, 1, 1], [1, 1, -1], [1, -1, 1], [1, -1, -1], [-1, 1, 1], [-1, 1, -1],
                  [-1, -1, 1], [-1, -1, -1]], dtype=np.float64)
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def _kind(rng: np.random.Generator) -> NoduleType:
    return NoduleType(int(rng.choice(3, p=[0.6, 0.15, 0.25])))


def _size(rng: np.random.Generator, kind: NoduleType) -> float:
    lo, hi = {NoduleType.SOLID: (3.0, 35.0), NoduleType.PART_SOLID: (6.0, 30.0),
              NoduleType.GROUND_GLASS: (5.0, 35.0)}[kind]
    if rng.uniform() < 0.7:
        hi_small = min(hi, 12.0 if kind is NoduleType.SOLID else 18.0)
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi_small))))
    return float(np.exp(rng.uniform(np.log(max(lo, 8.0)), np.log(hi))))


def _in_lung(anat: Anatomy, p: F64) -> npt.NDArray[np.bool_]:
    return anat.lung_mask(p[..., 2], p[..., 1], p[..., 0])


def _candidates(anat: Anatomy, rng: np.random.Generator, n: int) -> F64:
    a = anat.body_a
    pts = np.stack([anat.lung_base + anat.lung_height * rng.uniform(0.08, 0.92, n),
                    rng.uniform(-a, a, n), rng.uniform(-a, a, n)], axis=1)
    return np.asarray(pts[_in_lung(anat, pts)])


def _clear(anat: Anatomy, pts: F64, radius: float) -> npt.NDArray[np.bool_]:
    shell = pts[:, None, :] + radius * _DIRS[None, :, :]
    return np.asarray(_in_lung(anat, shell).all(axis=1) & _in_lung(anat, pts))


def _pleural(anat: Anatomy, rng: np.random.Generator,
             radius: float) -> tuple[F64, F64] | None:
    """A point on the lung's edge and the outward direction there (in-plane)."""
    pts = _candidates(anat, rng, 64)
    for p in pts:
        side = 1.0 if p[2] > 0 else -1.0
        cx, cy = anat.lung_centre(1, p[0])
        out = np.array([0.0, p[1] - float(cy), p[2] - side * float(cx)])
        out /= max(float(np.linalg.norm(out)), 1e-6)
        steps = p[None, :] + np.arange(0.0, 200.0, 0.5)[:, None] * out[None, :]
        inside = _in_lung(anat, steps)
        exit_idx = int(np.argmin(inside)) if not inside.all() else 0
        if exit_idx == 0:
            continue
        edge = steps[exit_idx - 1]
        if _in_lung(anat, (edge - out * 2.0 * radius)[None])[0]:
            return np.asarray(edge), out
    return None


def _beside_tube(anat: Anatomy, rng: np.random.Generator, tubes: Tubes, ok: npt.NDArray[np.bool_],
                 radius: float, wall: float) -> F64 | None:
    """A centre `radius` mm (less 20%, so they touch) outside one of the `ok` tubes' outer
    surface (lumen radius + `wall`), with lung all round."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return None
    for i in rng.choice(idx, size=min(40, idx.size), replace=False):
        a, b = tubes.p0[i], tubes.p1[i]
        axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
        rnd = rng.normal(size=3)
        perp = rnd - (rnd @ axis) * axis
        perp /= max(float(np.linalg.norm(perp)), 1e-6)
        centre = 0.5 * (a + b) + perp * (tubes.r0[i] + wall + 0.8 * radius)
        if _clear(anat, centre[None, :], radius + 1.0)[0]:
            return np.asarray(centre)
    return None


def _juxtavascular(anat: Anatomy, rng: np.random.Generator, vessels: Tubes,
                   radius: float) -> F64 | None:
    return _beside_tube(anat, rng, vessels, (vessels.r0 >= 0.8) & (vessels.r0 <= 3.0), radius,
                        0.0)


def _juxta_airway(anat: Anatomy, rng: np.random.Generator, airways: Tubes,
                  radius: float) -> F64 | None:
    """Beside a bronchus inside the lung (lumen 1.2-6 mm; the trachea and the main bronchi,
    outside the lung, never pass `_clear`)."""
    return _beside_tube(anat, rng, airways, (airways.r0 >= 1.2) & (airways.r0 <= 6.0), radius,
                        AIRWAY_WALL_MM)


def _shapes(rng: np.random.Generator, kind: NoduleType, centre: F64,
            size: float, planes: F64, px: float) -> tuple[Blob, Blob | None]:
    outer = _fit(random_blob(rng, centre, size), centre, size, planes, px)
    if kind is not NoduleType.PART_SOLID:
        return outer, None
    frac = float(rng.uniform(0.3, 0.7))
    core_centre = centre + rng.normal(0.0, 0.1 * size, 3)
    core = _fit(random_blob(rng, core_centre, size * frac), core_centre, size * frac, planes, px)
    return outer, core


def _touching(outer: Blob, core: Blob | None, edge: F64, out: F64) -> tuple[Blob, Blob | None]:
    """Shapes moved along `out` so the outer one just reaches the lung edge (0.5 mm in)."""
    reach = float(((outer.centres - edge) @ out + outer.radii).max())
    shift = -out * (reach - 0.5)
    return outer.moved(shift), (core.moved(shift) if core is not None else None)


def _fit(blob: Blob, centre: F64, size: float, planes: F64, px: float) -> Blob:
    measured = lungrads_diameter(blob, planes, px)
    return blob.scaled(size / measured, centre) if measured > 0 else blob


def place_nodules(hu: F32, spacing: tuple[float, float, float], anat: Anatomy, first: F64,
                  vessels: Tubes, rng: np.random.Generator, count: int,
                  small_juxtavascular: float = 0.0, juxta_airway: float = 0.0,
                  airways: Tubes | None = None) -> tuple[NoduleTruth, ...]:
    """Draw `count` nodules into `hu` (in place) and return their truth (`choose_nodules`)."""
    chosen = choose_nodules(hu.shape[0], spacing, anat, first, vessels, rng, count,
                            small_juxtavascular, juxta_airway, airways)
    for spec, _ in chosen:
        draw_nodule(hu, spacing, spec)
    return tuple(truth for _, truth in chosen)


def choose_nodules(n_slices: int, spacing: tuple[float, float, float], anat: Anatomy,
                   first: F64, vessels: Tubes, rng: np.random.Generator, count: int,
                   small_juxtavascular: float = 0.0, juxta_airway: float = 0.0,
                   airways: Tubes | None = None) -> tuple[tuple[NoduleSpec, NoduleTruth], ...]:
    """Choose `count` nodules of a volume of `n_slices` slices: shapes and truth, undrawn.

    `first` is the anatomy position (z, y, x mm) of voxel [0, 0, 0]; `vessels` are in
    anatomy mm; the shapes come back in the volume's frame (voxel [0, 0, 0] at 0 mm).
    Fewer than `count` come back only if no room was found for one. Each truth's `number`
    is its position in the list.
    `small_juxtavascular`: the share of nodules drawn instead as 3-6 mm solid ones against
    a vessel (training data only; at 0, the default, nothing more is drawn from `rng`).
    `juxta_airway`: the share of nodules (of their drawn type and size) placed against the
    wall of one of `airways` (anatomy mm) instead (training data only; 0 draws nothing).
    """
    sp = np.asarray(spacing)
    planes = np.arange(n_slices) * sp[0]
    px = float(sp[1])
    placed: list[tuple[F64, float]] = []
    chosen: list[tuple[NoduleSpec, NoduleTruth]] = []
    for _ in range(count):
        kind = _kind(rng)
        size = _size(rng, kind)
        roll = rng.uniform()
        attached = "pleura" if roll < 0.22 else ("vessel" if roll < 0.4 else "none")
        if small_juxtavascular > 0.0 and rng.uniform() < small_juxtavascular:
            kind, size, attached = NoduleType.SOLID, float(rng.uniform(3.0, 6.0)), "vessel"
        if juxta_airway > 0.0 and airways is not None and rng.uniform() < juxta_airway:
            attached = "airway"
        radius = 0.5 * size * 1.25
        centre, wall, attached = _locate(anat, rng, vessels, airways, attached, radius)
        if centre is None or any(np.linalg.norm(centre - c) < radius + r + 4.0 for c, r in placed):
            continue
        spec = shape_nodule(rng, kind, size, centre - first, attached, planes, px,
                            None if wall is None else (wall[0] - first, wall[1]))
        placed.append((spec.outer.centres[0] + first, radius))
        chosen.append((spec, measure(spec, spacing, n_slices, len(chosen))))
    return tuple(chosen)


def _locate(anat: Anatomy, rng: np.random.Generator, vessels: Tubes, airways: Tubes | None,
            attached: str, radius: float) -> tuple[F64 | None, tuple[F64, F64] | None, str]:
    """A centre (anatomy mm) for a nodule of `radius` attached as asked, or free where that
    fails; with the lung wall (point, outward direction) for a pleural one."""
    centre: F64 | None = None
    wall: tuple[F64, F64] | None = None
    if attached == "pleura":
        wall = _pleural(anat, rng, radius)
        centre = None if wall is None else wall[0] - wall[1] * radius
    elif attached == "vessel":
        centre = _juxtavascular(anat, rng, vessels, radius)
    elif attached == "airway" and airways is not None:
        centre = _juxta_airway(anat, rng, airways, radius)
    if centre is None:
        attached = "none"
        cands = _candidates(anat, rng, 256)
        cands = cands[_clear(anat, cands, radius + 2.0)] if cands.size else cands
        centre = cands[0] if len(cands) else None
    return centre, (wall if attached == "pleura" else None), attached


def shape_nodule(rng: np.random.Generator, kind: NoduleType, size: float, centre: F64,
                 attached: str, planes: F64, px: float,
                 wall: tuple[F64, F64] | None = None) -> NoduleSpec:
    """The shape and values of a nodule of `size` mm at `centre` (the volume's frame, as
    `planes`, the slice planes in mm, and `wall`, a lung wall point and its outward
    direction that a pleural nodule is moved to touch)."""
    outer, core = _shapes(rng, kind, centre, size, planes, px)
    if wall is not None:
        outer, core = _touching(outer, core, wall[0], wall[1])
    return NoduleSpec(kind, outer, core, hu_solid=float(rng.uniform(10.0, 55.0)),
                      hu_glass=float(rng.uniform(-650.0, -450.0)), attached_to=attached)


def measure(spec: NoduleSpec, spacing: tuple[float, float, float], n_slices: int,
            number: int) -> NoduleTruth:
    """The truth of `spec` in a volume of `spacing` and `n_slices` slices: its position
    (voxels) and Lung-RADS diameters measured on the slice planes, rounded to 0.1 mm."""
    sp = np.asarray(spacing)
    planes = np.arange(n_slices) * sp[0]
    px = float(sp[1])
    diameter = lungrads_diameter(spec.outer, planes, px)
    solid = diameter if spec.kind is NoduleType.SOLID else 0.0
    if spec.core is not None:
        solid = min(lungrads_diameter(spec.core, planes, px), diameter)
    z, y, x = (spec.outer.centres[0] / sp).tolist()
    return NoduleTruth(z, y, x, round(diameter, 1), round(solid, 1), spec.kind, spec.attached_to,
                       number)


def new_nodule(anat: Anatomy, rng: np.random.Generator, vessels: Tubes, kind: NoduleType,
               size: float, avoid: list[tuple[F64, float]], planes: F64,
               px: float) -> NoduleSpec | None:
    """A nodule of `kind` and `size` mm (anatomy mm), pleural, beside a vessel or free as
    often as a first scan's, at least 4 mm clear of each (centre, radius) in `avoid`
    (appended to); None if five tries found no room. `planes` are slice planes to fit the
    shape's size on (anatomy z, mm)."""
    radius = 0.5 * size * 1.25
    for _ in range(5):
        roll = rng.uniform()
        attached = "pleura" if roll < 0.22 else ("vessel" if roll < 0.4 else "none")
        centre, wall, attached = _locate(anat, rng, vessels, None, attached, radius)
        if centre is None or any(np.linalg.norm(centre - c) < radius + r + 4.0 for c, r in avoid):
            continue
        spec = shape_nodule(rng, kind, size, centre, attached, planes, px, wall)
        avoid.append((spec.outer.centres[0], radius))
        return spec
    return None
