"""Series selection on hand-built edge cases (not written by synth/)."""

from __future__ import annotations

import math

import pytest
from pydicom.uid import MRImageStorage, SecondaryCaptureImageStorage, generate_uid

from jobs.ingest.dicom.headers import SliceHeader, header_from_dataset
from jobs.ingest.discovery import DiscoveredSeries, DiscoveredStudy
from jobs.ingest.selection import RULES, Policy, Quarantined, Selected, select_series
from jobs.ingest.sources.folder import FolderSource
from kernel.reasons import Reason
from tests.dicom_builders import CORONAL, ct_slice

STUDY = generate_uid()


@pytest.fixture
def source(tmp_path):
    return FolderSource(tmp_path)


def headers(zs, *, series_uid=None, **kwargs) -> tuple[SliceHeader, ...]:
    series_uid = series_uid or generate_uid()
    out = []
    for i, z in enumerate(zs):
        ds = ct_slice(study_uid=STUDY, series_uid=series_uid, z=z, instance=i + 1, **kwargs)
        h = header_from_dataset(ds, f"f{i}", "1.2.840.10008.1.2.1", has_pixel_data=True)
        assert isinstance(h, SliceHeader)
        out.append(h)
    return tuple(out)


def study(source, *series_headers, unreadable=0) -> DiscoveredStudy:
    return DiscoveredStudy(
        STUDY,
        tuple(
            DiscoveredSeries(source, hs[0].series_uid if hs else generate_uid(), hs, unreadable)
            for hs in series_headers
        ),
    )


def zs(n=200, step=1.25, start=-300.0):
    return [start + i * step for i in range(n)]


def quarantined(result) -> Reason:
    assert isinstance(result, Quarantined), result
    return result.reason


def test_rules_are_a_table_of_reasons():
    assert all(isinstance(r.reason, Reason) and r.description for r in RULES)
    assert RULES[0].reason is Reason.NOT_CT


def test_clean_axial_series_is_selected_foot_to_head(source):
    result = select_series(study(source, headers(zs())))
    assert isinstance(result, Selected)
    assert result.slice_count == 200
    assert result.spacing == pytest.approx((1.25, 0.7, 0.7))
    z = [h.position[2] for h in result.slices]
    assert z == sorted(z)


def test_reversed_storage_order_is_sorted_foot_to_head(source):
    result = select_series(study(source, headers(list(reversed(zs())))))
    assert isinstance(result, Selected)
    z = [h.position[2] for h in result.slices]
    assert z == sorted(z)


def test_flipped_normal_orders_by_patient_axis_not_normal(source):
    # row = -x, col = +y: the normal points to the feet; order must still be foot -> head
    flipped = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    result = select_series(study(source, headers(zs(), orientation=flipped)))
    assert isinstance(result, Selected)
    z = [h.position[2] for h in result.slices]
    assert z == sorted(z)


def test_negative_z_positions_are_fine(source):
    result = select_series(study(source, headers(zs(start=-600.0))))
    assert isinstance(result, Selected)


def test_small_oblique_tilt_is_axial_large_tilt_is_not(source):
    def tilted(deg):
        t = math.radians(deg)
        orient = (1.0, 0.0, 0.0, 0.0, math.cos(t), -math.sin(t))
        n = (0.0, math.sin(t), math.cos(t))  # row x col
        pos = [(0.0, n[1] * d, n[2] * d) for d in zs()]
        return [
            header_from_dataset(
                ct_slice(study_uid=STUDY, series_uid=uid, z=0, position=p, orientation=orient),
                "f",
                "1.2.840.10008.1.2.1",
                has_pixel_data=True,
            )
            for uid in [generate_uid()]
            for p in pos
        ]

    assert isinstance(select_series(study(source, tuple(tilted(5)))), Selected)
    assert quarantined(select_series(study(source, tuple(tilted(25))))) is Reason.NO_AXIAL_SERIES


def test_gantry_tilt_tag_is_ignored_geometry_decides(source):
    # positions along z with an orientation tilted 20 degrees: a sheared, tilted stack
    t = math.radians(20)
    orient = (1.0, 0.0, 0.0, 0.0, math.cos(t), -math.sin(t))
    result = select_series(study(source, headers(zs(), orientation=orient)))
    assert quarantined(result) is Reason.NO_AXIAL_SERIES
    assert "deg" in result.detail


def test_coronal_reformat_is_not_axial(source):
    pos = [(-5.0, y, 0.0) for y in zs()]
    uid = generate_uid()
    hs = tuple(
        header_from_dataset(
            ct_slice(
                study_uid=STUDY,
                series_uid=uid,
                z=0,
                position=p,
                orientation=CORONAL,
                image_type=("DERIVED", "SECONDARY", "REFORMATTED"),
            ),
            "f",
            "1.2.840.10008.1.2.1",
            has_pixel_data=True,
        )
        for p in pos
    )
    assert quarantined(select_series(study(source, hs))) is Reason.NO_AXIAL_SERIES


