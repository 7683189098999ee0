"""Resampling a CT volume (or a box of it) to about isotropic voxels with torch.

`align_corners=True` keeps the mapping exact: iso index i along an axis is input index
offset + i * step, with step = (n_in - 1) / (n_out - 1) over the resampled box. The iso
spacing is the target up to rounding (reported exactly by `Grid.iso_spacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

__all__ = ["Grid", "plan_grid", "resample"]


@dataclass(frozen=True)
class Grid:
    """How (a box of) an input volume maps onto an isotropic working grid."""

    in_spacing: tuple[float, float, float]
    offset: tuple[int, int, int]  # input voxel of iso voxel (0, 0, 0)
    box_shape: tuple[int, int, int]  # input voxels covered, per axis
    iso_shape: tuple[int, int, int]
    step: tuple[float, float, float]  # input voxels per iso voxel, per axis

    @property
    def iso_spacing(self) -> tuple[float, float, float]:
        """The iso grid's (z, y, x) spacing in mm (the target, up to rounding)."""
        s = [self.in_spacing[a] * self.step[a] for a in range(3)]
        return (s[0], s[1], s[2])

    def to_input(self, iso_points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map [N, 3] (z, y, x) iso voxel coordinates to input voxel coordinates."""
        p = np.asarray(iso_points, dtype=np.float64)
        return np.asarray(np.asarray(self.offset) + p * np.asarray(self.step), dtype=np.float64)

    def to_iso(self, input_points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map [N, 3] (z, y, x) input voxel coordinates to iso voxel coordinates."""
        p = np.asarray(input_points, dtype=np.float64)
        return np.asarray((p - np.asarray(self.offset)) / np.asarray(self.step), dtype=np.float64)

    def axis_to_input(self, axis: int) -> npt.NDArray[np.float64]:
        """Input coordinate of every iso index along `axis`."""
        return self.offset[axis] + np.arange(self.iso_shape[axis]) * self.step[axis]


def plan_grid(shape: tuple[int, ...], spacing: tuple[float, float, float], target_mm: float,
              lo: tuple[int, int, int] | None = None,
              hi: tuple[int, int, int] | None = None) -> Grid:
    """The iso grid at about `target_mm` over input voxels [lo, hi) (default: all of them)."""
    lo = lo or (0, 0, 0)
    hi = hi or (int(shape[0]), int(shape[1]), int(shape[2]))
    box, iso, step = [], [], []
    for a in range(3):
        n = max(1, min(int(shape[a]), hi[a]) - max(0, lo[a]))
        m = max(2, round((n - 1) * spacing[a] / target_mm) + 1) if n > 1 else 1
        box.append(n)
        iso.append(m)
        step.append((n - 1) / (m - 1) if m > 1 else 1.0)
    return Grid(
        in_spacing=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        offset=(max(0, lo[0]), max(0, lo[1]), max(0, lo[2])),
        box_shape=(box[0], box[1], box[2]),
        iso_shape=(iso[0], iso[1], iso[2]),
        step=(step[0], step[1], step[2]),
    )


def resample(volume: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Trilinear resampling of `grid`'s box of a [D, H, W] tensor; float32 [D', H', W']."""
    o, b = grid.offset, grid.box_shape
    x = volume[o[0] : o[0] + b[0], o[1] : o[1] + b[1], o[2] : o[2] + b[2]].to(torch.float32)
    if tuple(x.shape) == grid.iso_shape:
        return x
    out = F.interpolate(x[None, None], size=grid.iso_shape, mode="trilinear", align_corners=True)
    return out[0, 0]
