"""The in-memory phantom: anatomy where it belongs, nodule truth that matches the pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from kernel.contract import NoduleType
from kernel.lungrads import Category
from synth.nodules import Blob, NoduleTruth, lungrads_diameter
from synth.phantom import Phantom, crop_z, make_phantom, study_category


@pytest.fixture(scope="module")
def clean() -> Phantom:
    """A noise-free phantom with several nodules (noise would only blur the checks)."""
    return make_phantom(21, n_nodules=5, noise_sigma=0.0)


def test_shape_dtype_and_spacing(clean: Phantom) -> None:
    d, h, w = clean.hu.shape
    assert clean.hu.dtype == np.int16
    assert (h, w) == (256, 256) and 150 <= d <= 180
    assert clean.spacing[0] == 2.0 and 1.25 <= clean.spacing[1] == clean.spacing[2] <= 1.6
    first, last = clean.lung_z_range
    assert 0 < first < last < d - 1 and clean.lungs_covered


def test_tissues_have_their_hounsfield_units(clean: Phantom) -> None:
    hu = clean.hu
    assert hu.min() >= -1024 and hu.max() <= 3071
    corner = hu[:, :8, :8]
    assert np.median(corner) <= -990  # air outside the body
    first, last = clean.lung_z_range
    mid = hu[(first + last) // 2]
    lung = (mid > -950) & (mid < -750)
    assert lung.mean() > 0.12  # both lungs take a good part of a mid-chest slice
    assert abs(float(np.median(mid[lung])) + 850) < 60
    assert ((mid > -130) & (mid < -60)).mean() > 0.03  # subcutaneous fat
    assert ((mid > 20) & (mid < 70)).mean() > 0.05  # muscle, mediastinum
    assert (mid > 300).sum() > 50  # spine, ribs, sternum
    # the trachea: air inside the body above the carina, in the midline
    top = hu[last - 5]
    centre_cols = top[:, 118:138]
    assert (centre_cols < -900).sum() > 10


def test_noise_is_added_and_varies_with_the_setting() -> None:
    quiet = make_phantom(3, noise_sigma=5.0)
    loud = make_phantom(3, noise_sigma=60.0)
    air_q = quiet.hu[:, :20, :20].astype(float).std()
    air_l = loud.hu[:, :20, :20].astype(float).std()
    assert air_l > 4 * air_q
    assert 35 < air_l < 90


def test_same_seed_same_study_other_seed_other_study() -> None:
    a, b, c = make_phantom(5), make_phantom(5), make_phantom(6)
    assert a.hu.tobytes() == b.hu.tobytes() and a.nodules == b.nodules
    assert a.hu.shape != c.hu.shape or not np.array_equal(a.hu, c.hu)


def _with_share(**share: float) -> tuple[Phantom, npt.NDArray[np.float32]]:
    """Phantom 31 (4 nodules, no noise) drawn with a training-only share, after checking
    that the share at 0 leaves the study as it was; and the same scan without nodules."""
    plain = make_phantom(31, n_nodules=4, noise_sigma=0.0)
    same = make_phantom(31, n_nodules=4, noise_sigma=0.0, **dict.fromkeys(share, 0.0))
    assert plain.hu.tobytes() == same.hu.tobytes() and plain.nodules == same.nodules
    ph = make_phantom(31, n_nodules=4, noise_sigma=0.0, **share)
    assert ph.nodules != plain.nodules
    return ph, make_phantom(31, n_nodules=0, noise_sigma=0.0).hu


def _around(hu: npt.NDArray[np.float32], ph: Phantom, n: NoduleTruth,
            margin_mm: float) -> npt.NDArray[np.float32]:
    """The values of `hu` within `margin_mm` of nodule `n`'s edge (as a sphere)."""
    sp = np.asarray(ph.spacing)
    zz, yy, xx = np.indices(hu.shape, sparse=True)
    dist = np.sqrt(((zz - n.z) * sp[0]) ** 2 + ((yy - n.y) * sp[1]) ** 2
                   + ((xx - n.x) * sp[2]) ** 2)
    return hu[dist <= n.diameter_mm / 2 + margin_mm]


def test_small_juxtavascular_share_draws_small_solid_nodules_on_vessels() -> None:
    """At 1, every nodule that found a vessel is a 3-6 mm solid one with vessel right
    beside it (in the same scan without nodules)."""
    ph, bare = _with_share(small_juxtavascular=1.0)
    on_vessel = [n for n in ph.nodules if n.attached_to == "vessel"]
    assert len(on_vessel) >= 2
    for n in on_vessel:
        assert n.type is NoduleType.SOLID and 3.0 <= n.diameter_mm <= 6.5, n
        assert float(_around(bare, ph, n, 1.5).max()) > -300, n  # a vessel at its edge


def test_juxta_airway_share_places_nodules_against_a_bronchus() -> None:
    """At 1, every nodule that found room lies against an airway: the scan without nodules
    has airway lumen (air, under the lung's -810 HU) within the wall's thickness and a
    millimetre of the nodule's edge."""
    ph, bare = _with_share(juxta_airway=1.0)
    on_airway = [n for n in ph.nodules if n.attached_to == "airway"]
    assert len(on_airway) >= 2
    for n in on_airway:
        assert float(_around(bare, ph, n, 3.0).min()) < -950, n  # a lumen beside it


