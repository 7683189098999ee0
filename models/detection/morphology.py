"""Grey-scale dilation and erosion with box elements, as shifted maxima (torch).

torch's max_pool3d is slow on the CPU for single-channel volumes; a running maximum over
shifted views is several times faster there and just as fast on the GPU.
"""

from __future__ import annotations

import torch

__all__ = ["dilate", "erode"]


def _dilate_axis(x: torch.Tensor, axis: int, r: int) -> torch.Tensor:
    n = x.shape[axis]
    if r <= 0 or n < 2:
        return x
    out = x.clone()
    for k in range(1, min(r, n - 1) + 1):
        a = out.narrow(axis, k, n - k)
        a.copy_(torch.maximum(a, x.narrow(axis, 0, n - k)))
        b = out.narrow(axis, 0, n - k)
        b.copy_(torch.maximum(b, x.narrow(axis, k, n - k)))
    return out


def dilate(x: torch.Tensor, radius: tuple[int, int, int] | int) -> torch.Tensor:
    """Maximum over a (2r+1) box per axis of a [D, H, W] tensor (the border is not padded)."""
    r = (radius, radius, radius) if isinstance(radius, int) else radius
    for axis in range(3):
        x = _dilate_axis(x, axis, r[axis])
    return x


def erode(x: torch.Tensor, radius: tuple[int, int, int] | int) -> torch.Tensor:
    """Minimum over a (2r+1) box per axis (the dual of `dilate`)."""
    return -dilate(-x, radius)
