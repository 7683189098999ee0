"""Matched nodules measured again side by side with their prior (jobs.rounds.side_by_side).

The current screen is the synthetic follow-up of the prior's person (synth.followup): the
same anatomy repositioned, new noise, the prior's nodules carried over, two stable and one
grown by 3 mm. The prior's stored sizes came out 1.8 mm short (one round's measuring
error): judged on the stored sizes every nodule has "grown"; measured side by side, only the
one that did.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jobs.rounds import lung_box, read_round
from jobs.rounds.registered import register_prior
from jobs.rounds.side_by_side import Scan, SideBySide, SlicedLungs
from jobs.store.round_rows import reading_from_json, reading_to_json
from kernel.contract import Nodule, NoduleType
from kernel.followup import Change, PriorNodule
from kernel.lungrads import Category, categorize_nodule
from kernel.rounds import PriorFinding, PriorScreen, RoundReading
from models.detection.lungmask import lung_mask
from models.detection.measure import LungField, measure_nodule
from models.detection.pipeline import PipelineConfig
from models.detection.resample import plan_grid, resample
from synth.acquisition import Acquisition
from synth.followup import Carried, Visit, render_visit
from synth.phantom import Phantom, make_phantom

SEED = 22  # three nodules: 5.3 mm solid, 8.3 mm part-solid, 3.9 mm solid
TABLE_Z = -250.0
GROWN_MM = 3.0
SHORT_MM = 1.8  # how much smaller the prior's stored sizes are than its nodules


def _revisit(prior: Phantom, carried: tuple[Carried, ...]) -> Phantom:
    """The prior's person a round later: repositioned, new noise, `carried` nodules."""
    d, h, w = prior.hu.shape
    centre = np.asarray(prior.origin) + (np.array([d, h, w]) - 1) / 2.0 * np.asarray(
        prior.spacing)
    pivot = (float(centre[2]), float(centre[1]), float(centre[0] + TABLE_Z))
    pose = Acquisition((3.0, -2.0, 4.0), (1.0, 0.0, 2.0), 1.02, pivot).pose()
    current, _ = render_visit(SEED, "small", Visit(pose, TABLE_Z, carried, (), SEED + 1, 4))
    return current


@pytest.fixture(scope="module")
def rounds() -> tuple[Phantom, Phantom]:
    prior = make_phantom(SEED, "small")
    carried = tuple(
        Carried(f"n{t.number}", t.number, "grown" if i == 0 else "stable",
                t.diameter_mm + (GROWN_MM if i == 0 else 0.0), t.diameter_mm,
                t.solid_diameter_mm, (0.0, 0.0, 0.0), None)
        for i, t in enumerate(prior.nodules))
    return prior, _revisit(prior, carried)


def _prior_screen(prior: Phantom) -> PriorScreen:
    box = lung_box(prior.hu, prior.spacing)
    assert box is not None
    findings = []
    for t in prior.nodules:
        stored = Nodule(t.z, t.y, t.x, t.diameter_mm - SHORT_MM,
                        max(t.solid_diameter_mm - SHORT_MM, 0.0), t.type, 1.0)
        mm = (t.z * prior.spacing[0], t.y * prior.spacing[1], t.x * prior.spacing[2])
        findings.append(PriorFinding(
            box.relative(mm),
            PriorNodule(stored.diameter_mm, stored.solid_diameter_mm, t.type,
                        categorize_nodule(stored), stored.diameter_mm),
            (t.z, t.y, t.x)))
    return PriorScreen("round-1", "p1", "2025-01-10", Category.PROBABLY_BENIGN,
                       tuple(findings))


def _read(current: Phantom, prior: Phantom, *, beside: bool) -> RoundReading:
    screen = _prior_screen(prior)
    nodules = tuple(Nodule(t.z, t.y, t.x, t.diameter_mm, t.solid_diameter_mm, t.type, 0.9)
                    for t in current.nodules)
    pixels = register_prior(screen, current.hu, current.spacing,
                          lambda: (prior.hu, prior.spacing))
    assert pixels is not None and pixels.centres is not None
    reading, _ = read_round(nodules, current.spacing, lung_box(current.hu, current.spacing),
                            screen, exam_day="2026-01-08", screening_round=2,
                            prior_mm=pixels.centres,
                            beside=pixels.beside.pair if beside else None)
    return reading


def test_judged_on_the_stored_sizes_a_short_prior_measurement_reads_as_growth(
        rounds: tuple[Phantom, Phantom]) -> None:
    prior, current = rounds
    reading = _read(current, prior, beside=False)
    assert [n.prior_index for n in reading.nodules] == [0, 1, 2]
    assert [n.change for n in reading.nodules] == [Change.GROWN] * 3
    assert all(n.beside_mm is None for n in reading.nodules)


def test_measured_side_by_side_only_the_nodule_that_grew_has_grown(
        rounds: tuple[Phantom, Phantom]) -> None:
    prior, current = rounds
    reading = _read(current, prior, beside=True)
    assert [n.prior_index for n in reading.nodules] == [0, 1, 2]
    assert [n.change for n in reading.nodules] == [Change.GROWN, Change.STABLE, Change.STABLE]
    # the reading records both measurements it judged on (a part-solid nodule's growth is
    # its solid part's); their difference is the nodule's growth, whatever each one's error
    for n, t, grew in zip(reading.nodules, current.nodules, (GROWN_MM, 0.0, 0.0), strict=True):
        assert n.beside_mm is not None and n.prior_diameter_mm is not None
        assert n.prior_solid_diameter_mm is not None
        if t.type is NoduleType.PART_SOLID:
            # the solid part of this one, on a vessel, is measured within ~1.3 mm each time
            growth, within = n.beside_mm[1] - n.prior_solid_diameter_mm, 1.45
        else:
            growth, within = n.beside_mm[0] - n.prior_diameter_mm, 1.0
        assert growth == pytest.approx(grew, abs=within)
    # kept in the store with the reading, and read back the same
    assert reading_from_json(reading_to_json(reading), "3") == reading