def test_overrides_change_the_scan_not_the_patient(clean: Phantom) -> None:
    thin = make_phantom(21, n_nodules=5, noise_sigma=0.0, slice_thickness=1.0)
    assert thin.spacing[0] == 1.0
    assert len(thin.nodules) == len(clean.nodules)
    for a, b in zip(clean.nodules, thin.nodules, strict=True):
        mm_a = np.array(clean.origin) + np.array([a.z, a.y, a.x]) * clean.spacing
        mm_b = np.array(thin.origin) + np.array([b.z, b.y, b.x]) * thin.spacing
        assert np.allclose(mm_a, mm_b, atol=1e-6)
        assert a.type == b.type and abs(a.diameter_mm - b.diameter_mm) < 1.5


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="slice_thicknes"):
        make_phantom(1, slice_thicknes=1.0)
    with pytest.raises(ValueError, match="profile"):
        make_phantom(1, "huge")


def _mean_diameter(mask: np.ndarray, pixel: float) -> float:
    """Lung-RADS mean diameter (mm) of a 2-D mask: long axis and the extent across it."""
    pts = np.argwhere(mask).astype(float) * pixel
    d = np.linalg.norm(pts[:, None] - pts[None, :], axis=-1)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    u = (pts[j] - pts[i]) / max(d[i, j], 1e-9)
    v = np.array([-u[1], u[0]])
    across = pts @ v
    return 0.5 * (d[i, j] + across.max() - across.min() + 2 * pixel)


def test_nodule_truth_matches_the_rendered_volume(clean: Phantom) -> None:
    assert clean.nodules, "seed 21 was chosen to carry nodules"
    for n in clean.nodules:
        z, y, x = (round(v) for v in (n.z, n.y, n.x))
        centre = float(clean.hu[z, y - 1:y + 2, x - 1:x + 2].mean())
        if n.type is NoduleType.GROUND_GLASS:
            assert -780 < centre < -300, n
        elif n.type is NoduleType.PART_SOLID:  # glass at the centre, the core close by
            assert centre > -780, n
            near = clean.hu[z - 2:z + 3, y - 4:y + 5, x - 4:x + 5]
            assert float(near.max()) > -250, n
        elif n.diameter_mm >= 5:
            assert centre > -350, n
        assert 3.0 <= n.diameter_mm <= 35.5
        if n.type is NoduleType.SOLID:
            assert n.solid_diameter_mm == n.diameter_mm
        elif n.type is NoduleType.GROUND_GLASS:
            assert n.solid_diameter_mm == 0.0
        else:
            assert 0 < n.solid_diameter_mm < n.diameter_mm


@pytest.mark.parametrize("seed", [21, 23])
def test_nodule_diameter_matches_a_measurement_of_the_pixels(seed: int) -> None:
    """Segment each nodule slice by slice and measure it as a reader would.

    The same seed without nodules is the same scan (anatomy, vessels, noise), so the
    difference isolates the nodules even where they touch vessels, airways or the pleura.
    """
    ph = make_phantom(seed, n_nodules=5)
    diff = ph.hu.astype(np.float32) - make_phantom(seed, n_nodules=0).hu
    checked = 0
    for n in ph.nodules:
        if n.diameter_mm < 5:
            continue
        z0, y0, x0 = round(n.z), round(n.y), round(n.x)
        reach = int(n.diameter_mm / ph.spacing[1]) + 4
        # half way from lung to nodule: solid about +30 HU, ground glass -650 to -450
        level = 0.5 * (880 if n.type is NoduleType.SOLID else 200)
        best = 0.0
        for z in range(max(0, z0 - 12), min(ph.hu.shape[0], z0 + 13)):
            win = diff[z, max(0, y0 - reach):y0 + reach, max(0, x0 - reach):x0 + reach]
            labels, _ = ndimage.label(win > level)
            lab = labels[min(y0, reach), min(x0, reach)]
            if lab:  # (a vessel crossing the nodule leaves a hole in the difference)
                blob = ndimage.binary_fill_holes(labels == lab)
                best = max(best, _mean_diameter(blob, ph.spacing[1]))
        assert abs(best - n.diameter_mm) <= max(2 * ph.spacing[1], 0.2 * n.diameter_mm), n
        checked += 1
    assert checked >= 2


def test_lungrads_measurement_of_simple_shapes() -> None:
    sphere = Blob(np.array([[10.0, 0.0, 0.0]]), np.array([5.0]))
    assert lungrads_diameter(sphere, np.arange(0.0, 20.0, 1.0), 0.5) == pytest.approx(10.0)
    # two touching spheres side by side: long axis 20, short 10 -> 15
    pair = Blob(np.array([[10.0, 0.0, -5.0], [10.0, 0.0, 5.0]]), np.array([5.0, 5.0]))
    assert lungrads_diameter(pair, np.arange(0.0, 20.0, 1.0), 0.5) == pytest.approx(15.0)
    # a plane 2 mm off the centre of a sphere: chord 2*sqrt(21)
    assert lungrads_diameter(sphere, np.array([8.0]), 0.5) == pytest.approx(2 * 21**0.5)


def test_crop_and_category(clean: Phantom) -> None:
    assert study_category(clean) is not Category.INCOMPLETE
    first, last = clean.lung_z_range
    top = crop_z(clean, (first + last) // 2, clean.hu.shape[0])
    assert not top.lungs_covered
    assert study_category(top) is Category.INCOMPLETE
    assert all(0 <= n.z < top.hu.shape[0] for n in top.nodules)
    kept = [n for n in clean.nodules if n.z >= (first + last) // 2]
    assert len(top.nodules) == len(kept)
    empty = make_phantom(4, n_nodules=0)
    assert empty.nodules == () and study_category(empty) is Category.NEGATIVE
