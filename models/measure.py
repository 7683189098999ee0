"""Lung-RADS size and type of a nodule, measured on the image (classical, in torch).

Per candidate: sample a fine cube (0.5-1 mm) around the centre, estimate the lung background
and the core attenuation, segment by half-maximum thresholding grown from the centre (cut
from touching vessels by a small opening), look for a ground-glass halo around a solid core,
then measure on the axial slice of largest area: mean of the long axis and the longest
perpendicular extent. The solid part is the part above SOLID_HU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from models.contract import NoduleType
from models.morphology import dilate, erode
from models.patches import sample_cubes

__all__ = ["SOLID_HU", "Measurement", "axial_diameter_mm", "measure_nodule"]

SOLID_HU = -300.0
MIN_SOLID_MM = 2.0
_ANGLES = torch.arange(0, 180, 7.5) * math.pi / 180


@dataclass(frozen=True)
class Measurement:
    """One nodule's measured centre (input to `measure_nodule`'s frame), sizes and type."""

    centre: tuple[float, float, float]
    diameter_mm: float
    solid_diameter_mm: float
    type: NoduleType


def _dilate(x: torch.Tensor, r: int) -> torch.Tensor:
    return dilate(x, r)


def _erode(x: torch.Tensor, r: int) -> torch.Tensor:
    return erode(x, r)


_FULL = np.ones((3, 3, 3), dtype=bool)


def _grow(mask: torch.Tensor, seed: torch.Tensor) -> torch.Tensor:
    """The components of `mask` (26-connected) that touch `seed` (both float 0/1).

    Connected-component labelling runs in scipy.ndimage on the CPU (torch has none); the
    cube is small (<= 64^3), so the copy costs little even from a GPU.
    """
    m = mask.cpu().numpy() > 0.5
    labels, _ = ndimage.label(m, structure=_FULL)
    ids = np.unique(labels[(seed.cpu().numpy() > 0.5) & m])
    comp = np.isin(labels, ids[ids > 0])
    return torch.from_numpy(comp.astype(np.float32)).to(mask.device)


def axial_diameter_mm(seg: torch.Tensor, step_mm: float) -> float:
    """Mean of long and short axis on the axial slice ([z] index) of largest area."""
    areas = seg.sum(dim=(1, 2))
    if float(areas.max()) <= 0:
        return 0.0
    z = int(areas.argmax())
    pts = seg[z].nonzero().to(torch.float32) * step_mm
    if pts.shape[0] == 1:
        return step_mm
    ang = _ANGLES.to(seg.device)
    direc = torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)  # [A, 2]
    proj = pts @ direc.T  # [P, A]
    ext = proj.max(0).values - proj.min(0).values + step_mm
    i = int(ext.argmax())
    j = (i + ang.numel() // 2) % ang.numel()
    return float(ext[i] + ext[j]) / 2.0


def _seg_at(cube: torch.Tensor, thr: float, seed: torch.Tensor, ball: torch.Tensor,
            open_r: int) -> torch.Tensor:
    m = (cube > thr).to(torch.float32) * ball
    core = _grow(_dilate(_erode(m, open_r), open_r), seed) if open_r > 0 else _grow(m, seed)
    if float(core.sum()) == 0:
        core = _grow(m, seed)
    return m * _dilate(core, open_r + 1) if open_r > 0 else core


def measure_nodule(volume: torch.Tensor, spacing: tuple[float, float, float],
                   centre: tuple[float, float, float], radius_mm: float) -> Measurement:
    """Measure the nodule near `centre` (voxels of `volume`), expected radius `radius_mm`."""
    r0 = max(radius_mm, 1.5)
    field = min(max(4.0 * r0 + 10.0, 16.0), 72.0)
    step = min(max(field / 64.0, 0.5), 1.0)
    size = math.ceil(field / step) | 1
    c = torch.tensor([centre], dtype=torch.float32, device=volume.device)
    cube = sample_cubes(volume, c, spacing, size, step)[0]
    ax = (torch.arange(size, device=volume.device, dtype=torch.float32) - size // 2) * step
    dist = (ax[:, None, None] ** 2 + ax[None, :, None] ** 2 + ax[None, None, :] ** 2).sqrt()
    ball = (dist <= 1.6 * r0 + 4.0).to(torch.float32)
    seed = (dist <= max(1.0, 0.3 * r0)).to(torch.float32)
    far = (dist > 1.5 * r0 + 3.0) & (cube < -500)
    bg = float(cube[far].median()) if bool(far.any()) else -850.0
    core = float(cube[seed > 0].median())
    level = max(core, bg + 120.0)
    open_r = max(1, min(4, round(0.35 * r0 / step)))
    seg = _seg_at(cube, (bg + level) / 2, seed, ball, open_r)
    solid = seg
    kind = NoduleType.SOLID
    if level > SOLID_HU and float(seg.sum()) > 0:
        near = _dilate(seg, max(1, round(2.0 / step)))
        ring = (near - _dilate(seg, max(1, round(0.75 / step)))) * ball > 0
        halo = float(cube[ring].median()) if bool(ring.any()) else bg
        if halo > bg + 100.0:
            kind = NoduleType.PART_SOLID
            solid = _seg_at(cube, (halo + level) / 2, seed, ball, open_r)
            seg = torch.maximum(_seg_at(cube, (bg + halo) / 2, seed, ball, open_r), solid)
    elif float(seg.sum()) > 0:
        kind = NoduleType.PART_SOLID
        solid = seg * (cube > SOLID_HU).to(torch.float32)
    if float(seg.sum()) == 0:
        seg = solid = seed
    d = axial_diameter_mm(seg, step)
    ds = d if kind is NoduleType.SOLID else axial_diameter_mm(solid, step)
    if kind is NoduleType.PART_SOLID and ds < MIN_SOLID_MM:
        kind, ds = NoduleType.GROUND_GLASS, 0.0
    idx = seg.nonzero().to(torch.float32).mean(0) - size // 2
    sp = torch.tensor(spacing, dtype=torch.float32, device=volume.device)
    refined = c[0] + idx * step / sp
    return Measurement(
        centre=(float(refined[0]), float(refined[1]), float(refined[2])),
        diameter_mm=d,
        solid_diameter_mm=ds,
        type=kind,
    )
