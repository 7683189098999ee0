"""Lung nodules: lobulated shapes (unions of spheres), placement, rendering, measurement.

A shape is a main sphere plus a few smaller lobes on its surface. Because a union of spheres
cuts every axial plane in a union of discs, the Lung-RADS measurement is exact: on each
slice plane of the volume, the long axis is the largest Feret diameter of the discs
(max |ci - cj| + ri + rj), the short axis is the extent perpendicular to it; the reported
diameter is the mean of the two on the slice where that mean is largest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernel.contract import NoduleType

__all__ = ["Blob", "NoduleSpec", "NoduleTruth", "draw_nodule", "fit_diameter", "lungrads_diameter",
           "random_blob"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NoduleTruth:
    """One nodule, in voxel coordinates of the phantom's volume (slices foot -> head)."""

    z: float
    y: float
    x: float
    diameter_mm: float  # Lung-RADS mean diameter, measured on the rendered shape
    solid_diameter_mm: float  # solid part (= diameter for solid, 0 for ground glass)
    type: NoduleType
    attached_to: str  # "none" | "pleura" | "vessel" | "airway" (training data only)
    number: int = 0  # the nodule's number in its study (kept when slices are cropped)


@dataclass(frozen=True)
class Blob:
    """Union of spheres: centres [K, 3] mm (z, y, x) and radii [K] mm."""

    centres: F64
    radii: F64

    def scaled(self, factor: float, about: F64) -> Blob:
        return Blob(about + (self.centres - about) * factor, self.radii * factor)

    def moved(self, offset: F64) -> Blob:
        return Blob(self.centres + offset, self.radii)

    def signed_distance(self, pts: F64) -> F64:
        """Approximate signed distance (mm) from points [..., 3] to the surface."""
        d = np.linalg.norm(pts[..., None, :] - self.centres, axis=-1) - self.radii
        return np.asarray(d.min(axis=-1))


@dataclass(frozen=True)
class NoduleSpec:
    """A nodule to draw: its outer shape, its solid core (None for ground glass), values."""

    kind: NoduleType
    outer: Blob
    core: Blob | None
    hu_solid: float
    hu_glass: float
    attached_to: str

    def scaled(self, factor: float) -> NoduleSpec:
        """The same nodule grown (or shrunk) by `factor` about its centre."""
        about = self.outer.centres[0]
        return dataclasses.replace(
            self, outer=self.outer.scaled(factor, about),
            core=None if self.core is None else self.core.scaled(factor, about))

    def placed(self, centre: F64, rotation: F64) -> NoduleSpec:
        """The same nodule turned by `rotation` (3 x 3, z y x) about its centre, which moves
        to `centre`."""
        about = self.outer.centres[0]

        def move(b: Blob) -> Blob:
            return Blob(centre + (b.centres - about) @ rotation.T, b.radii)

        return dataclasses.replace(self, outer=move(self.outer),
                                   core=None if self.core is None else move(self.core))

    def to_json(self) -> dict[str, Any]:
        def blob(b: Blob) -> dict[str, Any]:
            return {"centres": b.centres.tolist(), "radii": b.radii.tolist()}

        return {"kind": self.kind.name.lower(), "outer": blob(self.outer),
                "core": None if self.core is None else blob(self.core),
                "hu_solid": self.hu_solid, "hu_glass": self.hu_glass,
                "attached_to": self.attached_to}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> NoduleSpec:
        def blob(d: dict[str, Any]) -> Blob:
            return Blob(np.asarray(d["centres"], dtype=np.float64).reshape(-1, 3),
                        np.asarray(d["radii"], dtype=np.float64))

        return cls(NoduleType[str(doc["kind"]).upper()], blob(doc["outer"]),
                   None if doc["core"] is None else blob(doc["core"]), float(doc["hu_solid"]),
                   float(doc["hu_glass"]), str(doc["attached_to"]))

    def moved(self, offset: F64) -> NoduleSpec:
        """The same nodule, shifted by `offset` (z, y, x mm)."""
        return dataclasses.replace(self, outer=self.outer.moved(offset),
                                   core=None if self.core is None else self.core.moved(offset))


def random_blob(rng: np.random.Generator, centre: F64, diameter: float) -> Blob:
    """A lobulated shape of about `diameter` mm centred on `centre` (z, y, x)."""
    r = diameter / 2.0
    n = int(rng.integers(1, 6))
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    lobe_r = r * rng.uniform(0.35, 0.7, n)
    dist = (r - lobe_r * rng.uniform(0.1, 0.7, n))[:, None]
    centres = np.vstack([centre[None, :], centre + dirs * dist])
    radii = np.concatenate([[r], lobe_r])
    stretch = np.array([1.0, *rng.uniform(0.85, 1.2, 2)])  # a little elongation in-plane
    centres = centre + (centres - centre) * stretch
    return Blob(centres, radii)


