"""Registering a prior screen's lungs onto the current screen's: where a prior point is now.

Both volumes are reduced to a lung mask on a grid of about 4 mm (the share of each cell below
-400 HU, kept where it belongs to the large air components that do not touch the edge of an
axial slice: the lungs and airways, as in `lungbox`). The prior is first placed by the
masks' centres and z extents, then a rigid turn and shift with a z stretch (the breath
hold), seven numbers, are fitted (scipy's L-BFGS-B on torch's gradients) by maximising the
soft Dice overlap of the Gaussian-smoothed masks at 10,000 (GPU: 100,000) random places
near the current lungs, the prior resampled there with `grid_sample`; a coarse pass at
twice the cell size first, then one at the cell size. Only where the prior was imaged
counts, so a lung cut short at one end of either volume does not pull the fit. A fit that
does not improve on the initial placement is dropped for it.

All positions are mm (z, y, x) from a volume's first voxel, slices foot to head.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from scipy import ndimage, optimize

__all__ = ["LungGrid", "Registration", "register_lungs"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
Vec = tuple[float, float, float]
Rows = tuple[Vec, Vec, Vec]

_AIR_HU = -400
_GRID_MM = 4.0
_KEEP_FRACTION = 0.2  # components at least this share of the largest are lung
_MIN_LUNG_ML = 50.0
_SMOOTH_CELLS = 1.0  # Gaussian sigma of the masks, in cells of their grid
_MARGIN_CELLS = 3  # the current grid fitted on: the lungs' box and this margin
_MAX_Z_SCALE = 0.15  # the initial z stretch stays within 1 -+ this
# units of the fitted numbers, each moving the lungs' edge (~100 mm off centre) about 1 mm:
# turns in 0.01 rad, shifts in mm, the log z stretch in 0.01
_ROT_UNIT = 0.01
_SCALE_UNIT = 0.01
_UNITS = torch.tensor([_ROT_UNIT] * 3 + [1.0] * 3 + [_SCALE_UNIT])
# searched within: turns of 20 degrees, shifts of 60 mm, z stretches of exp(-+0.2)
_BOUNDS = [(-35.0, 35.0)] * 3 + [(-60.0, 60.0)] * 3 + [(-20.0, 20.0)]
_STEPS = (30, 20)  # L-BFGS iterations at twice the cell size, then at the cell size
# places in the current grid the overlap is counted at. On the CPU 10,000 (x 3 coordinates)
# stays under torch's grain for splitting an op across threads: above it, a CPU shared with
# other work spent 10 to 100 times longer waking its threads than computing (measured: 3 ms
# -> 100 ms an evaluation). On a GPU they cost nothing, and more halve the error.
_SAMPLES_CPU = 10_000
_SAMPLES_GPU = 100_000
_SLICE_FILL = np.zeros((3, 3, 3), dtype=bool)  # holes filled within each axial slice
_SLICE_FILL[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class LungGrid:
    """A volume's lungs as the registration saw them, on cells of about 4 mm: cells over
    half lung, and what they enclose on each axial slice (vessels and nodules inside the
    lungs, as the detector's lung mask fills them); cell [i, j, k] is centred at
    `first + (i, j, k) * step` mm from the first voxel."""

    lung: npt.NDArray[np.bool_]
    first: F64
    step: F64

    @classmethod
    def of(cls, mask: _Mask) -> LungGrid:
        return cls(ndimage.binary_fill_holes(mask.share >= 0.5, _SLICE_FILL), mask.first,
                   mask.step)

    def lung_all_around(self, centre_mm: F64, inner_mm: float, outer_mm: float) -> bool:
        """Whether every cell centred between `inner_mm` and `outer_mm` of `centre_mm` is
        lung and inside the volume."""
        lo = np.floor((centre_mm - outer_mm - self.first) / self.step).astype(int)
        hi = np.ceil((centre_mm + outer_mm - self.first) / self.step).astype(int)
        if (lo < 0).any() or (hi >= np.asarray(self.lung.shape)).any():
            return False
        axes = [self.first[a] + np.arange(lo[a], hi[a] + 1) * self.step[a] - centre_mm[a]
                for a in range(3)]
        dist = np.sqrt(axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2
                       + axes[2][None, None, :] ** 2)
        shell = (dist >= inner_mm) & (dist <= outer_mm)
        cells = self.lung[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1]
        return bool(cells[shell].all())


@dataclass(frozen=True)
class Registration:
    """Prior mm -> current mm: `current = matrix @ prior + offset` (both (z, y, x) mm from
    the volume's first voxel). `quality` is the Dice overlap of the two lung masks (cells
    over half lung) once registered, counted where both volumes imaged (1: perfect, 0:
    disjoint; about 0.99 for two screens of one person); `refined` is False when the fit
    did not improve on the initial placement by centres and z extents, returned then."""

    matrix: Rows
    offset: Vec
    quality: float
    refined: bool
    lungs: tuple[LungGrid, LungGrid] | None = field(default=None, repr=False, compare=False)
    """The current's and the prior's lungs, as the fit saw them."""

    def to_current(self, points_mm: npt.ArrayLike) -> F64:
        """Points [..., 3] (prior mm, z y x) where they are in the current volume."""
        pts = np.asarray(points_mm, dtype=np.float64)
        out: F64 = pts @ np.asarray(self.matrix).T + np.asarray(self.offset)
        return out


@dataclass(frozen=True)
class _Mask:
    """A lung mask on a coarse grid: cell [i, j, k] centred at `first + (i, j, k) * step` mm."""

    share: F32  # share of lung in each cell, 0..1
    first: F64
    step: F64
    fov: tuple[F64, F64]  # the volume's first and last cell centres, mm

    def centre_and_z_extent(self) -> tuple[F64, float]:
        idx = np.argwhere(self.share > 0)
        w = self.share[self.share > 0].astype(np.float64)
        mm = idx * self.step + self.first
        centre: F64 = (mm * w[:, None]).sum(axis=0) / w.sum()
        z_mass = np.bincount(idx[:, 0], weights=w)
        cum = np.cumsum(z_mass) / z_mass.sum()
        # 1st to 99th percentile of the lung volume along z: robust to a stray cell
        lo, hi = np.searchsorted(cum, 0.01), np.searchsorted(cum, 0.99)
        return centre, float(max(hi - lo, 1) * self.step[0])


def _lung_mask(hu: npt.NDArray[np.int16], spacing: Vec) -> _Mask | None:
    """The lungs' share of each ~4 mm cell, or None when the volume shows no lungs."""
    sp = np.asarray(spacing, dtype=np.float64)
    k = tuple(max(1, round(_GRID_MM / float(s))) for s in spacing)
    shape = tuple(n // kk for n, kk in zip(hu.shape, k, strict=True))
    if min(shape) < 3:
        return None
    count = np.zeros(shape, dtype=np.uint8)
    crop = hu[: shape[0] * k[0], : shape[1] * k[1], : shape[2] * k[2]]
    # strided sums: ~5x faster than a reshape-mean over the full volume
    for i, j, m in itertools.product(range(k[0]), range(k[1]), range(k[2])):
        count += crop[i :: k[0], j :: k[1], m :: k[2]] < _AIR_HU
    share = count.astype(np.float32) / float(np.prod(k))
    labels, n = ndimage.label(share >= 0.5)
    if n == 0:
        return None
    edge = np.zeros(shape, dtype=bool)
    edge[:, 0, :] = edge[:, -1, :] = edge[:, :, 0] = edge[:, :, -1] = True
    outside = np.unique(labels[edge])
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    sizes[outside] = 0
    step = sp * np.asarray(k)
    if sizes.max() * float(np.prod(step)) / 1000.0 < _MIN_LUNG_ML:
        return None
    keep = np.flatnonzero(sizes >= _KEEP_FRACTION * sizes.max())
    lungs = np.isin(labels, keep)
    # the partly filled cells at the lungs' border count too, the outside air never
    near = ndimage.binary_dilation(lungs) & ~np.isin(labels, outside[outside > 0])
    mask = np.where(near, share, 0.0).astype(np.float32)
    first = sp * (np.asarray(k) - 1) / 2.0
    return _Mask(mask, first, step, (first, first + (np.asarray(shape) - 1) * step))


def _crop(mask: _Mask) -> _Mask:
    """The mask cut down to the lungs' box and a margin of a few cells."""
    idx = np.argwhere(mask.share > 0)
    lo = np.maximum(idx.min(axis=0) - _MARGIN_CELLS, 0)
    hi = np.minimum(idx.max(axis=0) + 1 + _MARGIN_CELLS, mask.share.shape)
    share = mask.share[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return _Mask(np.ascontiguousarray(share), mask.first + lo * mask.step, mask.step, mask.fov)


def _rotation(angles: torch.Tensor) -> torch.Tensor:
    """R = Rz Ry Rx in (z, y, x) coordinates, turns about the z, y and x axes (radians)."""
    one, zero = torch.ones_like(angles[0]), torch.zeros_like(angles[0])
    c, s = torch.cos(angles), torch.sin(angles)
    rz = torch.stack([one, zero, zero, zero, c[0], -s[0], zero, s[0], c[0]]).reshape(3, 3)
    ry = torch.stack([c[1], zero, s[1], zero, one, zero, -s[1], zero, c[1]]).reshape(3, 3)
    rx = torch.stack([c[2], s[2], zero, -s[2], c[2], zero, zero, zero, one]).reshape(3, 3)
    return rz @ ry @ rx


def _forward(theta: npt.ArrayLike) -> tuple[F64, F64]:
    """(R S, t) of the 7 numbers, float64: current = R S (prior - pp) + pc + t."""
    v = torch.as_tensor(np.asarray(theta), dtype=torch.float64) * _UNITS.double()
    stretch = torch.cat([torch.exp(v[6:7]), torch.ones(2, dtype=torch.float64)])
    rs = _rotation(v[:3]) * stretch[None, :]
    return rs.numpy(), v[3:6].numpy()


class _Problem:
    """1 - the soft Dice overlap of the current mask and the prior's resampled under the 7
    numbers theta (turns about z, y, x; shift z, y, x; log z stretch, in `_UNITS`):
    current = R S (prior - pp) + pc + t, about the prior's and the current lungs' centres,
    at `_SAMPLES_CPU` or `_GPU` places in the current grid (a fixed random choice)."""

    def __init__(self, current: _Mask, prior: _Mask, pc: F64, pp: F64,
                 device: torch.device) -> None:
        samples = _SAMPLES_CPU if device.type == "cpu" else _SAMPLES_GPU
        def tensor(a: npt.ArrayLike) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)

        cur = ndimage.gaussian_filter(current.share, _SMOOTH_CELLS)
        pri = ndimage.gaussian_filter(prior.share, _SMOOTH_CELLS)
        # at random places, not cell centres: were the samples on one lattice, each would
        # cross a cell of the prior at once and the overlap would have a kink at every step;
        # near the lungs only, where the masks differ when misplaced by up to ~2 cells
        rng = np.random.default_rng(0)
        near = np.argwhere(ndimage.binary_dilation(cur > 0.01, iterations=2))
        idx = near[rng.integers(0, len(near), samples)] + rng.uniform(-0.5, 0.5, (samples, 3))
        idx = np.clip(idx, 0.0, np.asarray(cur.shape) - 1.0)
        self.current = tensor(ndimage.map_coordinates(cur, idx.T, order=1))
        self.prior = tensor(pri)[None, None]
        # where the prior was imaged, about pp: its whole volume, not only the crop
        self.fov_low, self.fov_high = tensor(prior.fov[0] - pp), tensor(prior.fov[1] - pp)
        self.prior_step = tensor(prior.step)
        self.points = tensor(idx * current.step + current.first - pc)  # about pc
        shape = np.maximum(np.asarray(pri.shape, dtype=np.float64) - 1, 1)
        # prior mm about pp -> grid_sample's [-1, 1] (align_corners)
        self.norm_scale = tensor(2.0 / (prior.step * shape))
        self.norm_shift = tensor((pp - prior.first) / prior.step * 2.0 / shape - 1.0)
        self.units = _UNITS.to(device)
        self.device = device

    def overlap(self, theta: torch.Tensor, *, hard: bool = False) -> torch.Tensor:
        """Dice of the masks (soft, or of the masks over 0.5 when `hard`), counted where the
        prior was imaged."""
        v = theta * self.units
        stretch = torch.cat([torch.exp(-v[6:7]), torch.ones(2, device=self.device)])
        inverse = _rotation(v[:3]).T * stretch[:, None]  # (R S)^-1 = S^-1 R^T
        # prior about pp = (R S)^-1 (current about pc - t)
        q = torch.addmm(-v[3:6] @ inverse.T, self.points, inverse.T)
        g = (q * self.norm_scale + self.norm_shift).flip(-1)  # grid_sample's (x, y, z)
        sampled = F.grid_sample(self.prior, g[None, None, None], mode="bilinear",
                                padding_mode="zeros", align_corners=True).reshape(-1)
        # 1 inside the prior's field of view, 0 from its outermost cell centres on (beyond
        # them the lungs would seem to end), a ramp of one cell between
        edge = torch.minimum(q - self.fov_low, self.fov_high - q) / self.prior_step
        inside = edge.clamp(0.0, 1.0).prod(dim=1)
        cur = self.current
        if hard:
            sampled, cur = (sampled >= 0.5).to(torch.float32), (cur >= 0.5).to(torch.float32)
        both = (sampled * cur * inside).sum()
        return 2.0 * both / ((sampled * inside).sum() + (cur * inside).sum()).clamp_min(1e-6)

    def score(self, theta: F64, *, hard: bool = False) -> float:
        """`overlap` of plain numbers, without gradients."""
        with torch.no_grad():
            t = torch.as_tensor(theta, dtype=torch.float32, device=self.device)
            return float(self.overlap(t, hard=hard))

    def fit(self, theta0: F64, steps: int) -> F64:
        """theta maximising the overlap from `theta0` (L-BFGS-B within `_BOUNDS`)."""

        def loss(theta: F64) -> tuple[float, F64]:
            t = torch.as_tensor(theta, dtype=torch.float32, device=self.device)
            t.requires_grad_(True)
            value = 1.0 - self.overlap(t)
            value.backward()  # type: ignore[no-untyped-call]
            assert t.grad is not None
            return float(value.detach()), t.grad.double().cpu().numpy()

        res = optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=_BOUNDS,
                                options={"maxiter": steps, "maxfun": 2 * steps})
        out: F64 = np.asarray(res.x, dtype=np.float64)
        return out


def _coarser(mask: _Mask) -> _Mask:
    """The mask at twice the cell size (the mean of 2 x 2 x 2 cells)."""
    t = torch.from_numpy(mask.share)[None, None]
    share = F.avg_pool3d(t, 2, ceil_mode=True)[0, 0].numpy()
    return _Mask(share, mask.first + mask.step / 2.0, mask.step * 2.0, mask.fov)


def register_lungs(current_hu: npt.NDArray[np.int16], current_spacing: Vec,
                   prior_hu: npt.NDArray[np.int16], prior_spacing: Vec, *,
                   device: str | torch.device | None = None) -> Registration | None:
    """The prior's lungs registered onto the current's (see the module doc).

    Volumes are [D, H, W] HU, slices foot to head; spacings (z, y, x) mm. `device` is where
    torch fits (default: cuda when available, else the CPU). Returns None when either
    volume shows no lungs (no large air inside the body, as `lung_box` returns None) or is
    under 3 cells of ~4 mm along an axis: there is nothing to register, and the caller
    falls back to the lung-relative frame.
    """
    cur_full = _lung_mask(current_hu, current_spacing)
    pri_full = _lung_mask(prior_hu, prior_spacing)
    if cur_full is None or pri_full is None:
        return None
    dev = torch.device(device if device is not None
                       else "cuda" if torch.cuda.is_available() else "cpu")
    current, prior = _crop(cur_full), _crop(pri_full)
    pc, cz = current.centre_and_z_extent()
    pp, pz = prior.centre_and_z_extent()
    theta0 = np.zeros(7)
    theta0[6] = np.log(np.clip(cz / pz, 1.0 - _MAX_Z_SCALE, 1.0 + _MAX_Z_SCALE)) / _SCALE_UNIT
    fine = _Problem(current, prior, pc, pp, dev)
    coarse = _Problem(_coarser(current), _coarser(prior), pc, pp, dev)
    theta = fine.fit(coarse.fit(theta0, _STEPS[0]), _STEPS[1])
    refined = bool(np.isfinite(theta).all()) and fine.score(theta) > fine.score(theta0)
    best = theta if refined else theta0
    rs, shift = _forward(best)
    offset = pc + shift - rs @ pp
    return Registration((_vec(rs[0]), _vec(rs[1]), _vec(rs[2])), _vec(offset),
                        fine.score(best, hard=True), refined,
                        (LungGrid.of(cur_full), LungGrid.of(pri_full)))


def _vec(a: F64) -> Vec:
    return (float(a[0]), float(a[1]), float(a[2]))