def test_without_a_voxel_centre_the_stored_sizes_are_used(
        rounds: tuple[Phantom, Phantom]) -> None:
    prior, current = rounds
    screen = _prior_screen(prior)
    pixels = register_prior(screen, current.hu, current.spacing,
                          lambda: (prior.hu, prior.spacing))
    assert pixels is not None
    finding = screen.findings[1]
    no_voxel = PriorFinding(finding.relative, finding.nodule, None)
    t = current.nodules[1]
    nodule = Nodule(t.z, t.y, t.x, t.diameter_mm, t.solid_diameter_mm, t.type, 0.9)
    assert pixels.beside.pair(nodule, no_voxel) is None
    assert pixels.beside.pair(nodule, finding) is not None


def _whole_mask(scan: Scan) -> LungField:
    """The detector's closed lung mask made whole, as its first stage makes it."""
    vol = scan.volume()
    grid = plan_grid((vol.shape[0], vol.shape[1], vol.shape[2]), scan.spacing,
                     2.0 * PipelineConfig().iso_mm)
    return LungField(lung_mask(resample(vol, grid), grid.iso_spacing).closed, grid.step)


def test_the_lung_mask_is_made_only_near_the_lungs_edge_and_changes_nothing(
        rounds: tuple[Phantom, Phantom]) -> None:
    """Where the registration's grid shows lung all around a nodule no mask is made for it,
    elsewhere only the slices its measurement reads; every measurement comes out exactly as
    with the detector's whole mask."""
    prior, current = rounds
    screen = _prior_screen(prior)
    pixels = register_prior(screen, current.hu, current.spacing,
                            lambda: (prior.hu, prior.spacing))
    assert pixels is not None
    beside = pixels.beside
    assert beside.current.coarse is not None and beside.prior.coarse is not None
    for scan, nodules in ((beside.current, current.nodules), (beside.prior, prior.nodules)):
        whole = _whole_mask(scan)
        for t in nodules:
            centre, r = (t.z, t.y, t.x), t.diameter_mm / 2
            near = scan.lungs_near(centre, r)
            assert measure_nodule(scan.volume(), scan.spacing, centre, r, near, t.type) == \
                measure_nodule(scan.volume(), scan.spacing, centre, r, whole, t.type)
    free = next(i for i, t in enumerate(prior.nodules) if t.attached_to == "none")
    wall = next(i for i, t in enumerate(prior.nodules) if t.attached_to == "pleura")
    assert beside.prior.lungs_near(screen.findings[free].voxel or (0, 0, 0), 2.65) is None
    assert beside.prior.lungs_near(screen.findings[wall].voxel or (0, 0, 0), 1.95) is not None


def test_a_small_prior_is_measured_at_its_own_size_so_its_growth_is_seen() -> None:
    """The expected radius sets the measuring seed: the 5.3 mm solid nodule's prior measured
    with the grown nodule's radius (7.1 mm) took partial-volume lung into its seed and came
    out 5.65 mm, so 1.8 mm of growth read as 1.28 (stable); measured at its own reported
    size, capped by the current's, the growth is seen."""
    prior = make_phantom(SEED, "small")
    t = prior.nodules[0]
    assert t.type is NoduleType.SOLID and t.attached_to == "none"
    carried = (Carried(f"n{t.number}", t.number, "grown", t.diameter_mm + 1.8, t.diameter_mm,
                       t.solid_diameter_mm, (0.0, 0.0, 0.0), None),)
    current = _revisit(prior, carried)
    (c,) = current.nodules
    box = lung_box(prior.hu, prior.spacing)
    assert box is not None
    stored = Nodule(t.z, t.y, t.x, t.diameter_mm, t.solid_diameter_mm, t.type, 1.0)
    finding = PriorFinding(
        box.relative((t.z * prior.spacing[0], t.y * prior.spacing[1], t.x * prior.spacing[2])),
        PriorNodule(t.diameter_mm, t.solid_diameter_mm, t.type, categorize_nodule(stored),
                    t.diameter_mm), (t.z, t.y, t.x))
    beside = SideBySide(Scan(current.hu, current.spacing), Scan(prior.hu, prior.spacing))
    pair = beside.pair(Nodule(c.z, c.y, c.x, c.diameter_mm, c.solid_diameter_mm, c.type, 0.9),
                       finding)
    assert pair is not None
    now, then = pair
    assert now.diameter_mm - then.diameter_mm > 1.5
    assert then.diameter_mm == pytest.approx(t.diameter_mm, abs=0.3)


def test_sliced_lungs_are_the_whole_mask_on_the_slices_made(
        rounds: tuple[Phantom, Phantom]) -> None:
    prior, _ = rounds
    scan = Scan(prior.hu, prior.spacing)
    whole = _whole_mask(scan).mask
    lungs = SlicedLungs(scan.volume(), scan.spacing)
    z = prior.nodules[0].z
    part = lungs.around(z, 10.0).mask
    made = torch.nonzero(part.sum(dim=(1, 2)) > 0).flatten()
    assert 0 < len(made) < part.shape[0] // 2, "a slab, not the whole"
    step = lungs.around(z, 10.0).step[0]
    plane = z / step
    half = 10.0 / (step * prior.spacing[0])
    rows = range(int(plane - half) - 1, int(plane + half) + 2)
    assert torch.equal(part[rows.start:rows.stop], whole[rows.start:rows.stop])
    assert torch.equal(lungs.whole().mask, whole)
