"""A matched nodule and its prior measured again, side by side, with the same calipers.

Growth is the difference of two measurements. Taken from the two screens' own reports, each
carries its screen's measuring error (the detector measures from where its candidate stage
put the centre, which differs between two scans of one nodule), and a nodule that grew 1.2
or 1.8 mm is called across the 1.5 mm line as often as not. A reader compares the two scans
side by side and measures both the same way; so does this, where the prior's pixels are at
hand (jobs.rounds.registered): both nodules are measured again by the detector's own
measuring step (models.detection.measure), each from the centre its screen reported (the
centre the first measurement refined), each at the size its screen reported (the prior's
capped by the current's), and both as the current nodule's type, so the difference is the
nodule's and not the two measurements'. Without the prior's pixels the growth is judged on
the stored sizes.

The lungs bounding each measurement (a nodule on the pleura is cut at the chest wall) are
the detector's own closed lung mask on its 2 mm grid, as its first stage makes it (the
registration's 4 mm masks were tried in its place and let a 3.9 mm nodule on the pleura
measure 5.3 mm). Whole, it cost about 0.7 s of CPU a scan, most of the comparison's time;
so the lungs among the air are found once for the whole scan (3D components), and holes are
filled and the pleura closed only on the axial slices a measurement reads (those steps work
slice by slice, so those slices come out exactly as in the whole mask). Where the
registration's 4 mm grid shows lung in every cell around a nodule out to the measurement's
reach, the mask could not bound it (the measurement leaves the lungs' mask alone when its
whole reach lies inside), so none is made for it. No model pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

from jobs.rounds.registration import LungGrid
from kernel.contract import Nodule
from kernel.followup import PriorNodule
from kernel.rounds import PriorFinding
from models.detection.lungmask import close_slices, lung_air
from models.detection.measure import LungField, measure_nodule, measuring_field_mm
from models.detection.pipeline import PipelineConfig
from models.detection.resample import plan_grid, resample

__all__ = ["Scan", "SideBySide", "SlicedLungs"]

Vec = tuple[float, float, float]

# the detector's lung-mask grid, as its first stage plans it (twice its isotropic grid)
_LUNG_GRID_MM = 2.0 * PipelineConfig().iso_mm


class SlicedLungs:
    """One scan's closed lung mask (the detector's), its axial slices made when first read."""

    def __init__(self, volume: torch.Tensor, spacing: Vec) -> None:
        grid = plan_grid((volume.shape[0], volume.shape[1], volume.shape[2]), spacing,
                         _LUNG_GRID_MM)
        self._air = lung_air(resample(volume, grid))  # 3D components: the whole scan
        self._spacing = grid.iso_spacing
        self._step = grid.step
        self._closed = torch.zeros(self._air.shape, dtype=torch.float32)
        self._made = np.zeros(self._air.shape[0], dtype=bool)

    def around(self, z: float, half_mm: float) -> LungField:
        """The mask with every slice within `half_mm` of input plane `z` made (and the two
        beyond, which interpolation reads)."""
        plane, half = z / self._step[0], half_mm / self._spacing[0]
        self._make(math.floor(plane - half) - 1, math.ceil(plane + half) + 2)
        return LungField(self._closed, self._step)

    def whole(self) -> LungField:
        self._make(0, len(self._made))
        return LungField(self._closed, self._step)

    def _make(self, lo: int, hi: int) -> None:
        lo, hi = max(lo, 0), min(hi, len(self._made))
        todo = np.flatnonzero(~self._made[lo:hi]) + lo
        if todo.size:
            a, b = int(todo[0]), int(todo[-1]) + 1  # one run: the slices between are cheap
            self._closed[a:b] = close_slices(self._air[a:b], self._spacing)
            self._made[a:b] = True


@dataclass
class Scan:
    """One screen's pixels and spacing; its float volume and lungs made when first asked."""

    hu: npt.NDArray[np.int16]
    spacing: Vec
    coarse: LungGrid | None = None  # the registration's lungs, when it ran
    _volume: torch.Tensor | None = field(default=None, repr=False)
    _lungs: SlicedLungs | None = field(default=None, repr=False)

    def volume(self) -> torch.Tensor:
        if self._volume is None:
            self._volume = torch.from_numpy(np.ascontiguousarray(self.hu)).float()
        return self._volume

    def lungs_near(self, centre: Vec, radius_mm: float) -> LungField | None:
        """The lungs' mask for measuring a nodule of `radius_mm` at voxel `centre` (made on
        the slices that measurement reads), or None where the coarse grid shows lung all
        around it (see the module doc)."""
        if self.coarse is not None:
            r0 = max(radius_mm, 1.5)  # as measure_nodule: its reach is 2 r0 + 6 mm
            cell = float(np.linalg.norm(self.coarse.step)) / 2
            mm = np.asarray(centre, dtype=np.float64) * np.asarray(self.spacing)
            if self.coarse.lung_all_around(mm, r0 + cell, 2.0 * r0 + 6.0 + cell):
                return None
        # the measuring cube's half side and 1.25 mm more: the cube's own half step and
        # the half slice its centre moves to an acquired slice lie within that margin
        return self.lungs().around(centre[0], measuring_field_mm(radius_mm) / 2 + 1.25)

    def lungs(self) -> SlicedLungs:
        if self._lungs is None:
            self._lungs = SlicedLungs(self.volume(), self.spacing)
        return self._lungs


@dataclass
class SideBySide:
    """The current scan and the prior's, both at hand: `pair(nodule, finding)` measures the
    two again the same way."""

    current: Scan
    prior: Scan

    def pair(self, nodule: Nodule, finding: PriorFinding) -> tuple[Nodule, PriorNodule] | None:
        """The nodule and its prior as measured side by side (the prior keeps its category
        and history), or None when the prior finding has no voxel centre to measure at."""
        if finding.voxel is None:
            return None
        # Each scan's expected size is its own report, the prior's capped by the current's:
        # the expected radius sets the measuring seed, so a 3.6 mm prior measured with the
        # grown nodule's 3.75 mm radius took partial-volume lung into its seed and came
        # out 1.2 mm large (growth missed); capped, a prior that leaked along a vessel in
        # its own report is not measured along it again.
        r_now = nodule.diameter_mm / 2
        r_then = min(finding.nodule.diameter_mm, nodule.diameter_mm) / 2
        here = (nodule.z, nodule.y, nodule.x)
        now = measure_nodule(self.current.volume(), self.current.spacing, here, r_now,
                             self.current.lungs_near(here, r_now), nodule.type)
        then = measure_nodule(self.prior.volume(), self.prior.spacing, finding.voxel, r_then,
                              self.prior.lungs_near(finding.voxel, r_then), nodule.type)
        if now.diameter_mm <= 0 or then.diameter_mm <= 0:
            return None
        current = Nodule(nodule.z, nodule.y, nodule.x, now.diameter_mm,
                         now.solid_diameter_mm, nodule.type, nodule.probability)
        p = finding.nodule
        prior = PriorNodule(then.diameter_mm, then.solid_diameter_mm, p.type, p.category,
                            p.first_diameter_mm, p.days_since_first)
        return current, prior
