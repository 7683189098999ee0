"""Branching, tapering pulmonary vessel trees and the airway tree, as tube segments.

Vessels (`vessel_tree`) are supply trees that fill each lung (see its doc). Airways
(`_grow`) grow generation by generation, vectorised over all growing tips: each segment
is about `length_factor` radii long, tapers a little and splits in two with Murray's law
(r1^3 + r2^3 = r^3), the thinner child turning further; tips that would leave the lung
are turned back, then stop; growth stops below `r_min`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from synth.anatomy import Anatomy
from synth.raster import Tubes

__all__ = ["airway_tree", "vessel_tree"]

F64 = npt.NDArray[np.float64]

_MAX_SEGMENTS = 14000


def _unit(v: F64) -> F64:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out: F64 = v / np.maximum(n, 1e-9)
    return out


def _turn(rng: np.random.Generator, d: F64, angle: F64) -> F64:
    """Directions `d` [N, 3] turned by `angle` [N] radians about random perpendicular axes."""
    rand = _unit(rng.normal(size=d.shape))
    perp = _unit(rand - (rand * d).sum(-1, keepdims=True) * d)
    return _unit(np.cos(angle)[:, None] * d + np.sin(angle)[:, None] * perp)


def _in_lung(anat: Anatomy, p: F64) -> npt.NDArray[np.bool_]:
    return anat.lung_mask(p[:, 2], p[:, 1], p[:, 0])


def vessel_tree(anat: Anatomy, rng: np.random.Generator, density: float) -> Tubes:
    """Pulmonary arteries and veins of both lungs, in anatomy mm (z, y, x).

    Each lung gets two interleaved trees (artery, vein) grown from its hilum to supply
    points spread uniformly through the lung: points are taken nearest-first and each
    joins the nearest vessel already there, so the trees fill the lung and cross each
    other. Radii follow Murray's law from the number of points a branch supplies, so
    vessels taper from the hilum (about 4 mm) to the periphery (about 0.6 mm).
    `density` around 1 is typical; 0 gives no vessels at all (for tests and curricula).
    """
    parts: list[Tubes] = []
    if density > 0.0:
        for side in (-1, 1):
            targets = _lung_points(anat, rng, side, int(550 * min(density, 3.0)))
            hz, hy, hx = anat.hilum(side)
            for k, (dz, dy) in enumerate(((8.0, -6.0), (-8.0, 8.0))):
                root = np.array([hz + dz, hy + dy, hx])
                parts.append(_supply_tree(rng, root, targets[k::2], r_leaf=0.55))
    if not parts:
        empty = np.zeros((0, 3))
        return Tubes(empty, empty, np.zeros(0), np.zeros(0))
    return Tubes(*(np.concatenate([getattr(t, f) for t in parts])
                   for f in ("p0", "p1", "r0", "r1")))


def _lung_points(anat: Anatomy, rng: np.random.Generator, side: int, n: int) -> F64:
    """`n` points uniformly inside one lung (rejection sampling on its bounding box)."""
    found: list[F64] = []
    total = 0
    a = anat.body_a
    while total < n:
        pts = np.stack([anat.lung_base + anat.lung_height * rng.uniform(0.0, 1.0, 4 * n),
                        rng.uniform(-a, a, 4 * n), side * rng.uniform(0.0, a, 4 * n)], axis=1)
        pts = pts[_in_lung(anat, pts)]
        found.append(pts)
        total += len(pts)
    return np.concatenate(found)[:n]


def _supply_tree(rng: np.random.Generator, root: F64, targets: F64, *, r_leaf: float) -> Tubes:
    order = np.argsort(np.linalg.norm(targets - root, axis=1))
    nodes = np.empty((len(targets) + 1, 3))
    nodes[0] = root
    parent = np.full(len(targets) + 1, -1, dtype=np.intp)
    for n, t in enumerate(targets[order], start=1):
        parent[n] = int(np.argmin(np.linalg.norm(nodes[:n] - t, axis=1)))
        nodes[n] = t
    flow = np.ones(len(nodes))
    for n in range(len(nodes) - 1, 0, -1):  # parents come before children
        flow[parent[n]] += flow[n]
    radius = r_leaf * np.cbrt(flow)
    child = np.arange(1, len(nodes))
    a, b = nodes[parent[child]], nodes[child]
    # a bend in the middle of each branch: vessels are not straight lines
    mid = 0.5 * (a + b) + rng.normal(0.0, 1.0, (len(child), 3)) * (
        0.08 * np.linalg.norm(b - a, axis=1, keepdims=True))
    r_b = radius[child]
    r_a = np.minimum(radius[parent[child]], r_b * 1.12)
    r_m = 0.5 * (r_a + r_b)
    return Tubes(np.concatenate([a, mid]), np.concatenate([mid, b]),
                 np.concatenate([r_a, r_m]), np.concatenate([r_m, r_b]))


def _grow(anat: Anatomy, rng: np.random.Generator, p: F64, d: F64, r: F64, *, r_min: float,
          length_factor: float, spread: float, max_segments: int = _MAX_SEGMENTS) -> Tubes:
    seg_p0: list[F64] = []
    seg_p1: list[F64] = []
    seg_r0: list[F64] = []
    seg_r1: list[F64] = []
    total = 0
    first = True
    while p.shape[0] and total < max_segments:
        length = np.clip(length_factor * r * rng.uniform(0.7, 1.3, r.size), 3.0, 30.0)
        q = p + d * length[:, None]
        ok = np.ones(r.size, dtype=bool) if first else _in_lung(anat, q)
        for _ in range(2):  # turn back towards the lung centre, twice at most
            if ok.all():
                break
            bad = ~ok
            cx, cy = anat.lung_centre(1, p[bad, 0])
            cx = np.where(p[bad, 2] < 0, -np.asarray(cx), cx)
            inward = _unit(np.stack([np.zeros(bad.sum()), cy - p[bad, 1], cx - p[bad, 2]], 1))
            d[bad] = _unit(d[bad] + 1.2 * inward)
            q[bad] = p[bad] + d[bad] * length[bad, None] * 0.6
            ok = np.ones(r.size, dtype=bool) if first else _in_lung(anat, q)
        first = False
        p, d, r, q = p[ok], d[ok], r[ok], q[ok]
        r_end = r * rng.uniform(0.85, 0.95, r.size)
        seg_p0.append(p)
        seg_p1.append(q)
        seg_r0.append(r)
        seg_r1.append(r_end)
        total += r.size
        # split: Murray's law with a random asymmetry
        frac = rng.uniform(0.7, 0.92, r.size)
        r_a = r_end * frac
        r_b = r_end * np.cbrt(np.clip(1.0 - frac**3, 0.05, 1.0))
        ang_a = rng.uniform(0.15, 0.45, r.size) * (1.0 + spread * (1.0 - frac))
        ang_b = rng.uniform(0.5, 1.0, r.size)
        d_a = _turn(rng, d, ang_a)
        d_b = _turn(rng, d, ang_b)
        p = np.concatenate([q, q])
        d = np.concatenate([d_a, d_b])
        r = np.concatenate([r_a, r_b])
        keep = r >= r_min
        p, d, r = p[keep], d[keep], r[keep]
    if not seg_p0:
        empty = np.zeros((0, 3))
        return Tubes(empty, empty, np.zeros(0), np.zeros(0))
    return Tubes(np.concatenate(seg_p0), np.concatenate(seg_p1), np.concatenate(seg_r0),
                 np.concatenate(seg_r1))


def airway_tree(anat: Anatomy, rng: np.random.Generator, z_top: float) -> Tubes:
    """Trachea from above the scan down to the carina, main bronchi, a few more generations.

    Radii are of the lumen; the wall is drawn by growing the same tubes by its thickness.
    """
    carina_z = anat.lung_base + anat.lung_height * rng.uniform(0.6, 0.68)
    ty = anat.spine_y - anat.spine_r - 22.0
    r_tr = rng.uniform(7.0, 10.0)
    p0 = [np.array([z_top + 20.0, ty, 0.0])]
    p1 = [np.array([carina_z, ty + 4.0, 0.0])]
    r0, r1 = [r_tr], [r_tr * 0.95]
    tips, tip_d, tip_r = [], [], []
    for side, slope, length in ((-1, 0.55, 25.0), (1, 0.35, 45.0)):
        hz, hy, hx = anat.hilum(side)
        d = _unit(np.array([-slope, 0.15, side * 1.0]))
        end = p1[0] + d * length
        p0.append(p1[0])
        p1.append(end)
        r0.append(r_tr * 0.75)
        r1.append(r_tr * 0.65)
        tips.append(end)
        tip_d.append(_unit(np.array([hz, hy, hx]) - end + np.array([0.0, 0.0, side * 25.0])))
        tip_r.append(r_tr * 0.6)
    main = Tubes(np.array(p0), np.array(p1), np.array(r0), np.array(r1))
    lobar = _grow(anat, rng, np.array(tips), np.array(tip_d), np.array(tip_r), r_min=1.2,
                  length_factor=4.0, spread=0.5, max_segments=400)
    return Tubes(np.concatenate([main.p0, lobar.p0]), np.concatenate([main.p1, lobar.p1]),
                 np.concatenate([main.r0, lobar.r0]), np.concatenate([main.r1, lobar.r1]))