def lungrads_diameter(blob: Blob, plane_z: F64, pixel_mm: float) -> float:
    """Mean of long and short axis (mm) on the slice plane where it is largest.

    `plane_z` are the slice planes (mm, same frame as the blob). A plane that only grazes
    the shape contributes what it cuts; `pixel_mm` sets the smallest visible chord.
    """
    best = 0.0
    zc = blob.centres[:, 0]
    for z in plane_z[(plane_z > (zc - blob.radii).min()) & (plane_z < (zc + blob.radii).max())]:
        rr = blob.radii**2 - (z - zc) ** 2
        cut = rr > (pixel_mm / 2.0) ** 2
        if not cut.any():
            continue
        c = blob.centres[cut, 1:]
        r = np.sqrt(rr[cut])
        dist = np.linalg.norm(c[:, None, :] - c[None, :, :], axis=-1) + r[:, None] + r[None, :]
        i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
        long_axis = float(dist[i, j])
        u = c[j] - c[i]
        n = float(np.linalg.norm(u))
        u = u / n if n > 1e-9 else np.array([1.0, 0.0])
        v = np.array([-u[1], u[0]])
        proj = c @ v
        short_axis = float((proj + r).max() - (proj - r).min())
        best = max(best, 0.5 * (long_axis + short_axis))
    return best


def fit_diameter(spec: NoduleSpec, target_mm: float, plane_z: F64,
                 pixel_mm: float) -> tuple[NoduleSpec, float]:
    """`spec` scaled about its centre so that its Lung-RADS diameter on `plane_z` is
    `target_mm` (to 0.01 mm where the slice planes and pixels allow: the closest above it
    where not), and the factor used."""

    def size(factor: float) -> float:
        return lungrads_diameter(spec.scaled(factor).outer, plane_z, pixel_mm)

    factor = 1.0
    for _ in range(6):  # scaling is nearly proportional: a few steps usually do
        measured = size(factor)
        if abs(measured - target_mm) < 0.005:
            return spec.scaled(factor), factor
        factor *= float(np.clip(target_mm / measured, 0.5, 2.0)) if measured > 0 else 2.0
    lo, hi = factor, factor  # else bisect between a factor too small and one too large
    while size(lo) > target_mm and lo > 1e-3:
        lo /= 1.5
    while size(hi) < target_mm and hi < 1e3:
        hi *= 1.5
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if size(mid) < target_mm:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4 * hi:
            break
    return spec.scaled(hi), hi


def draw_nodule(vol: F32, spacing: tuple[float, float, float], spec: NoduleSpec) -> None:
    """Composite one nodule into `vol` (HU, float32) in place; blob frame = voxel 0 at 0 mm.

    Solid tissue replaces what is there (partial volume at the edge); ground glass only
    raises voxels below its value, so vessels stay visible through it.
    """
    sp = np.asarray(spacing)
    edge = float(np.cbrt(sp.prod()))
    lo = np.floor(((spec.outer.centres - spec.outer.radii[:, None]).min(0) - edge) / sp)
    hi = np.ceil(((spec.outer.centres + spec.outer.radii[:, None]).max(0) + edge) / sp) + 1
    lo = np.clip(lo, 0, vol.shape).astype(int)
    hi = np.clip(hi, 0, vol.shape).astype(int)
    if np.any(hi <= lo):
        return
    grids = np.meshgrid(*(np.arange(a, b) * s for a, b, s in zip(lo, hi, sp, strict=True)),
                        indexing="ij")
    pts = np.stack(grids, axis=-1)
    box = vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    f_out = np.clip(0.5 - spec.outer.signed_distance(pts) / edge, 0.0, 1.0).astype(np.float32)
    if spec.kind is NoduleType.SOLID:
        box += f_out * (spec.hu_solid - box)
        return
    glass = spec.hu_glass + 40.0 * np.sin(pts[..., 0] * 0.9 + pts[..., 1] * 1.3 + pts[..., 2])
    box += f_out * np.maximum(glass.astype(np.float32) - box, 0.0)
    if spec.core is not None:
        f_in = np.clip(0.5 - spec.core.signed_distance(pts) / edge, 0.0, 1.0).astype(np.float32)
        box += f_in * (spec.hu_solid - box)
