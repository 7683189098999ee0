"""Vessel and airway trees grown from the hila, as tapered segments (tubes.py draws them).

Growth is vectorised over every growing tip: each generation walks a few steps, turning by
the patient's tortuosity (and now and then kinking sharply), then either ends abruptly
(the patient's end rate), or splits in two at the patient's branch angle, the thinner
child turning further. A tip that would leave the lung turns back towards the lung's
middle, and stops if it still would; tips thinner than the patient's minimum stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synth_varied.patient import Patient
from synth_varied.torso import inside_lung
from synth_varied.tubes import Tubes

__all__ = ["Growth", "airway_tree", "grow", "hilum", "vessel_tree"]

F64 = npt.NDArray[np.float64]
_STEPS = 3
_MAX_SEGMENTS = 25_000


@dataclass(frozen=True)
class Growth:
    """How a tree grows (radians, mm)."""

    taper: float  # radius factor of the thicker child
    min_r: float
    tortuosity: float
    branch: float  # angle of the thinner child
    kink_rate: float
    end_rate: float
    length: tuple[float, float]  # generation length in radii


def _unit(v: F64) -> F64:
    out: F64 = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    return out


def _perp(rng: np.random.Generator, d: F64) -> F64:
    rand = _unit(rng.normal(size=d.shape))
    return _unit(rand - (rand * d).sum(-1, keepdims=True) * d)


def _turn(d: F64, axis: F64, angle: F64) -> F64:
    return _unit(np.cos(angle)[:, None] * d + np.sin(angle)[:, None] * axis)


def hilum(pat: Patient, side: float) -> F64:
    """Patient mm (z, y, x) of one lung's hilum (side -1 right, +1 left)."""
    return np.array([0.58 * pat.lung_height, -0.05 * pat.lung_by, side * (pat.med_w + 4.0)])


def _centre(pat: Patient, p: F64) -> F64:
    """Towards the middle of the lung each point is in."""
    mid = np.stack([np.full(len(p), 0.45 * pat.lung_height), np.zeros(len(p)),
                    np.sign(p[:, 2]) * pat.lung_cx], axis=1)
    return _unit(mid - p)


def grow(rng: np.random.Generator, pat: Patient, p: F64, d: F64, r: F64,
         g: Growth) -> Tubes:
    """Grow trees from tips at `p` heading `d` with radii `r` until every tip stops."""
    out: list[tuple[F64, F64, F64, F64]] = []
    total = 0
    while len(p) and total < _MAX_SEGMENTS:
        seg_len = r * rng.uniform(*g.length, size=len(p)) / _STEPS
        alive = np.ones(len(p), dtype=bool)
        for _ in range(_STEPS):
            twist = np.abs(rng.normal(0.0, g.tortuosity, len(p)))
            kink = rng.uniform(size=len(p)) < g.kink_rate
            twist = np.where(kink, rng.uniform(0.7, 1.4, len(p)), twist)
            d = _turn(d, _perp(rng, d), twist)
            q = p + d * seg_len[:, None]
            out_now = ~inside_lung(pat, q[:, 0], q[:, 1], q[:, 2])
            if out_now.any():
                back = _unit(d[out_now] + 1.5 * _centre(pat, p[out_now]))
                d[out_now] = back
                q[out_now] = p[out_now] + back * seg_len[out_now, None]
                still = ~inside_lung(pat, q[:, 0], q[:, 1], q[:, 2])
                alive &= ~still
            r_next = r * 0.985
            keep = alive
            out.append((p[keep], q[keep], r[keep], r_next[keep]))
            total += int(keep.sum())
            p, r = q, r_next
        ends = rng.uniform(size=len(p)) < g.end_rate
        alive &= ~ends
        p, d, r = p[alive], d[alive], r[alive]
        if not len(p):
            break
        small = r * g.taper * rng.uniform(0.6, 0.95, len(p))
        big = r * np.minimum(0.95, g.taper * 1.1)
        axis = _perp(rng, d)
        a_small = g.branch * rng.uniform(0.7, 1.3, len(p))
        a_big = a_small * (small / big) ** 2 * 0.7
        d = np.concatenate([_turn(d, axis, a_big), _turn(d, -axis, a_small)])
        p = np.concatenate([p, p])
        r = np.concatenate([big, small])
        keep = r >= g.min_r
        p, d, r = p[keep], d[keep], r[keep]
    if not out:
        empty = np.zeros((0, 3))
        return Tubes(empty, empty, np.zeros(0), np.zeros(0))
    return Tubes(*(np.concatenate([o[i] for o in out]) for i in range(4)))


