"""Records of a screen read against the person's prior: what the prior left in the store,
and how the current screen compares. PHI-free: pseudonyms, shifted days, sizes, positions.

Positions are in mm in a lung-relative frame: a nodule's centre (z, y, x, mm from the volume's
first voxel) minus the lung box's low corner, over the box's size, in [0, 1] inside the
lungs; the box is the lungs' bounding box in the same mm (`LungBox`). Two screens of one
person, repositioned and breathing differently, agree in this frame to a few mm.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.followup import Change, PriorNodule
from kernel.lungrads import Category

__all__ = ["LungBox", "NoduleReading", "PriorFinding", "PriorScreen", "RoundReading"]


@dataclass(frozen=True)
class LungBox:
    """The lungs' bounding box, mm from the first voxel (z foot to head, y, x)."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def relative(self, point_mm: tuple[float, float, float]) -> tuple[float, float, float]:
        """`point_mm` in the box's frame: 0 at the low corner, 1 at the high one."""
        return (
            (point_mm[0] - self.low[0]) / max(self.high[0] - self.low[0], 1e-6),
            (point_mm[1] - self.low[1]) / max(self.high[1] - self.low[1], 1e-6),
            (point_mm[2] - self.low[2]) / max(self.high[2] - self.low[2], 1e-6),
        )

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.high[0] - self.low[0], self.high[1] - self.low[1],
                self.high[2] - self.low[2])


@dataclass(frozen=True)
class PriorFinding:
    """A nodule of the prior screen: where (lung-relative) and how it was read."""

    relative: tuple[float, float, float]
    nodule: PriorNodule
    voxel: tuple[float, float, float] | None = None  # centre in the prior volume's voxels


@dataclass(frozen=True)
class PriorScreen:
    """A person's latest earlier screen, as a prior campaign stored it."""

    campaign_id: str
    study_pid: str
    exam_day: str  # shifted ISO day ("" unknown)
    category: Category | None
    findings: tuple[PriorFinding, ...] = ()
    comparable: bool = True  # False: a screen without a lung box (no positions to match)


@dataclass(frozen=True)
class NoduleReading:
    """One current nodule read against the prior: its change and category with priors."""

    change: Change
    category: Category
    prior_diameter_mm: float | None = None
    prior_solid_diameter_mm: float | None = None
    first_diameter_mm: float | None = None  # when the nodule was first seen
    days_since_first: float = 0.0
    relative: tuple[float, float, float] | None = None  # lung-relative centre (no box: None)
    prior_index: int | None = None  # the matched prior nodule: its place in the prior's list
    # measured again beside the prior's pixels: this nodule's (diameter, solid part) mm; the
    # change was judged on them and the prior's sizes above, measured the same way
    beside_mm: tuple[float, float] | None = None


@dataclass(frozen=True)
class RoundReading:
    """A screen read against its prior: one `NoduleReading` per current nodule (in the
    result's nodule order), the prior nodules gone now, and the lung box the next round
    matches against."""

    lung_box: LungBox | None
    nodules: tuple[NoduleReading, ...] = ()
    prior_study_pid: str | None = None
    prior_category: Category | None = None
    interval_days: float | None = None
    resolved: int = 0
    prior_missing: bool = False  # a later round whose prior was not found
    registered: bool = False  # matched after registering the two scans (else lung-relative)
