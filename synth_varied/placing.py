"""Where a study's nodules go: free in the lung, against the pleura, or against a vessel.

A free nodule keeps clear of the pleura, of vessels thicker than 0.8 mm, of scars and
bands, and of the other nodules; a juxtapleural one touches the pleura along a random
direction; a juxtavascular one touches a vessel of at least 1 mm radius. Each is sized on
the scan's own slice planes (lesions.fit_size), so the truth is the drawn shape's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from kernel.contract import NoduleType
from synth_varied.findings import Finding, draw_kind, draw_size
from synth_varied.lesions import Shape, fit_size, measure, random_shape
from synth_varied.mimics import Mimics
from synth_varied.patient import Patient
from synth_varied.torso import inside_lung
from synth_varied.tubes import Tubes

__all__ = ["place_findings"]

F64 = npt.NDArray[np.float64]

_DIRS = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                  if (a, b, c) != (0, 0, 0)], dtype=np.float64)
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def _all_inside(pat: Patient, c: F64, r: float, dirs: F64 = _DIRS) -> bool:
    p = c + dirs * r
    return bool(inside_lung(pat, p[:, 0], p[:, 1], p[:, 2]).all())


def _vessel_gap(vessels: Tubes, c: F64) -> F64:
    """Distance (mm) from `c` to the surface of each vessel piece."""
    d = vessels.p1 - vessels.p0
    s = np.clip(((c - vessels.p0) * d).sum(1) / np.maximum((d * d).sum(1), 1e-9), 0.0, 1.0)
    near = vessels.p0 + s[:, None] * d
    out: F64 = np.linalg.norm(c - near, axis=1) - (vessels.r0 + s * (vessels.r1 - vessels.r0))
    return out


def _lung_point(rng: np.random.Generator, pat: Patient, z_lo: float, z_hi: float) -> F64:
    while True:
        p = np.array([rng.uniform(z_lo, z_hi), rng.uniform(-1.0, 1.0) * pat.lung_by,
                      rng.choice([-1.0, 1.0]) * (pat.med_w + rng.uniform(0.0, 2.0) * pat.lung_ax)])
        if inside_lung(pat, p[0], p[1], p[2]):
            return p


def _where(rng: np.random.Generator, pat: Patient, big: Tubes, r: float,
           attach: str, z_lo: float, z_hi: float) -> F64 | None:
    """A centre for a nodule of radius about `r` attached to `attach`, or None."""
    if attach == "vessel" and len(big):
        k = int(rng.integers(len(big)))
        axis = big.p1[k] - big.p0[k]
        axis /= max(float(np.linalg.norm(axis)), 1e-9)
        perp = np.cross(axis, rng.normal(size=3))
        perp /= max(float(np.linalg.norm(perp)), 1e-9)
        out: F64 = big.p0[k] + perp * (big.r0[k] + r * rng.uniform(0.75, 0.95))
        return out
    p = _lung_point(rng, pat, z_lo, z_hi)
    if attach == "pleura":
        d = np.array([rng.normal(0, 0.3), rng.normal(), np.sign(p[2]) * abs(rng.normal())])
        d /= np.linalg.norm(d)
        while inside_lung(pat, *(p + d * 0.5)):
            p = p + d * 0.5
        return p - d * r * rng.uniform(0.85, 1.0)
    return p


def _drawn(rng: np.random.Generator) -> tuple[NoduleType, float]:
    kind = draw_kind(rng)
    return kind, draw_size(rng, kind)


def place_findings(rng: np.random.Generator, pat: Patient, vessels: Tubes, mimics: Mimics,
                   planes: F64, count: int, *,
                   draw: Callable[[np.random.Generator], tuple[NoduleType, float]] = _drawn,
                   keep_clear: Sequence[Finding] = ()) -> list[Finding]:
    """`count` nodules (fewer where no room is found), sized on the slice planes `planes`.
    `draw` gives each one's kind and diameter (default: a screening population's);
    they keep clear of the nodules in `keep_clear` (a later round's carried ones) too."""
    z_lo = max(planes[0], 0.0) + 12.0
    z_hi = min(planes[-1], pat.lung_height) - 12.0
    mid = (vessels.p0 + vessels.p1) / 2.0
    in_lung = inside_lung(pat, mid[:, 0], mid[:, 1], mid[:, 2])
    zs_ok = (mid[:, 0] > z_lo) & (mid[:, 0] < z_hi)
    big = vessels.pieces(4.0)
    bmid = (big.p0 + big.p1) / 2.0
    ok = ((big.r0 >= 1.0) & inside_lung(pat, bmid[:, 0], bmid[:, 1], bmid[:, 2])
          & (bmid[:, 0] > z_lo) & (bmid[:, 0] < z_hi))
    thick = vessels.take(in_lung & zs_ok & (np.maximum(vessels.r0, vessels.r1) >= 0.8)) \
        if len(vessels) else vessels
    big = big.take(ok)
    out: list[Finding] = []
    for _ in range(count):
        kind, target = draw(rng)
        attach = str(rng.choice(["none", "pleura", "vessel"], p=[0.5, 0.3, 0.2]))
        lobulation = float(rng.uniform(0.0, 1.0))
        hu_solid, hu_glass = float(rng.uniform(-60.0, 80.0)), float(rng.uniform(-760.0, -380.0))
        core_share = float(rng.uniform(0.3, 0.7))
        for _try in range(60):
            c = _where(rng, pat, big, target / 2.0, attach, z_lo, z_hi)
            if c is None or not z_lo < c[0] < z_hi:
                continue
            shape = random_shape(rng, c, lobulation)
            rough = shape.scaled(target / 2.0)  # about the size: check the room first
            others = [*keep_clear, *out]
            if not _clear(pat, rough, c, target / 2.0, attach, thick, mimics, others):
                continue
            placed, diameter = fit_size(shape, target, planes)
            if not _clear(pat, placed, c, diameter / 2.0, attach, thick, mimics, others):
                continue
            core = None
            solid = diameter
            if kind is NoduleType.PART_SOLID:
                core = placed.scaled(core_share)
                solid = measure(core, planes)
            elif kind is NoduleType.GROUND_GLASS:
                solid = 0.0
            if diameter <= 0.0 or (core is not None and solid <= 0.0):
                continue
            out.append(Finding(kind, placed, core, hu_solid, hu_glass, attach, diameter, solid))
            break
    return out


def _clear(pat: Patient, shape: Shape, c: F64, r: float, attach: str, thick: Tubes,
           mimics: Mimics, others: list[Finding]) -> bool:
    """Whether a nodule at `c` fits where `attach` says and stays clear of everything else."""
    reach = shape.reach
    if attach == "none":
        if not _all_inside(pat, c, reach + 3.0):
            return False
        if len(thick) and float(_vessel_gap(thick, c).min()) < reach + 0.5:
            return False
    elif attach == "pleura":
        away = _DIRS  # the half facing the lung stays in it
        if sum(inside_lung(pat, *(c + d * (r + 2.0))) for d in away) < len(away) * 0.45:
            return False
    elif not _all_inside(pat, c, r + 1.5):
        return False
    for centre, radius in mimics.keep_out:
        if float(np.linalg.norm(c - centre)) < radius + reach:
            return False
    return all(float(np.linalg.norm(c - o.outer.centre)) > reach + o.outer.reach + 3.0
               for o in others)
