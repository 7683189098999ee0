"""Synthetic low-dose chest CT phantoms with nodule ground truth, in memory.

`make_phantom(seed, profile)` renders one study: anatomy slice by slice (anatomy.py),
vessel and airway trees as tapered tubes (vessels.py, raster.py), nodules (nodules.py),
then the reconstruction kernel and correlated noise (noise.py). Deterministic per seed and
independent of overrides: every random stream is drawn in full before overrides apply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernel.contract import Nodule
from kernel.lungrads import Category, categorize_study
from synth.anatomy import Anatomy, draw_anatomy, rib_angle
from synth.nodules import NoduleSpec, NoduleTruth
from synth.noise import finish_volume
from synth.params import ScanParams, draw_params
from synth.params import draw_anatomy as draw_patient
from synth.placement import AIRWAY_WALL_MM, choose_nodules, place_nodules
from synth.raster import Tubes, stamp_tubes
from synth.vessels import airway_tree, vessel_tree

__all__ = ["Body", "NoduleTruth", "Phantom", "baseline_nodules", "crop_z", "draw_body",
           "lung_z_range", "make_phantom", "noise_profile", "render_anatomy", "study_category"]


@dataclass(frozen=True)
class Phantom:
    """A rendered study: HU volume, spacing, nodule truth, and where the lungs are."""

    hu: npt.NDArray[np.int16]  # [D, H, W]
    spacing: tuple[float, float, float]  # (z, y, x) mm
    nodules: tuple[NoduleTruth, ...]
    lung_z_range: tuple[int, int]  # first and last slice index containing lung
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (z, y, x) mm of voxel [0, 0, 0]
    params: ScanParams | None = None

    @property
    def lungs_covered(self) -> bool:
        """Whether the whole lung lies inside the volume (neither end cut off)."""
        first, last = self.lung_z_range
        return 0 < first <= last < self.hu.shape[0] - 1


@dataclass(frozen=True)
class Body:
    """One patient as a seed draws them, before any volume: anatomy, scanner settings, the
    vessel tree (anatomy mm), and the streams left for the airways, nodules and noise."""

    anat: Anatomy
    params: ScanParams
    vessels: Tubes
    rng_a: np.random.Generator
    rng_n: np.random.Generator
    rng_noise: np.random.Generator

    def grid(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32],
                            npt.NDArray[np.float32]]:
        """The scanner's sample positions (anatomy mm): slice centres z, rows y, columns x."""
        p = self.params
        n = p.matrix
        zs = (np.arange(p.n_slices) + 0.5) * p.slice_thickness
        xs = ((np.arange(n) - (n - 1) / 2.0) * p.pixel_spacing + p.x_offset).astype(np.float32)
        ys = ((np.arange(n) - (n - 1) / 2.0) * p.pixel_spacing + p.y_offset).astype(np.float32)
        return zs, ys, xs


def draw_body(seed: int, profile: str, variation: dict[str, object]) -> Body:
    """Study `seed`'s patient and scanner settings (`variation` overrides ScanParams)."""
    streams = np.random.SeedSequence([int(seed), 0x5EED]).spawn(5)
    rng_p, rng_v, rng_a, rng_n, rng_noise = (np.random.default_rng(s) for s in streams)
    scale = float(rng_p.uniform(0.85, 1.15))
    scale = float(variation.get("patient_scale", scale))  # type: ignore[arg-type]
    patient = draw_patient(rng_p, scale)
    params = draw_params(rng_p, profile, patient, scale, dict(variation))
    anat = dataclasses.replace(patient, lung_base=params.margin_below)
    vessels = vessel_tree(anat, rng_v, params.vessel_density)
    return Body(anat, params, vessels, rng_a, rng_n, rng_noise)


def render_anatomy(body: Body, zs: npt.NDArray[np.float64], ys: npt.NDArray[np.float32],
                   xs: npt.NDArray[np.float32], spacing: tuple[float, float, float],
                   z_top: float, *, table: bool = True
                   ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], Tubes]:
    """HU (float32, noise-free, no nodules) sampled at `zs` x `ys` x `xs` (anatomy mm, steps
    of `spacing`), with the patient table or without (`table`), the lung mask [D, H, W],
    and the airway tree (anatomy mm) reaching above `z_top`; uses up `body.rng_a`."""
    anat = body.anat
    first = np.array([zs[0], ys[0], xs[0]], dtype=np.float64)
    hu = np.empty((zs.size, ys.size, xs.size), dtype=np.float32)
    lungs = np.empty(hu.shape, dtype=bool)
    sin_theta = rib_angle(anat, xs, ys)
    for k, z in enumerate(zs):
        hu[k], lungs[k] = draw_anatomy(anat, xs, ys, float(z), sin_theta, table=table)
    stamp_tubes(hu, spacing, _to_volume(body.vessels, first), target=anat.hu_soft + 5.0,
                base=anat.hu_lung, mode="max")
    airway_mm = airway_tree(anat, body.rng_a, z_top)
    airways = _to_volume(airway_mm, first)
    stamp_tubes(hu, spacing, airways, target=-40.0, base=anat.hu_lung, mode="max",
                grow=AIRWAY_WALL_MM)
    stamp_tubes(hu, spacing, airways, target=-1000.0, base=-40.0, mode="min")
    return hu, lungs, airway_mm


