"""Lung mask: threshold, drop outside air, keep the lungs, fill holes, close the pleura.

Runs on a coarse (about 2 mm) grid. Thresholding, closing and dilation are torch ops
(max-pool morphology, so they run on the GPU); connected-component labelling and per-slice
hole filling use scipy.ndimage on the CPU because torch has no equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from scipy import ndimage

from models.detection.lungparts import keep_lungs
from models.detection.morphology import dilate

__all__ = ["AIR_HU", "LungMask", "close_slices", "lung_air", "lung_mask"]

AIR_HU = -400.0
_SLICE_FILL = np.zeros((3, 3, 3), dtype=bool)
_SLICE_FILL[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class LungMask:
    """The mask on the coarse grid plus what the coverage check needs."""

    mask: torch.Tensor  # bool [D, H, W], closed and dilated: where candidates may lie
    closed: torch.Tensor  # float 0/1 [D, H, W], closed only: where a nodule may extend
    volume_ml: float
    end_fraction: float  # lung area on the first/last slice over the largest slice area


def _dilate(x: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    return dilate(x, (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2))


def _close(x: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    # pad first so the closing does not erode from the volume's border
    p = [kernel[2] // 2] * 2 + [kernel[1] // 2] * 2 + [kernel[0] // 2] * 2
    y = F.pad(x[None, None], p, mode="replicate")[0, 0]
    y = -_dilate(-_dilate(y, kernel), kernel)
    return y[p[4] : p[4] + x.shape[0], p[2] : p[2] + x.shape[1], p[0] : p[0] + x.shape[2]]


def lung_air(coarse: torch.Tensor) -> npt.NDArray[np.bool_]:
    """The lungs among a coarse HU volume's air (3D components: needs the whole volume)."""
    return keep_lungs((coarse < AIR_HU).cpu().numpy())


def close_slices(lungs: npt.NDArray[np.bool_], spacing: tuple[float, float, float],
                 closing_mm: float = 12.0, device: torch.device | str = "cpu") -> torch.Tensor:
    """`lungs` (or a run of its axial slices) with holes filled and the pleura closed, slice
    by slice: each slice's result depends on that slice alone, so a run of slices comes out
    as the same slices of the whole (float 0/1)."""
    filled = ndimage.binary_fill_holes(lungs, structure=_SLICE_FILL)
    m = torch.from_numpy(filled.astype(np.float32)).to(device)
    if bool(m.any()):
        ky = 2 * round(closing_mm / spacing[1] / 2) + 1
        kx = 2 * round(closing_mm / spacing[2] / 2) + 1
        m = _close(m, (1, ky, kx))
    return m


def lung_mask(coarse: torch.Tensor, spacing: tuple[float, float, float],
              closing_mm: float = 12.0, dilation_mm: float = 3.0) -> LungMask:
    """The lung mask of a coarse HU volume (float [D, H, W], `spacing` mm)."""
    m = close_slices(lung_air(coarse), spacing, closing_mm, coarse.device)
    areas = m.sum(dim=(1, 2))
    peak = float(areas.max()) if m.numel() else 0.0
    end = float(max(areas[0], areas[-1]) / peak) if peak > 0 else 1.0
    volume_ml = float(m.sum()) * float(np.prod(spacing)) / 1000.0
    k = tuple(2 * max(0, round(dilation_mm / s / 2)) + 1 for s in spacing)
    return LungMask(mask=_dilate(m, (k[0], k[1], k[2])) > 0.5, closed=m, volume_ml=volume_ml,
                    end_fraction=end)