def _trunks(rng: np.random.Generator, pat: Patient, per_side: int, radius: float,
            lead_mm: float) -> tuple[Tubes, F64, F64, F64]:
    """Lobar trunks from each hilum towards random points of its lung: the segments to the
    lung and the tips they leave."""
    starts, dirs, radii, lead = [], [], [], []
    for side in (-1.0, 1.0):
        h = hilum(pat, side)
        n = 0
        while n < per_side:
            t = np.array([rng.uniform(0.05, 0.95) * pat.lung_height,
                          rng.uniform(-0.8, 0.8) * pat.lung_by,
                          side * (pat.med_w + rng.uniform(0.3, 1.7) * pat.lung_ax)])
            if not inside_lung(pat, t[0], t[1], t[2]):
                continue
            d = _unit(t - h)
            tip = h + d * lead_mm
            if not inside_lung(pat, tip[0], tip[1], tip[2]):
                tip = h + d * min(lead_mm * 2.0, float(np.linalg.norm(t - h)))
            r = radius * float(rng.uniform(0.75, 1.0))
            lead.append((h, tip, r * 1.15, r))
            starts.append(tip)
            dirs.append(d)
            radii.append(r)
            n += 1
    segs = Tubes(np.array([s[0] for s in lead]), np.array([s[1] for s in lead]),
                 np.array([s[2] for s in lead]), np.array([s[3] for s in lead]))
    return segs, np.array(starts), np.array(dirs), np.array(radii)


def vessel_tree(rng: np.random.Generator, pat: Patient) -> Tubes:
    """Pulmonary arteries and veins: nine to fourteen trunks a lung, grown to the periphery."""
    lead, p, d, r = _trunks(rng, pat, int(rng.integers(9, 15)), pat.vessel_root_mm, 22.0)
    g = Growth(taper=pat.vessel_taper, min_r=pat.vessel_min_mm, tortuosity=pat.tortuosity,
               branch=np.deg2rad(pat.branch_deg), kink_rate=pat.kink_rate,
               end_rate=pat.end_rate, length=(5.0, 10.0))
    return lead.concat(grow(rng, pat, p, d, r, g))


def airway_tree(rng: np.random.Generator, pat: Patient, z_top: float) -> Tubes:
    """Trachea from above the scan to the carina, main bronchi, then the bronchial tree."""
    carina = np.array([0.64 * pat.lung_height, -0.05 * pat.lung_by, 0.0])
    top = np.array([z_top + 20.0, -0.12 * pat.lung_by, 0.0])
    trachea = Tubes(top[None], carina[None], np.array([8.5]), np.array([7.5]))
    bronchi = []
    for side in (-1.0, 1.0):
        bronchi.append((carina, hilum(pat, side) + np.array([-4.0, 0.0, side * 6.0])))
    main = Tubes(np.array([b[0] for b in bronchi]), np.array([b[1] for b in bronchi]),
                 np.array([6.0, 5.5]), np.array([5.0, 4.6]))
    tips = main.p1
    p, d, r = [], [], []
    for k in range(2):
        for _ in range(4):
            aim = _unit(np.array([rng.uniform(-1.0, 0.8), rng.uniform(-0.6, 0.6),
                                  (2 * k - 1) * rng.uniform(0.3, 1.0)]))
            p.append(tips[k])
            d.append(aim)
            r.append(float(rng.uniform(2.8, 3.8)))
    g = Growth(taper=0.8, min_r=0.9, tortuosity=0.5 * pat.tortuosity,
               branch=np.deg2rad(0.8 * pat.branch_deg + 10.0), kink_rate=0.0, end_rate=0.0,
               length=(5.0, 8.0))
    tree = grow(rng, pat, np.array(p), np.array(d), np.array(r), g)
    return trachea.concat(main).concat(tree)