def make_phantom(seed: int, profile: str = "small", *, n_nodules: int | None = None,
                 small_juxtavascular: float = 0.0, juxta_airway: float = 0.0,
                 **variation: object) -> Phantom:
    """Render study `seed` of `profile` ("small", "realistic", or "tiny" for file tests).

    `n_nodules` fixes the nodule count (default: none in about a third of studies, else 1-5).
    `small_juxtavascular` (training data only) draws that share of the nodules as 3-6 mm
    solid ones touching a vessel, the kind a detector most easily takes for a vessel.
    `juxta_airway` (training data only) places that share of the nodules against a bronchus'
    wall, where a detector scores them low. At 0, the defaults, the study is unchanged.
    `variation` overrides any field of ScanParams (pixel_spacing, slice_thickness, n_slices,
    noise_sigma, kernel, patient_scale, vessel_density, ...). Raises TypeError for an
    unknown name and ValueError for an unknown profile.
    """
    body = draw_body(seed, profile, dict(variation))
    anat, params = body.anat, body.params
    zs, ys, xs = body.grid()
    spacing = (float(params.slice_thickness), float(params.pixel_spacing),
               float(params.pixel_spacing))
    first = np.array([zs[0], ys[0], xs[0]], dtype=np.float64)
    hu, lungs, airway_mm = render_anatomy(body, zs, ys, xs, spacing, float(zs[-1]))
    count = _nodule_count(body.rng_n) if n_nodules is None else int(n_nodules)
    nodules = place_nodules(hu, spacing, anat, first, body.vessels, body.rng_n, count,
                            small_juxtavascular, juxta_airway, airway_mm)
    vol = finish_volume(hu, body.rng_noise, kernel=params.kernel,
                        noise_sigma=params.noise_sigma, noise_corr=params.noise_corr,
                        sigma_profile=noise_profile(anat, zs))
    origin = (float(first[0]), float(first[1]), float(first[2]))
    return Phantom(vol, spacing, nodules, lung_z_range(lungs), origin, params)


def baseline_nodules(body: Body) -> tuple[tuple[NoduleSpec, NoduleTruth], ...]:
    """The nodules `make_phantom(seed, profile)` (no options) draws for `body` (a fresh
    `draw_body(seed, profile, {})`), their shapes in anatomy mm; uses up `body.rng_n`."""
    zs, ys, xs = body.grid()
    first = np.array([zs[0], ys[0], xs[0]], dtype=np.float64)
    px = float(body.params.pixel_spacing)
    spacing = (float(body.params.slice_thickness), px, px)
    chosen = choose_nodules(zs.size, spacing, body.anat, first, body.vessels, body.rng_n,
                            _nodule_count(body.rng_n))
    return tuple((spec.moved(first), truth) for spec, truth in chosen)


def lung_z_range(lungs: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """First and last slice of a [D, H, W] lung mask that holds lung ((0, -1): none)."""
    idx = np.flatnonzero(lungs.any(axis=(1, 2)))
    return (int(idx[0]), int(idx[-1])) if idx.size else (0, -1)


def _to_volume(t: Tubes, first: npt.NDArray[np.float64]) -> Tubes:
    """Anatomy mm -> volume-frame mm (voxel [0, 0, 0] at 0)."""
    return Tubes(t.p0 - first, t.p1 - first, t.r0, t.r1)


def _nodule_count(rng: np.random.Generator) -> int:
    if rng.uniform() < 1.0 / 3.0:
        return 0
    return int(rng.choice([1, 2, 3, 4, 5], p=[0.45, 0.28, 0.15, 0.08, 0.04]))


def noise_profile(anat: Anatomy, zs: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Noise grows through the shoulders (more attenuation) and the upper abdomen."""
    t = np.asarray(anat.t_of(zs))
    shoulders = np.clip((t - 0.85) / 0.3, 0.0, 1.0)
    abdomen = np.clip(-t / 0.2, 0.0, 1.0)
    return (1.0 + 0.45 * shoulders + 0.2 * abdomen).astype(np.float32)


def crop_z(ph: Phantom, start: int, stop: int) -> Phantom:
    """Slices [start, stop) of `ph`, with nodules outside dropped and the rest re-indexed."""
    start, stop = max(0, start), min(ph.hu.shape[0], stop)
    kept = tuple(dataclasses.replace(t, z=t.z - start) for t in ph.nodules
                 if start <= t.z < stop)
    first, last = ph.lung_z_range
    z_range = (max(first, start) - start, min(last, stop - 1) - start)
    origin = (ph.origin[0] + start * ph.spacing[0], ph.origin[1], ph.origin[2])
    return dataclasses.replace(ph, hu=ph.hu[start:stop].copy(), nodules=kept,
                               lung_z_range=z_range, origin=origin)


def study_category(ph: Phantom) -> Category:
    """The study's Lung-RADS category from its nodule truth (0 when the lungs are cut off)."""
    found = [Nodule(t.z, t.y, t.x, t.diameter_mm, t.solid_diameter_mm, t.type, 1.0)
             for t in ph.nodules]
    return categorize_study(found, lungs_covered=ph.lungs_covered)
