"""Volume loading: order by position, rescale to HU, every compressed syntax decodes alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from jobs.ingest.discovery import discover
from jobs.ingest.selection import Policy, Selected, select_series
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import DecodeFailed, load_volume
from kernel.errors import PermanentError
from kernel.reasons import Reason
from tests.dicom_builders import ct_slice

SMALL = Policy(min_slices=3, min_extent_mm=1.0)
SHAPE = (72, 64)  # rows != cols; JPEG 2000 needs >= 32 px for its resolution levels


def stored(z_index: int, signed: bool = False) -> np.ndarray:
    """Distinct stored values per slice and pixel; slice k holds values around 100*k."""
    base = np.arange(SHAPE[0] * SHAPE[1], dtype=np.int32).reshape(SHAPE) % 97
    values = base + 100 * z_index + (-500 if signed else 0)
    return values.astype(np.int16 if signed else np.uint16)


def write(tmp_path, zs, *, syntax=None, slope=1.0, intercept=-1024.0, signed=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    for k, z in enumerate(zs):
        ds = ct_slice(
            study_uid=study,
            series_uid=series,
            z=z,
            pixels=stored(k, signed),
            slope=slope,
            intercept=intercept,
            unsigned=not signed,
            thickness=1.0,
        )
        if syntax is not None:
            ds.compress(syntax)
        ds.save_as(tmp_path / f"{generate_uid()[-12:]}", enforce_file_format=True)
    return FolderSource(tmp_path)


def load(source):
    (study,) = list(discover([source]))
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected), selected
    return load_volume(source, selected)


def test_slices_are_ordered_foot_to_head_whatever_the_file_order(tmp_path):
    zs = [10.0, 9.0, 8.0, 7.0, 6.0]  # slice k written at z = 10 - k: stored head to foot
    vol = load(write(tmp_path, zs))
    assert vol.hu.dtype == np.int16 and vol.hu.shape == (5, *SHAPE)
    assert vol.spacing == pytest.approx((1.0, 0.7, 0.7))
    # foot (z=6) first: that was slice k=4
    means = [float(vol.hu[i].mean()) for i in range(5)]
    assert means == sorted(means, reverse=True)
    np.testing.assert_array_equal(vol.hu[0], stored(4).astype(np.int32) - 1024)


def test_rescale_slope_intercept_and_clipping(tmp_path):
    vol = load(write(tmp_path, [0.0, 1.0, 2.0], slope=2.5, intercept=-1000.0))
    expected = np.rint(stored(0).astype(np.float64) * 2.5 - 1000.0)
    np.testing.assert_array_equal(vol.hu[0], expected.astype(np.int16))


def test_signed_storage(tmp_path):
    vol = load(write(tmp_path, [0.0, 1.0, 2.0], intercept=0.0, signed=True))
    np.testing.assert_array_equal(vol.hu[2], stored(2, signed=True))


def test_values_beyond_int16_are_clipped(tmp_path):
    vol = load(write(tmp_path, [0.0, 1.0, 2.0], slope=1000.0, intercept=0.0))
    assert int(vol.hu.max()) == 32767


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
@pytest.mark.parametrize("signed", [False, True])
def test_compressed_syntaxes_decode_to_the_same_hu(tmp_path, syntax, signed):
    plain = load(write(tmp_path / "plain", [0.0, 1.0, 2.0, 3.0], signed=signed))
    packed = load(write(tmp_path / "packed", [0.0, 1.0, 2.0, 3.0], syntax=syntax, signed=signed))
    np.testing.assert_array_equal(plain.hu, packed.hu)


def test_missing_decoder_names_the_syntax_and_what_to_do(tmp_path):
    source = write(tmp_path, [0.0, 1.0, 2.0], syntax=RLELossless)
    for path in tmp_path.iterdir():  # relabel as a video syntax nothing here decodes
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
        ds.save_as(path)
    with pytest.raises(DecodeFailed) as info:
        load(source)
    assert info.value.reason is Reason.DECODE_FAILED
    assert "MPEG2" in str(info.value) and "1.2.840.10008.1.2.4.100" in str(info.value)


def test_slice_that_changed_size_after_discovery_fails_clearly(tmp_path):
    source = write(tmp_path, [0.0, 1.0, 2.0])
    (study,) = list(discover([source]))
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected)
    victim = tmp_path / selected.slices[1].locator
    ds = pydicom.dcmread(victim)
    small = np.zeros((8, 8), dtype=np.uint16)
    ds.Rows, ds.Columns, ds.PixelData = 8, 8, small.tobytes()
    ds.save_as(victim)
    with pytest.raises(DecodeFailed, match="shape"):
        load_volume(source, selected)


def test_slice_deleted_after_discovery_fails_clearly(tmp_path):
    source = write(tmp_path, [0.0, 1.0, 2.0])
    (study,) = list(discover([source]))
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected)
    (tmp_path / selected.slices[0].locator).unlink()
    with pytest.raises(PermanentError):
        load_volume(source, selected)


def test_files_sharing_a_sop_uid_still_load_each_its_own_slice(tmp_path):
    # buggy writers reuse SOP Instance UIDs; a folder source reads by file, not by UID
    tmp_path.mkdir(parents=True, exist_ok=True)
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    for k, z in enumerate([0.0, 1.0, 2.0]):
        ds = ct_slice(
            study_uid=study, series_uid=series, z=z, pixels=stored(k), thickness=1.0, sop_uid=sop
        )
        ds.save_as(tmp_path / f"f{k}", enforce_file_format=True)
    vol = load(FolderSource(tmp_path))
    for k in range(3):
        np.testing.assert_array_equal(vol.hu[k], stored(k).astype(np.int32) - 1024)


def test_decoder_errors_are_told_apart_from_missing_decoders():
    from jobs.ingest.volume import to_hu

    files = Path(pydicom.__file__).parent / "data" / "test_files"
    broken = pydicom.dcmread(files / "JPEG-lossy.dcm")  # libjpeg rejects its markers
    with pytest.raises(DecodeFailed, match="rejected a slice's pixel data"):
        to_hu(broken, broken.Rows, broken.Columns)
    extended = pydicom.dcmread(files / "JPGExtended.dcm")  # JPEG process 2/4 decodes
    assert to_hu(extended, extended.Rows, extended.Columns).shape == (1024, 256)


def test_a_selection_slimmed_for_loading_loads_the_same_and_holds_no_patient_data(tmp_path):
    import pickle

    source = write(tmp_path, [0.0, 1.0, 2.0])
    (study,) = list(discover([source]))
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected)
    slim = selected.for_loading()
    np.testing.assert_array_equal(load_volume(source, slim).hu, load_volume(source, selected).hu)
    blob = pickle.dumps(slim)
    # the whole birth date: "1955" alone turns up in random UIDs and file names
    assert b"PID-0001" not in blob and b"General Hospital" not in blob
    assert b"19550101" not in blob
    assert len(blob) < len(pickle.dumps(selected))


def test_a_series_split_across_two_sources_is_one_series_and_loads(tmp_path):
    study, series = generate_uid(), generate_uid()
    for k, z in enumerate([0.0, 1.0, 2.0, 3.0]):
        ds = ct_slice(study_uid=study, series_uid=series, z=z, pixels=stored(k), thickness=1.0)
        half = tmp_path / ("a" if k % 2 else "b")
        half.mkdir(exist_ok=True)
        ds.save_as(half / f"f{k}", enforce_file_format=True)
    sources = [FolderSource(tmp_path / "a"), FolderSource(tmp_path / "b")]
    (found,) = list(discover(sources))
    assert len(found.series) == 1
    selected = select_series(found, SMALL)
    assert isinstance(selected, Selected) and selected.slice_count == 4
    vol = load_volume(selected.series.source, selected.for_loading())
    for k in range(4):
        np.testing.assert_array_equal(vol.hu[k], stored(k).astype(np.int32) - 1024)
