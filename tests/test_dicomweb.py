"""DICOMweb source against a real Orthanc: discovery (QIDO-RS), retrieval (WADO-RS), auth,
server down."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, generate_uid

from jobs.ingest.discovery import discover
from jobs.ingest.selection import Policy, Selected, select_series
from jobs.ingest.sources.dicomweb import DicomWebSource
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import load_volume
from kernel.errors import BadInput, RetryableError
from tests.dicom_builders import ct_slice, write_series

pytestmark = pytest.mark.integration

SMALL = Policy(min_slices=3, min_extent_mm=1.0)


def _write_study(root, *, compressed=False):
    study = generate_uid()
    rng = np.random.default_rng(1)
    series = generate_uid()
    paths = []
    for k in range(6):
        pixels = rng.integers(0, 2000, (40, 48)).astype(np.uint16)
        ds = ct_slice(
            study_uid=study,
            series_uid=series,
            z=10.0 - 2 * k,
            pixels=pixels,
            thickness=2.0,
            instance=k + 1,
        )
        if compressed:
            ds = copy.deepcopy(ds)
            ds.compress(JPEG2000Lossless)
        path = root / f"a{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    scout = write_series(
        root / "scout", [0.0], study_uid=study, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")
    )
    return paths + scout


@pytest.mark.parametrize("compressed", [False, True])
def test_discover_select_and_load_match_the_folder(orthanc, tmp_path, compressed):
    paths = _write_study(tmp_path, compressed=compressed)
    assert orthanc.upload(paths) == len(paths)
    web = DicomWebSource(orthanc.dicomweb_url, auth=orthanc.auth, timeout_s=10)
    (study,) = list(discover([web]))
    assert sorted(len(s.headers) for s in study.series) == [1, 6]
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected)
    assert selected.slice_count == 6 and selected.spacing == pytest.approx((2.0, 0.7, 0.7))
    from_web = load_volume(web, selected)

    folder = FolderSource(tmp_path)
    (local,) = list(discover([folder]))
    local_sel = select_series(local, SMALL)
    assert isinstance(local_sel, Selected)
    np.testing.assert_array_equal(from_web.hu, load_volume(folder, local_sel).hu)
    # a selection travels to other processes (Ray) and still loads there
    np.testing.assert_array_equal(
        load_volume(web, pickle.loads(pickle.dumps(selected))).hu, from_web.hu
    )


def test_paging_through_many_studies(orthanc, tmp_path):
    paths = []
    for i in range(5):
        paths += write_series(tmp_path / str(i), [0.0, 1.0])
    orthanc.upload(paths)
    web = DicomWebSource(orthanc.dicomweb_url, auth=orthanc.auth, page_size=2)
    assert len(list(web.scan())) == 10
    assert len(list(discover([web]))) == 5


def test_wrong_credentials_are_bad_input_naming_what_to_set(orthanc):
    web = DicomWebSource(orthanc.dicomweb_url, auth=("lungscreen", "wrong"))
    with pytest.raises(BadInput) as info:
        list(web.scan())
    assert "401" in str(info.value) and "LUNGSCREEN_DICOMWEB_USER" in str(info.value)
    with pytest.raises(BadInput):
        list(DicomWebSource(orthanc.dicomweb_url).scan())


def test_wrong_root_is_bad_input(orthanc):
    with pytest.raises(BadInput, match="DICOMweb root"):
        list(DicomWebSource(orthanc.url + "/nothing-here", auth=orthanc.auth).scan())


def test_server_down_is_retryable_after_retries(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    web = DicomWebSource(
        f"http://127.0.0.1:{port}/dicom-web", attempts=2, backoff_s=0.01, timeout_s=2
    )
    with pytest.raises(RetryableError, match="unavailable after 2 tries"):
        list(web.scan())


def _upload_series(orthanc, folder, slices):
    study, series = generate_uid(), generate_uid()
    pixels = np.random.default_rng(2).integers(0, 2000, (512, 512)).astype(np.uint16)
    folder.mkdir()
    paths = []
    for k in range(slices):
        ds = ct_slice(study_uid=study, series_uid=series, z=-2.0 * k, pixels=pixels,
                      thickness=2.0, instance=k + 1)
        path = folder / f"s{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    assert orthanc.upload(paths) == slices
    return series, pixels.nbytes


def _peak_reading(web, series):
    import tracemalloc

    headers = [h for h in web.scan() if getattr(h, "series_uid", None) == series]
    tracemalloc.start()
    try:
        count = 0
        for _, ds in web.read_instances(headers):
            assert ds.Rows == 512
            count += 1
            del ds
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(headers)
    return peak


def test_a_large_series_streams_in_bounded_memory(orthanc, tmp_path):
    """WADO-RS read instance by instance and dropped: the peak of Python allocations does
    not grow with the series (20 slices vs 80, 10 MB vs 42 MB) and stays a small multiple
    of one read batch (a 64 KiB read plus one 512 KiB slice: the part being read, its copy,
    the decoded instance, and the buffer's growth), far below the 42 MB series a client
    that held the whole answer would need."""
    small, slice_bytes = _upload_series(orthanc, tmp_path / "small", 20)
    large, _ = _upload_series(orthanc, tmp_path / "large", 80)
    web = DicomWebSource(orthanc.dicomweb_url, auth=orthanc.auth, timeout_s=30)
    batch = (1 << 16) + slice_bytes
    peak_small, peak_large = _peak_reading(web, small), _peak_reading(web, large)
    print(f"peak {peak_small} B (20 slices) {peak_large} B (80 slices), batch {batch} B")
    assert peak_large < 1.25 * peak_small + slice_bytes, (peak_small, peak_large)
    assert peak_large < 6 * batch < 80 * slice_bytes / 6, (peak_large, batch)


def test_a_pickled_source_carries_no_credentials_and_reads_its_own_environment(
    orthanc, tmp_path, monkeypatch
):
    from jobs.ingest.sources.factory import open_source
    from jobs.spec.sources import DicomWebSpec, SourceSpec

    paths = _write_study(tmp_path)
    orthanc.upload(paths)
    user, password = orthanc.auth
    monkeypatch.setenv("PACS_U", user)
    monkeypatch.setenv("PACS_P", password)
    entry = SourceSpec(dicomweb=DicomWebSpec(url=orthanc.dicomweb_url, username_env="PACS_U",
                                             password_env="PACS_P"))
    web = open_source(entry, {"PACS_U": user, "PACS_P": password})
    (study,) = list(discover([web]))
    selected = select_series(study, SMALL)
    assert isinstance(selected, Selected)
    # what a Ray task receives: the selection holds its source
    blob = pickle.dumps(selected.for_loading())
    assert password.encode() not in blob
    copy_ = pickle.loads(blob)
    assert copy_.series.source.auth is None
    assert load_volume(copy_.series.source, copy_).hu.shape[0] == 6  # read from this env
    monkeypatch.delenv("PACS_P")
    bare = pickle.loads(blob)
    with pytest.raises(RetryableError, match="PACS_P not set in this worker's environment"):
        load_volume(bare.series.source, bare)
