"""From ideal HU to what the scanner stores: motion, slice profile, kernel, noise, storage.

Motion blurs the lung bases and the heart's surroundings along y and z by the study's
`motion_mm`; the slice sensitivity profile blurs along z by a third of a slice; a soft
kernel is a Gaussian in-plane blur, a sharp one an unsharp mask (edge overshoot). Noise is
white noise correlated in-plane over `grain_mm` (its texture), brought to `noise_sigma`
HU at 1.25 mm slices (thinner slices are noisier), and high-passed under a sharp kernel.
Outside the reconstruction circle the scanner stores its padding value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from synth_varied.patient import Patient
from synth_varied.scan import Scan

__all__ = ["finish"]

F32 = npt.NDArray[np.float32]
_SLAB = 32


def _motion(hu: F32, scan: Scan, pat: Patient, zs: npt.NDArray[np.float64]) -> None:
    if scan.motion_mm <= 0.0:
        return
    top = int(np.searchsorted(zs, 0.5 * pat.lung_height))
    if top < 2:
        return
    sigma = scan.motion_mm / 2.355
    part = hu[:top]
    blurred = ndimage.gaussian_filter(part, (sigma / scan.thickness, sigma / scan.pixel, 0.0))
    w = np.clip((0.5 * pat.lung_height - zs[:top]) / (0.25 * pat.lung_height), 0.0, 1.0)
    part += w.astype(np.float32)[:, None, None] * (blurred - part)


def finish(hu: F32, scan: Scan, pat: Patient, rng: np.random.Generator) -> npt.NDArray[np.int16]:
    """`hu` (float32, changed in place) as the stored int16 volume."""
    zs = scan.axes()[0]
    _motion(hu, scan, pat, zs)
    ndimage.gaussian_filter1d(hu, 0.33, axis=0, output=hu)
    px = scan.pixel
    grain = scan.grain_mm / px
    probe = ndimage.gaussian_filter(rng.standard_normal((64, 64)).astype(np.float32), grain)
    gain = np.float32(scan.noise_sigma * np.sqrt(1.25 / scan.thickness) / probe.std())
    n = scan.matrix
    k = (np.arange(n) - (n - 1) / 2.0) * px
    outside = (k[:, None] ** 2 + k[None, :] ** 2) > (n * px / 2.0) ** 2
    out = np.empty(hu.shape, dtype=np.int16)
    for z0 in range(0, hu.shape[0], _SLAB):
        slab = hu[z0:z0 + _SLAB]
        if scan.blur_mm > 0.0:
            slab = ndimage.gaussian_filter(slab, (0.0, scan.blur_mm / px, scan.blur_mm / px))
        if scan.sharpen > 0.0:
            smooth = ndimage.gaussian_filter(slab, (0.0, 0.8 / px, 0.8 / px))
            slab = slab + np.float32(scan.sharpen) * (slab - smooth)
        noise = rng.standard_normal(slab.shape, dtype=np.float32)
        noise = ndimage.gaussian_filter(noise, (0.0, grain, grain))
        if scan.sharpen > 0.0:
            noise = noise + np.float32(scan.sharpen) * (
                noise - ndimage.gaussian_filter(noise, (0.0, 1.0, 1.0)))
        slab = slab + gain * noise
        np.clip(slab, -1024.0, 3071.0, out=slab)
        if scan.fov_circle:
            slab[:, outside] = scan.pad_hu
        out[z0:z0 + _SLAB] = np.rint(slab).astype(np.int16)
    return out
