"""Registering a prior screen's lungs onto the current's (jobs.rounds.registration).

The current screen is the synthetic follow-up of the prior's person (synth.followup): the
same anatomy under a known repositioning and breath hold, with new noise and the table
where the scanner has it. A prior nodule registered must land where that known transform
puts it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest

from jobs.rounds import registration
from jobs.rounds.registration import Registration, register_lungs
from synth.acquisition import Acquisition, Pose
from synth.followup import Visit, render_visit
from synth.phantom import Phantom, make_phantom

SEED = 21
TABLE_Z = -250.0  # LPS z minus anatomy z; it cancels out, any value will do
SHIFT_MM = (4.0, -3.0, 5.0)  # LPS x, y, z
ROTATION_DEG = (1.5, 0.0, 3.0)  # about x, y, z
Z_SCALE = 1.03
TOLERANCE_MM = 2.5

F64 = npt.NDArray[np.float64]
Pair = tuple[Phantom, Phantom, Pose]


def _centres_mm(ph: Phantom) -> F64:
    """The phantom's nodule centres, mm (z, y, x) from its first voxel."""
    voxels = np.array([[n.z, n.y, n.x] for n in ph.nodules], dtype=np.float64)
    out: F64 = voxels * np.asarray(ph.spacing)
    return out


def _known(prior: Phantom, current: Phantom, pose: Pose, points: F64) -> F64:
    """Prior mm -> current mm under the pose the follow-up was rendered with (frames as in
    synth.followup: anatomy (z, y, x) + table = LPS (x, y, z))."""
    anatomy = points + np.asarray(prior.origin)
    lps = np.stack([anatomy[:, 2], anatomy[:, 1], anatomy[:, 0] + TABLE_Z], axis=1)
    moved = pose.apply(lps)
    scanner = np.stack([moved[:, 2] - TABLE_Z, moved[:, 1], moved[:, 0]], axis=1)
    out: F64 = scanner - np.asarray(current.origin)
    return out


@pytest.fixture(scope="module")
def pair() -> Pair:
    """A prior with three nodules and its follow-up, turned 3 degrees about z and 1.5 about
    x, shifted (4, -3, 5) mm, the lungs 3 % longer."""
    prior = make_phantom(SEED, "small", n_nodules=3)
    d, h, w = prior.hu.shape
    centre = np.asarray(prior.origin) + (np.array([d, h, w]) - 1) / 2.0 * np.asarray(
        prior.spacing)
    pivot = (float(centre[2]), float(centre[1]), float(centre[0] + TABLE_Z))
    pose = Acquisition(SHIFT_MM, ROTATION_DEG, Z_SCALE, pivot).pose()
    current, _ = render_visit(SEED, "small", Visit(pose, TABLE_Z, (), (), SEED + 1, 3))
    return prior, current, pose


def _errors(reg: Registration, prior: Phantom, current: Phantom, pose: Pose) -> F64:
    points = _centres_mm(prior)
    out: F64 = np.linalg.norm(
        reg.to_current(points) - _known(prior, current, pose, points), axis=1)
    return out


def test_registered_prior_nodules_land_where_the_known_transform_puts_them(
        pair: Pair) -> None:
    prior, current, pose = pair
    reg = register_lungs(current.hu, current.spacing, prior.hu, prior.spacing, device="cpu")
    assert reg is not None
    assert reg.refined and reg.quality > 0.95
    errors = _errors(reg, prior, current, pose)
    assert len(errors) == 3 and errors.max() < TOLERANCE_MM, errors
    # the fitted map is the rigid turn and the z stretch: its linear part is R S
    stretch = np.linalg.norm(np.asarray(reg.matrix)[:, 0])
    assert stretch == pytest.approx(Z_SCALE, abs=0.01)


def test_a_current_screen_cut_short_above_the_lungs_registers_as_well(pair: Pair) -> None:
    """30 mm of the apices missing from the current volume: only what both imaged counts."""
    prior, current, pose = pair
    cut = current.hu[: current.lung_z_range[1] - 15]
    reg = register_lungs(cut, current.spacing, prior.hu, prior.spacing, device="cpu")
    assert reg is not None
    assert _errors(reg, prior, current, pose).max() < TOLERANCE_MM


def test_a_screen_registered_with_itself_is_the_identity(pair: Pair) -> None:
    prior = pair[0]
    reg = register_lungs(prior.hu, prior.spacing, prior.hu, prior.spacing, device="cpu")
    assert reg is not None
    # within the fit's noise (random places on a 4 mm grid): a few tenths of a mm or degree
    np.testing.assert_allclose(reg.matrix, np.eye(3), atol=0.01)
    points = _centres_mm(prior)
    assert np.linalg.norm(reg.to_current(points) - points, axis=1).max() < 1.0
    assert reg.quality > 0.99
    again = register_lungs(prior.hu, prior.spacing, prior.hu, prior.spacing, device="cpu")
    assert again == reg  # the random places are drawn from a fixed seed


def test_a_volume_without_lungs_gives_none(pair: Pair) -> None:
    prior = pair[0]
    tissue = np.full((60, 128, 128), 40, dtype=np.int16)
    assert register_lungs(tissue, (2.0, 1.5, 1.5), prior.hu, prior.spacing) is None
    assert register_lungs(prior.hu, prior.spacing, tissue, (2.0, 1.5, 1.5)) is None
    assert register_lungs(tissue, (2.0, 1.5, 1.5), tissue, (2.0, 1.5, 1.5)) is None


@pytest.mark.parametrize("bad", ["worse", "nan"])
def test_a_fit_that_does_not_improve_returns_the_initial_placement(
        pair: Pair, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """The placement by the lungs' centres and z extents is kept: no turn, the centres
    matched."""
    prior, current, _ = pair

    def fit(self: object, theta0: F64, steps: int) -> F64:
        return theta0 + (30.0 if bad == "worse" else np.nan)

    monkeypatch.setattr(registration._Problem, "fit", fit)
    reg = register_lungs(current.hu, current.spacing, prior.hu, prior.spacing, device="cpu")
    assert reg is not None and not reg.refined
    m = np.asarray(reg.matrix)
    np.testing.assert_allclose(m - np.diag(np.diag(m)), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.diag(m)[1:], 1.0)
    assert 0.0 < reg.quality < 1.0


def test_to_current_maps_points_of_any_leading_shape() -> None:
    reg = Registration(((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)), (1.0, 2.0, 3.0),
                       quality=1.0, refined=True)
    assert reg.to_current([1.0, 2.0, 3.0]).tolist() == [2.0, -1.0, 5.0]
    grid = np.zeros((2, 4, 3))
    assert reg.to_current(grid).shape == (2, 4, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reg.quality = 0.0  # type: ignore[misc]
