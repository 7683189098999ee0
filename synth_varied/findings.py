"""The nodules of one study: kind, size and attenuation drawn, then drawn into the volume.

Sizes follow a screening population (most under 6 mm, a few over 20 mm); the kinds are
solid, part-solid and ground glass, each with its own attenuation drawn per nodule. Solid
tissue replaces what is there; ground glass only raises what is below it, so vessels show
through; a part-solid nodule's solid core is drawn over its glass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernel.contract import NoduleType
from synth_varied.lesions import Shape, fraction
from synth_varied.tubes import Grid

__all__ = ["Finding", "draw_kind", "draw_size", "render_finding"]

F32 = npt.NDArray[np.float32]

_KINDS = (NoduleType.SOLID, NoduleType.PART_SOLID, NoduleType.GROUND_GLASS)


@dataclass(frozen=True)
class Finding:
    """A nodule as drawn: outer shape, solid core (None for ground glass), HU, truth sizes."""

    kind: NoduleType
    outer: Shape
    core: Shape | None
    hu_solid: float
    hu_glass: float
    attached_to: str  # none | pleura | vessel
    diameter_mm: float
    solid_diameter_mm: float


def draw_kind(rng: np.random.Generator) -> NoduleType:
    return _KINDS[int(rng.choice(3, p=[0.7, 0.12, 0.18]))]


def draw_size(rng: np.random.Generator, kind: NoduleType) -> float:
    """A Lung-RADS diameter (mm) for a nodule of `kind`."""
    if kind is NoduleType.SOLID:
        band = int(rng.choice(4, p=[0.55, 0.28, 0.13, 0.04]))
        lo, hi = ((3.0, 6.0), (6.0, 12.0), (12.0, 20.0), (20.0, 28.0))[band]
    else:
        lo, hi = (6.0, 26.0) if kind is NoduleType.PART_SOLID else (4.0, 26.0)
    return float(rng.uniform(lo, hi))


def render_finding(hu: F32, grid: Grid, f: Finding) -> None:
    """Composite `f` into `hu` (whole volume, float32) in place."""
    sp = np.asarray(grid.spacing)
    org = np.asarray(grid.origin)
    edge = float(np.sqrt(sp[1] * sp[2]))
    reach = f.outer.reach + edge
    lo = np.clip(np.floor((f.outer.centre - reach - org) / sp), 0, grid.shape).astype(int)
    hi = np.clip(np.ceil((f.outer.centre + reach - org) / sp) + 1, 0, grid.shape).astype(int)
    if np.any(hi <= lo):
        return
    axes = [org[i] + np.arange(lo[i], hi[i]) * sp[i] for i in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    box = hu[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    f_out = fraction(f.outer, pts, edge).astype(np.float32)
    if f.kind is NoduleType.SOLID:
        box += f_out * (np.float32(f.hu_solid) - box)
        return
    texture = 35.0 * np.sin(0.8 * pts[..., 0] + 1.1 * pts[..., 1] + 0.9 * pts[..., 2])
    glass = (f.hu_glass + texture).astype(np.float32)
    box += f_out * np.maximum(glass - box, 0.0)
    if f.core is not None:
        f_in = fraction(f.core, pts, edge).astype(np.float32)
        box += f_in * (np.float32(f.hu_solid) - box)
