"""Pick the one usable axial CT series of a study, or quarantine the study with a reason.

The rules are data: `RULES` is an ordered table of (reason, description, check), applied to
facts measured on each series (`SeriesFacts`). Geometry comes only from
ImageOrientationPatient and ImagePositionPatient: the plane normal is row x column, and
slice spacing is the difference of positions projected on that normal. SliceThickness,
SpacingBetweenSlices and ImageType AXIAL are never trusted for geometry.

Thresholds (`Policy`, defaults documented there) are data too.

Study outcome: among series that pass every rule, the thinnest is selected (ties: smaller
spacing, more slices, lower series number). When none passes, the study's reason is that of
the series that got furthest down the table (the one nearest to being usable), so a study
with a scout and an axial series with one missing slice reads `slice_gap`, not
`no_axial_series`. A study with no image series at all is `no_series`.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from jobs.ingest.dicom.geometry import normal, project, tilt_degrees
from jobs.ingest.dicom.headers import SliceHeader
from jobs.ingest.discovery import DiscoveredSeries, DiscoveredStudy
from kernel.reasons import Reason

__all__ = [
    "RULES",
    "Policy",
    "Quarantined",
    "Rule",
    "Selected",
    "SeriesDecision",
    "SeriesFacts",
    "measure",
    "select_series",
]

CT_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image Storage
    }
)


@dataclass(frozen=True)
class Policy:
    """Selection thresholds.

    - max_tilt_deg 10: the plane normal may lean this far from the head-foot axis (small
      gantry tilt or oblique acquisitions stay usable; reformats at 90 degrees do not).
    - min_slices 20: below this a stack is a scout, a key image set or a fragment.
    - spacing_tolerance 0.1: a spacing may differ from the median by 10 % (scanners round
      positions; float noise must not quarantine a study, ITK #1607).
    - gap_factor 1.5: a step over 1.5 x median spacing is a missing slice.
    - duplicate_mm 0.01 (or 1 % of spacing): two slices this close are the same slice.
    - max_thickness_mm 2.5: Lung-RADS / ACR LDCT protocol maximum reconstructed thickness.
    - min_extent_mm 200: an adult lung is about 200-300 mm from apex to base; a stack
      shorter than 200 mm cannot contain both lungs entirely.
    - max_matrix 1024, max_slices 2000, max_frames 1, max_decoded_bytes 768 MiB: checked from
      the headers before any pixel is decoded (LDCT is 512x512, 150-600 slices, one frame
      per file); a larger series is quarantined `too_large` instead of allocated.
    """

    max_tilt_deg: float = 10.0
    min_slices: int = 20
    spacing_tolerance: float = 0.1
    gap_factor: float = 1.5
    duplicate_mm: float = 0.01
    max_thickness_mm: float = 2.5
    min_extent_mm: float = 200.0
    max_matrix: int = 1024
    max_slices: int = 2000
    max_frames: int = 1
    max_decoded_bytes: int = 768 << 20


@dataclass(frozen=True)
class SeriesFacts:
    """What the rules need to know about one series, measured once."""

    count: int
    is_ct: bool
    is_localizer: bool
    geometry_problem: str | None  # why the slices do not form one stack, or None
    tilt_deg: float | None
    unreadable: int
    duplicates: int
    gaps: int
    irregular_steps: int
    spacing_mm: float | None  # median step between slices along the normal
    thickness_mm: float | None  # SliceThickness, or the spacing when absent
    extent_mm: float | None
    ordered: tuple[SliceHeader, ...]  # foot to head; empty when geometry is unusable
    matrix: int = 0  # the largest of Rows and Columns over the slices
    frames: int = 1  # the most frames in one file
    decoded_bytes: int = 0  # what the int16 volume would take


@dataclass(frozen=True)
class Rule:
    """One selection rule: `check(facts, policy)` is True when the series passes."""

    reason: Reason
    description: str
    check: Callable[[SeriesFacts, Policy], bool]


RULES: tuple[Rule, ...] = (
    Rule(Reason.NOT_CT, "modality CT and a CT SOP class", lambda f, p: f.is_ct),
    Rule(Reason.NO_AXIAL_SERIES, "not a localizer / scout", lambda f, p: not f.is_localizer),
    Rule(
        Reason.TOO_LARGE,
        "at most max_matrix pixels a side, max_slices slices, max_frames frames a file and "
        "max_decoded_bytes decoded (from headers, before decoding)",
        lambda f, p: (f.matrix <= p.max_matrix and f.count <= p.max_slices
                      and f.frames <= p.max_frames and f.decoded_bytes <= p.max_decoded_bytes),
    ),
    Rule(
        Reason.NO_AXIAL_SERIES,
        "one stack: orientation, position, pixel spacing and size on every slice, all alike",
        lambda f, p: f.geometry_problem is None,
    ),
    Rule(
        Reason.NO_AXIAL_SERIES,
        "axial: plane normal within max_tilt_deg of the head-foot axis",
        lambda f, p: f.tilt_deg is not None and f.tilt_deg <= p.max_tilt_deg,
    ),
    Rule(Reason.UNREADABLE_FILE, "every slice file readable", lambda f, p: f.unreadable == 0),
    Rule(Reason.TOO_FEW_SLICES, "at least min_slices slices", lambda f, p: f.count >= p.min_slices),
    Rule(Reason.DUPLICATE_SLICES, "no two slices at one position", lambda f, p: f.duplicates == 0),
    Rule(
        Reason.SLICE_GAP, "no missing slice (step > gap_factor x median)", lambda f, p: f.gaps == 0
    ),
    Rule(
        Reason.INCONSISTENT_SPACING,
        "every step within spacing_tolerance of the median",
        lambda f, p: f.irregular_steps == 0,
    ),
    Rule(
        Reason.THICK_SLICES,
        "slice thickness and spacing <= max_thickness_mm",
        lambda f, p: (
            f.thickness_mm is not None
            and f.thickness_mm <= p.max_thickness_mm + 1e-6
            and (f.spacing_mm or 0.0) <= p.max_thickness_mm * (1 + p.spacing_tolerance)
        ),
    ),
    Rule(
        Reason.INCOMPLETE_LUNG_COVERAGE,
        "z-extent >= min_extent_mm",
        lambda f, p: f.extent_mm is not None and f.extent_mm >= p.min_extent_mm,
    ),
)


@dataclass(frozen=True)
class SeriesDecision:
    """The outcome for one series: passed (reason None), or the first rule it failed."""

    series: DiscoveredSeries
    facts: SeriesFacts
    failed_rule: int | None  # index into RULES
    reason: Reason | None
    detail: str


@dataclass(frozen=True)
class Selected:
    """The study's usable series: slices ordered foot to head, (z, y, x) spacing in mm."""

    study: DiscoveredStudy
    series: DiscoveredSeries
    slices: tuple[SliceHeader, ...]
    spacing: tuple[float, float, float]
    decisions: tuple[SeriesDecision, ...]

    @property
    def slice_count(self) -> int:
        return len(self.slices)

    def for_loading(self, *, strip_locators: bool = False) -> Selected:
        """A copy holding only what `jobs.ingest.volume.load_volume` needs: the source, each
        slice's locator, UIDs and size. Patient id, dates, institution and the other series
        are dropped, so the copy is smaller and carries less PHI when sent to a worker.
        `strip_locators`: the locators and UIDs go too (in the same one copy per slice), for
        a sender that seals them apart (jobs.ingest.privacy.seal)."""
        gone: dict[str, str | None] = {"locator": "", "study_uid": "", "series_uid": "",
                                       "sop_uid": "", "frame_of_reference_uid": None} \
            if strip_locators else {}
        slim = tuple(
            replace(
                h,
                patient_id="",
                institution=None,
                patient_birth_date=None,
                study_date=None,
                patient_age=None,
                patient_sex=None,
                **gone,  # type: ignore[arg-type]
            )
            for h in self.slices
        )
        series_uid = "" if strip_locators else self.series.series_uid
        series = DiscoveredSeries(self.series.source, series_uid, slim)
        study = DiscoveredStudy("" if strip_locators else self.study.study_uid, (series,))
        return Selected(study, series, slim, self.spacing, ())


@dataclass(frozen=True)
class Quarantined:
    """No usable series: the study's reason, and why each series failed."""

    study: DiscoveredStudy
    reason: Reason
    detail: str
    decisions: tuple[SeriesDecision, ...]


def select_series(study: DiscoveredStudy, policy: Policy | None = None) -> Selected | Quarantined:
    """Apply `RULES` to each series of `study` and decide; never raises for bad data."""
    policy = policy or Policy()
    decisions = tuple(_decide(s, policy) for s in study.series)
    passed = [d for d in decisions if d.reason is None]
    if passed:
        best = min(passed, key=_preference)
        f = best.facts
        first = f.ordered[0]
        assert first.pixel_spacing is not None and f.spacing_mm is not None
        return Selected(
            study=study,
            series=best.series,
            slices=f.ordered,
            spacing=(f.spacing_mm, first.pixel_spacing[0], first.pixel_spacing[1]),
            decisions=decisions,
        )
    if not decisions:
        return Quarantined(study, Reason.NO_SERIES, "no image series in the study", ())
    worst = max(decisions, key=lambda d: (d.failed_rule or 0, d.facts.count))
    assert worst.reason is not None
    return Quarantined(study, worst.reason, worst.detail, decisions)


def _preference(d: SeriesDecision) -> tuple[float, float, int, int]:
    f = d.facts
    number = d.series.series_number
    return (f.thickness_mm or 0.0, f.spacing_mm or 0.0, -f.count, number if number else 0)


def _decide(series: DiscoveredSeries, policy: Policy) -> SeriesDecision:
    facts = measure(series, policy)
    if not series.headers:  # only files whose header was read but whose pixels were cut
        index = next(i for i, r in enumerate(RULES) if r.reason is Reason.UNREADABLE_FILE)
        detail = f"all {series.unreadable} slice file(s) unreadable"
        return SeriesDecision(series, facts, index, Reason.UNREADABLE_FILE, detail)
    for index, rule in enumerate(RULES):
        if not rule.check(facts, policy):
            detail = _detail(rule, facts)
            return SeriesDecision(series, facts, index, rule.reason, detail)
    return SeriesDecision(series, facts, None, None, "usable")


def _detail(rule: Rule, f: SeriesFacts) -> str:
    if rule.reason is Reason.NO_AXIAL_SERIES and f.geometry_problem:
        return f.geometry_problem
    if rule.reason is Reason.NO_AXIAL_SERIES and f.tilt_deg is not None and not f.is_localizer:
        return f"plane normal {f.tilt_deg:.1f} deg from the head-foot axis (not axial)"
    measured = {
        Reason.UNREADABLE_FILE: f"{f.unreadable} slice file(s) unreadable",
        Reason.TOO_FEW_SLICES: f"{f.count} slices",
        Reason.DUPLICATE_SLICES: f"{f.duplicates} duplicate position(s)",
        Reason.SLICE_GAP: f"{f.gaps} gap(s) over the median spacing {f.spacing_mm or 0:.2f} mm",
        Reason.INCONSISTENT_SPACING: f"{f.irregular_steps} step(s) off the median spacing",
        Reason.THICK_SLICES: f"thickness {f.thickness_mm or 0:.2f} mm, spacing "
        f"{f.spacing_mm or 0:.2f} mm",
        Reason.INCOMPLETE_LUNG_COVERAGE: f"z-extent {f.extent_mm or 0:.0f} mm",
    }.get(rule.reason, "")
    return f"{rule.description}: {measured}" if measured else rule.description


def measure(series: DiscoveredSeries, policy: Policy) -> SeriesFacts:
    """Measure the facts the rules check; pure, tolerant of any header values."""
    hs = series.headers
    is_ct = bool(hs) and all(h.modality == "CT" and h.sop_class_uid in CT_SOP_CLASSES for h in hs)
    is_localizer = any(h.is_localizer for h in hs)
    problem = _geometry_problem(hs)
    n = normal(hs[0].orientation) if hs and hs[0].orientation else None
    matrix = max((max(h.rows, h.columns) for h in hs), default=0)
    frames = max((h.number_of_frames for h in hs), default=1)
    size = {"matrix": matrix, "frames": frames,
            "decoded_bytes": sum(h.rows * h.columns * h.number_of_frames * 2 for h in hs)}
    if problem is not None or n is None:
        return SeriesFacts(
            **size,
            count=len(hs),
            is_ct=is_ct,
            is_localizer=is_localizer,
            unreadable=series.unreadable,
            geometry_problem=problem or "no valid ImageOrientationPatient",
            tilt_deg=None,
            duplicates=0,
            gaps=0,
            irregular_steps=0,
            spacing_mm=None,
            thickness_mm=None,
            extent_mm=None,
            ordered=(),
        )
    keyed = sorted(((project(h.position or (0, 0, 0), n), h) for h in hs), key=lambda t: t[0])
    zs = [z for z, _ in keyed]
    steps = [b - a for a, b in itertools.pairwise(zs)]
    positive = [s for s in steps if s > 0]
    spacing = statistics.median(positive) if positive else None
    duplicates = gaps = irregular = 0
    if spacing is not None:
        same = max(policy.duplicate_mm, 0.01 * spacing)
        duplicates = sum(1 for s in steps if s <= same)
        real = [s for s in steps if s > same]
        spacing = statistics.median(real) if real else None
    if spacing is not None:
        tol = policy.spacing_tolerance * spacing
        off = [s for s in steps if s > max(policy.duplicate_mm, 0.01 * spacing)]
        off = [s for s in off if abs(s - spacing) > tol]
        gaps = sum(
            1 for s in off if s > policy.gap_factor * spacing and _near_multiple(s, spacing, tol)
        )
        irregular = len(off) - gaps
        if gaps and len(off) > max(2, len(steps) // 20):
            # many large steps are not missing slices but a second spacing
            irregular, gaps = len(off), 0
    thicknesses = [h.slice_thickness for h in hs if h.slice_thickness is not None]
    thickness = max(thicknesses) if thicknesses else spacing
    extent = (zs[-1] - zs[0]) + (spacing or 0.0) if len(zs) > 1 else (spacing or 0.0)
    return SeriesFacts(
        **size,
        count=len(hs),
        is_ct=is_ct,
        is_localizer=is_localizer,
        unreadable=series.unreadable,
        geometry_problem=None,
        tilt_deg=tilt_degrees(n),
        duplicates=duplicates if len(hs) > 1 else 0,
        gaps=gaps,
        irregular_steps=irregular,
        spacing_mm=spacing,
        thickness_mm=thickness,
        extent_mm=extent,
        ordered=tuple(h for _, h in keyed),
    )


def _near_multiple(step: float, spacing: float, tol: float) -> bool:
    k = round(step / spacing)
    return k >= 2 and abs(step - k * spacing) <= tol * k


def _geometry_problem(hs: tuple[SliceHeader, ...]) -> str | None:
    if not hs:
        return "no image slices"
    first = hs[0]
    for h in hs:
        if h.number_of_frames > 1:
            return "multi-frame images are not supported (one slice per file expected)"
        if h.orientation is None or normal(h.orientation) is None:
            return "a slice has no valid ImageOrientationPatient"
        if h.position is None:
            return "a slice has no ImagePositionPatient"
        if h.pixel_spacing is None or min(h.pixel_spacing) <= 0:
            return "a slice has no valid PixelSpacing"
        if (h.rows, h.columns) != (first.rows, first.columns) or h.rows <= 0 or h.columns <= 0:
            return "slices differ in Rows/Columns"
        assert first.orientation is not None and first.pixel_spacing is not None
        if max(abs(a - b) for a, b in zip(h.orientation, first.orientation, strict=True)) > 1e-3:
            return "slices differ in orientation"
        if (
            max(abs(a - b) for a, b in zip(h.pixel_spacing, first.pixel_spacing, strict=True))
            > 1e-3
        ):
            return "slices differ in PixelSpacing"
    return None


def _differ(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-3) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) > tol
