"""Tapered tubes (capsules) and their rasterisation into a fraction volume.

A tube runs p0 -> p1 (patient mm, z y x) with radius r0 -> r1. `tube_fraction` gives every
voxel of a grid the largest partial-volume fraction any tube covers it with, from the
voxel's distance to the tube's surface; tubes are cut into short pieces and drawn in
batches of equal-sized boxes, the distances coming from a few matrix products per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Grid", "Tubes", "tube_fraction"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_PIECE_MM = 3.0
_RADIUS_CLASSES = (0.6, 1.2, 2.4, 4.8, 9.6)
_BATCH = 2_000_000


@dataclass(frozen=True)
class Tubes:
    """Segments p0, p1 [N, 3] (mm, z y x) with radii r0, r1 [N] (mm)."""

    p0: F64
    p1: F64
    r0: F64
    r1: F64

    def __len__(self) -> int:
        return int(self.r0.size)

    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Tubes:
        return Tubes(self.p0[idx], self.p1[idx], self.r0[idx], self.r1[idx])

    def concat(self, other: Tubes) -> Tubes:
        return Tubes(np.concatenate([self.p0, other.p0]), np.concatenate([self.p1, other.p1]),
                     np.concatenate([self.r0, other.r0]), np.concatenate([self.r1, other.r1]))

    def grown(self, by: F64 | float) -> Tubes:
        """The same tubes with radii larger by `by` mm (a wall around a lumen)."""
        return Tubes(self.p0, self.p1, self.r0 + by, self.r1 + by)

    def pieces(self, max_len: float) -> Tubes:
        """The same tubes cut into pieces no longer than `max_len` mm."""
        length = np.linalg.norm(self.p1 - self.p0, axis=1)
        n = np.maximum(1, np.ceil(length / max_len)).astype(np.intp)
        seg = np.repeat(np.arange(len(self)), n)
        k = np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)
        t0 = (k / n[seg])[:, None]
        t1 = ((k + 1) / n[seg])[:, None]
        d = self.p1[seg] - self.p0[seg]
        dr = self.r1[seg] - self.r0[seg]
        return Tubes(self.p0[seg] + t0 * d, self.p0[seg] + t1 * d,
                     self.r0[seg] + t0[:, 0] * dr, self.r0[seg] + t1[:, 0] * dr)


@dataclass(frozen=True)
class Grid:
    """A volume's sampling: patient mm of voxel [0, 0, 0] and the spacing (z, y, x)."""

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]


def tube_fraction(tubes: Tubes, grid: Grid) -> F32:
    """Per voxel, the largest fraction of it inside any of `tubes` (float32, grid shape)."""
    out = np.zeros(grid.shape, dtype=np.float32)
    if not len(tubes):
        return out
    sp = np.asarray(grid.spacing)
    org = np.asarray(grid.origin)
    edge = np.float32(np.sqrt(sp[1] * sp[2]))
    t = tubes.pieces(_PIECE_MM)
    rmax = np.maximum(t.r0, t.r1)
    cls = np.searchsorted(_RADIUS_CLASSES, rmax)
    flat = out.reshape(-1)
    dims = np.asarray(grid.shape)
    for c in np.unique(cls):
        sel = np.flatnonzero(cls == c)
        r_box = _RADIUS_CLASSES[c] if c < len(_RADIUS_CLASSES) else float(rmax[sel].max())
        half = np.ceil((r_box + _PIECE_MM / 2.0 + float(edge)) / sp).astype(int)
        offs = np.stack(np.meshgrid(*(np.arange(-h, h + 1) for h in half), indexing="ij"),
                        axis=-1).reshape(-1, 3)
        o = (offs * sp).astype(np.float32)  # [K, 3] mm from the box's centre voxel
        o2 = (o * o).sum(1)
        step = max(1, _BATCH // len(offs))
        for b in range(0, sel.size, step):
            idx = sel[b:b + step]
            p0, p1 = t.p0[idx], t.p1[idx]
            mid = np.rint(((p0 + p1) / 2.0 - org) / sp).astype(int)
            # a voxel's offset from p0 is a + o, a the box centre's: distances by products
            a = (org + mid * sp - p0).astype(np.float32)
            d = (p1 - p0).astype(np.float32)
            dd = np.maximum((d * d).sum(1), 1e-9)[:, None]
            rel_d = (a * d).sum(1)[:, None] + d @ o.T
            s = np.clip(rel_d / dd, 0.0, 1.0)
            rel2 = (a * a).sum(1)[:, None] + 2.0 * (a @ o.T) + o2[None, :]
            dist = np.sqrt(np.maximum(rel2 - 2.0 * s * rel_d + s * s * dd, 0.0))
            r0 = t.r0[idx].astype(np.float32)[:, None]
            rad = r0 + s * (t.r1[idx].astype(np.float32)[:, None] - r0)
            f = np.clip(0.5 - (dist - rad) / edge, 0.0, 1.0)
            vox = mid[:, None, :] + offs[None, :, :]
            ok = (f > 0.0) & np.all((vox >= 0) & (vox < dims), axis=-1)
            lin = np.ravel_multi_index(tuple(vox[ok].T), grid.shape)
            np.maximum.at(flat, lin, f[ok])
    return out