def test_localizer_is_excluded_even_when_axial(source):
    hs = headers(zs(), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    assert quarantined(select_series(study(source, hs))) is Reason.NO_AXIAL_SERIES


def test_localizer_beside_good_series_picks_the_good_one(source):
    scout = headers([0.0], image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"), orientation=CORONAL)
    good = headers(zs())
    result = select_series(study(source, scout, good))
    assert isinstance(result, Selected)
    assert result.series.series_uid == good[0].series_uid
    assert [d.reason for d in result.decisions] == [Reason.NO_AXIAL_SERIES, None]


def test_missing_slice_is_a_gap(source):
    z = zs()
    del z[100]
    assert quarantined(select_series(study(source, headers(z)))) is Reason.SLICE_GAP


def test_duplicate_slice(source):
    z = zs()
    z.insert(50, z[50])
    assert quarantined(select_series(study(source, headers(z)))) is Reason.DUPLICATE_SLICES


def test_mixed_spacing_is_inconsistent(source):
    z = [-300.0 + i * 1.0 for i in range(100)] + [-200.0 + i * 1.25 for i in range(1, 100)]
    assert quarantined(select_series(study(source, headers(z)))) is Reason.INCONSISTENT_SPACING


def test_float_noise_in_positions_is_accepted(source):
    z = [v + (1e-4 if i % 2 else -1e-4) for i, v in enumerate(zs())]
    assert isinstance(select_series(study(source, headers(z))), Selected)


def test_spacing_comes_from_positions_not_tags(source):
    # SliceThickness says 1.0 but slices are 5 mm apart: thick by geometry
    result = select_series(study(source, headers(zs(n=60, step=5.0), thickness=1.0)))
    assert quarantined(result) is Reason.THICK_SLICES


def test_thick_slices(source):
    hs = headers(zs(n=60, step=5.0), thickness=5.0)
    assert quarantined(select_series(study(source, hs))) is Reason.THICK_SLICES


def test_short_coverage(source):
    hs = headers(zs(n=60, step=1.25))
    assert quarantined(select_series(study(source, hs))) is Reason.INCOMPLETE_LUNG_COVERAGE


def test_non_ct_modality_and_sop_class(source):
    mr = headers(zs(), modality="MR", sop_class=MRImageStorage)
    assert quarantined(select_series(study(source, mr))) is Reason.NOT_CT
    sc = headers(zs(), sop_class=SecondaryCaptureImageStorage)
    assert quarantined(select_series(study(source, sc))) is Reason.NOT_CT


def test_single_slice_series(source):
    assert quarantined(select_series(study(source, headers([0.0])))) is Reason.TOO_FEW_SLICES


def test_empty_study_and_empty_series(source):
    assert quarantined(select_series(DiscoveredStudy(STUDY, ()))) is Reason.NO_SERIES
    only_cut = study(source, (), unreadable=3)
    assert quarantined(select_series(only_cut)) is Reason.UNREADABLE_FILE


def test_missing_image_position(source):
    hs = headers(zs(), position=())
    result = select_series(study(source, hs))
    assert quarantined(result) is Reason.NO_AXIAL_SERIES
    assert "ImagePositionPatient" in result.detail


def test_unreadable_slice_quarantines_the_series(source):
    hs = headers(zs())
    result = select_series(study(source, hs, unreadable=1))
    assert quarantined(result) is Reason.UNREADABLE_FILE


def test_thinnest_usable_series_wins(source):
    thick = headers(zs(n=130, step=2.0), thickness=2.0)
    thin = headers(zs(n=350, step=0.625), thickness=0.625)
    result = select_series(study(source, thick, thin))
    assert isinstance(result, Selected)
    assert result.series.series_uid == thin[0].series_uid


def test_most_informative_reason_wins(source):
    scout = headers([0.0], image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    z = zs()
    del z[10]
    gappy = headers(z)
    mr = headers(zs(), modality="MR", sop_class=MRImageStorage)
    assert quarantined(select_series(study(source, mr, scout, gappy))) is Reason.SLICE_GAP


def test_policy_thresholds_are_data(source):
    hs = headers(zs(n=60, step=1.25))
    assert isinstance(select_series(study(source, hs), Policy(min_extent_mm=50)), Selected)


def test_orientation_differs_within_series(source):
    a = headers(zs(n=100), series_uid="1.2.3")
    b = headers(zs(n=100, start=-50.0), series_uid="1.2.3", orientation=CORONAL)
    assert quarantined(select_series(study(source, a + b))) is Reason.NO_AXIAL_SERIES


@pytest.mark.parametrize(("change", "why"), [
    ({"rows": 65535, "columns": 65535}, "65535 x 65535 slices: 8 GiB each once decoded"),
    ({"rows": 2048, "columns": 2048}, "110 x 2048 x 2048 (15 MB of RLE became 1 GB)"),
    ({"frames": 50}, "a multi-frame file where single slices are expected"),
])
def test_header_bombs_are_quarantined_too_large_before_any_pixel_is_decoded(source, change,
                                                                           why):
    import dataclasses

    base = headers(zs(110, step=2.0))
    bomb = tuple(dataclasses.replace(
        h, rows=change.get("rows", h.rows), columns=change.get("columns", h.columns),
        number_of_frames=change.get("frames", h.number_of_frames)) for h in base)
    assert quarantined(select_series(study(source, bomb))) is Reason.TOO_LARGE, why
    assert isinstance(select_series(study(source, base)), Selected)


def test_too_many_slices_or_bytes_are_too_large(source):
    policy = Policy(max_slices=100)
    assert quarantined(select_series(study(source, headers(zs(110, step=2.0))), policy)) \
        is Reason.TOO_LARGE
    small = headers(zs(110, step=2.0))
    rows, cols = small[0].rows, small[0].columns
    tight = Policy(max_decoded_bytes=110 * rows * cols * 2 - 1)
    assert quarantined(select_series(study(source, small), tight)) is Reason.TOO_LARGE
    assert isinstance(select_series(study(source, small),
                                    Policy(max_decoded_bytes=110 * rows * cols * 2)), Selected)
