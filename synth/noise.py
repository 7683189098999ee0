"""Reconstruction kernel (blur or edge enhancement) and correlated LDCT noise.

Both are separable 3-tap filters [w, 1 - 2w, w] applied along y and x: a positive w blurs
(soft kernel), a negative one sharpens with the overshoot of a lung kernel. Noise is white
Gaussian filtered the same way (correlated, as reconstructed CT noise is) and rescaled to the
requested standard deviation. Work is done in slabs so temporaries stay small.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["finish_volume"]

F32 = npt.NDArray[np.float32]

_SLAB = 24


def _filter3(a: F32, w: float, axis: int) -> F32:
    if w == 0.0:
        return a
    out = a * np.float32(1.0 - 2.0 * w)
    lo = [slice(None)] * a.ndim
    hi = [slice(None)] * a.ndim
    lo[axis], hi[axis] = slice(0, -1), slice(1, None)
    out[tuple(hi)] += np.float32(w) * a[tuple(lo)]
    out[tuple(lo)] += np.float32(w) * a[tuple(hi)]
    first = [slice(None)] * a.ndim
    last = [slice(None)] * a.ndim
    first[axis], last[axis] = slice(0, 1), slice(-1, None)
    out[tuple(first)] += np.float32(w) * a[tuple(first)]  # replicate the border
    out[tuple(last)] += np.float32(w) * a[tuple(last)]
    return out


def finish_volume(hu: F32, rng: np.random.Generator, *, kernel: float, noise_sigma: float,
                  noise_corr: float, sigma_profile: F32) -> npt.NDArray[np.int16]:
    """Blur `hu` with the kernel, add noise (sigma scaled per slice), round to int16 HU."""
    out = np.empty(hu.shape, dtype=np.int16)
    # std after filtering along two axes is the per-axis variance factor
    gain = np.float32(1.0 / (noise_corr**2 * 2 + (1 - 2 * noise_corr) ** 2))
    for z0 in range(0, hu.shape[0], _SLAB):
        slab = hu[z0:z0 + _SLAB]
        img = _filter3(_filter3(slab, kernel, 1), kernel, 2)
        noise = rng.standard_normal(slab.shape, dtype=np.float32)
        noise = _filter3(_filter3(noise, noise_corr, 1), noise_corr, 2)
        scale = (noise_sigma * gain * sigma_profile[z0:z0 + _SLAB]).astype(np.float32)
        img += noise * scale[:, None, None]
        np.rint(img, out=img)
        np.clip(img, -1024, 3071, out=img)
        out[z0:z0 + _SLAB] = img
    return out
