"""Isotropic cubes around points of a volume, sampled in one batched grid_sample call."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["PATCH_MM", "PATCH_VOXELS", "extract_patches", "normalise_hu", "sample_cubes"]

PATCH_VOXELS = 32
PATCH_MM = 40.0  # the network's field of view: 32 voxels of 1.25 mm
AIR_HU = -1000.0


def normalise_hu(x: torch.Tensor) -> torch.Tensor:
    """HU to the network's input range: [-1000, 400] -> [-1, 1.8]."""
    return (x.clamp(-1000.0, 400.0) + 500.0) / 500.0


def sample_cubes(volume: torch.Tensor, centres: torch.Tensor, spacing: tuple[float, ...],
                 size: int, step_mm: float) -> torch.Tensor:
    """[N, size, size, size] HU cubes of `volume` ([D, H, W]) centred on `centres`.

    `centres` are (z, y, x) voxel coordinates of `volume`, whose voxels are `spacing` mm;
    the cubes have `step_mm` voxels (trilinear); outside the volume reads as air.
    """
    n = centres.shape[0]
    dev = volume.device
    if n == 0:
        return torch.zeros(0, size, size, size, device=dev)
    offs = (torch.arange(size, dtype=torch.float32, device=dev) - (size - 1) / 2) * step_mm
    norm = []
    for a in range(3):
        coord = centres[:, a : a + 1].to(torch.float32) + offs[None] / float(spacing[a])
        norm.append(2.0 * coord / max(volume.shape[a] - 1, 1) - 1.0)
    gz = norm[0][:, :, None, None].expand(n, size, size, size)
    gy = norm[1][:, None, :, None].expand(n, size, size, size)
    gx = norm[2][:, None, None, :].expand(n, size, size, size)
    grid = torch.stack([gx, gy, gz], dim=-1).reshape(1, n * size, size, size, 3)
    src = (volume.to(torch.float32) - AIR_HU)[None, None]  # zero padding reads as air
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.reshape(n, size, size, size) + AIR_HU


def extract_patches(iso: torch.Tensor, centres: torch.Tensor,
                    iso_spacing: tuple[float, ...]) -> torch.Tensor:
    """The network's [N, 1, 32, 32, 32] normalised input patches at iso `centres`."""
    cubes = sample_cubes(iso, centres, iso_spacing, PATCH_VOXELS, PATCH_MM / PATCH_VOXELS)
    return normalise_hu(cubes)[:, None]
