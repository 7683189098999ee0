"""Rasterising tapered tubes (capsules) into a volume, vectorised in batches.

A tube is a segment p0 -> p1 (mm, (z, y, x) relative to voxel [0, 0, 0]) whose radius goes
linearly from r0 to r1. Each voxel gets a partial-volume fraction f in [0, 1] from its
signed distance to the tube surface, and the volume is composited with max (vessels, walls)
or min (air in airways) of `base + f * (target - base)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Tubes", "stamp_tubes"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_RADIUS_CLASSES = (0.8, 1.6, 3.2, 6.4, 13.0)
_BATCH_VOXELS = 1_500_000


@dataclass(frozen=True)
class Tubes:
    """A set of tapered segments: p0, p1 [N, 3] mm (z, y, x); r0, r1 [N] mm."""

    p0: F64
    p1: F64
    r0: F64
    r1: F64

    def __len__(self) -> int:
        return int(self.r0.size)

    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Tubes:
        return Tubes(self.p0[idx], self.p1[idx], self.r0[idx], self.r1[idx])

    def split(self, max_len: float) -> Tubes:
        """The same tubes cut into pieces no longer than `max_len` mm."""
        length = np.linalg.norm(self.p1 - self.p0, axis=1)
        n = np.maximum(1, np.ceil(length / max_len)).astype(np.intp)
        seg = np.repeat(np.arange(len(self)), n)
        first = np.repeat(np.cumsum(n) - n, n)
        k = np.arange(seg.size) - first
        t0 = (k / n[seg])[:, None]
        t1 = ((k + 1) / n[seg])[:, None]
        d = self.p1[seg] - self.p0[seg]
        dr = self.r1[seg] - self.r0[seg]
        return Tubes(self.p0[seg] + t0 * d, self.p0[seg] + t1 * d,
                     self.r0[seg] + t0[:, 0] * dr, self.r0[seg] + t1[:, 0] * dr)


def stamp_tubes(vol: F32, spacing: tuple[float, float, float], tubes: Tubes, *, target: float,
                base: float, mode: str = "max", grow: float = 0.0) -> None:
    """Composite `tubes` (radii grown by `grow` mm) into `vol` in place."""
    if len(tubes) == 0:
        return
    sp = np.asarray(spacing, dtype=np.float64)
    edge = float(np.cbrt(sp.prod()))
    rmax = np.maximum(tubes.r0, tubes.r1) + grow
    lower = 0.0
    for bound in (*_RADIUS_CLASSES, np.inf):
        sel = (rmax > lower) & (rmax <= bound)
        lower = bound
        if not sel.any():
            continue
        r_cls = float(rmax[sel].max())
        max_len = max(2.0 * r_cls, 2.0 * float(sp.min()))
        pieces = tubes.take(sel).split(max_len)
        half = max_len / 2.0 + r_cls + edge
        k = np.ceil(half / sp).astype(np.intp)
        grids = np.meshgrid(*(np.arange(-kk, kk + 1) for kk in k), indexing="ij")
        offsets = np.stack([g.ravel() for g in grids], axis=1)
        per_batch = max(1, _BATCH_VOXELS // offsets.shape[0])
        for start in range(0, len(pieces), per_batch):
            part = Tubes(*(a[start:start + per_batch] for a in
                           (pieces.p0, pieces.p1, pieces.r0, pieces.r1)))
            _stamp_batch(vol, sp, edge, part, offsets, target, base, mode, grow)


def _stamp_batch(vol: F32, sp: F64, edge: float, t: Tubes, offsets: npt.NDArray[np.intp],
                 target: float, base: float, mode: str, grow: float) -> None:
    # Everything is [N pieces, K box voxels] via matmuls; no [N, K, 3] temporaries.
    shape = np.asarray(vol.shape)
    centre = np.rint(0.5 * (t.p0 + t.p1) / sp).astype(np.intp)
    off_mm = (offsets * sp).astype(np.float32)  # [K, 3]
    w0 = (centre * sp - t.p0).astype(np.float32)  # voxel box centre minus p0, [N, 3]
    ab = t.p1 - t.p0
    length = np.maximum(np.linalg.norm(ab, axis=1), 1e-6)
    unit = (ab / length[:, None]).astype(np.float32)
    along = (w0 * unit).sum(1)[:, None] + unit @ off_mm.T  # w . unit
    w2 = ((w0 * w0).sum(1)[:, None] + 2.0 * (w0 @ off_mm.T)
          + (off_mm * off_mm).sum(1)[None, :])  # |w|^2
    len32 = length.astype(np.float32)[:, None]
    u = np.clip(along / len32, 0.0, 1.0)
    ul = u * len32
    d = np.sqrt(np.maximum(w2 - 2.0 * ul * along + ul * ul, 0.0))
    r = (t.r0.astype(np.float32)[:, None] + u * (t.r1 - t.r0).astype(np.float32)[:, None]
         + np.float32(grow))
    f = np.clip(0.5 + (r - d) / np.float32(edge), 0.0, 1.0)
    lo = offsets.min(0)
    hi = offsets.max(0)
    inside = np.all((centre + lo >= 0) & (centre + hi < shape), axis=1)
    ok = f > 0.0
    if not inside.all():
        for axis in range(3):
            pos = centre[:, axis, None] + offsets[None, :, axis]
            ok &= (pos >= 0) & (pos < shape[axis])
    if not ok.any():
        return
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.intp)
    lin = (centre @ strides)[:, None] + (offsets @ strides)[None, :]
    values = (np.float32(base) + f[ok] * np.float32(target - base)).astype(np.float32)
    flat = vol.reshape(-1)
    if mode == "max":
        np.maximum.at(flat, lin[ok], values)
    elif mode == "min":
        np.minimum.at(flat, lin[ok], values)
    else:
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
