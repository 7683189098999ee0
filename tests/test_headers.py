"""Header reading never crashes or hangs, on any input."""

from __future__ import annotations

import random
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from jobs.ingest.dicom.headers import FileRejection, SliceHeader, read_header, read_header_bytes
from kernel.reasons import FileReason
from tests.dicom_builders import ct_slice

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
ALL_FILES = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())


def test_there_are_pydicom_test_files():
    assert len(ALL_FILES) > 100


def test_every_pydicom_test_file_yields_a_header_or_a_rejection():
    outcomes = [read_header(p, p.name) for p in ALL_FILES]
    assert all(isinstance(o, SliceHeader | FileRejection) for o in outcomes)
    by_name = dict(zip([p.name for p in ALL_FILES], outcomes, strict=True))
    ct = by_name["CT_small.dcm"]
    assert isinstance(ct, SliceHeader)
    assert ct.modality == "CT" and ct.has_pixel_data and (ct.rows, ct.columns) == (128, 128)
    assert ct.orientation is not None and ct.position is not None
    assert ct.rescale_intercept == pytest.approx(-1024.0)
    cut = by_name["MR_truncated.dcm"]
    assert isinstance(cut, FileRejection) and cut.reason is FileReason.UNREADABLE_FILE
    assert cut.study_uid is not None  # attributed to its study
    assert any(isinstance(o, FileRejection) and o.reason is FileReason.NOT_DICOM for o in outcomes)


@pytest.mark.parametrize("seed", range(3))
def test_files_cut_at_random_points_never_crash(seed):
    rng = random.Random(seed)
    for path in ALL_FILES:
        data = path.read_bytes()
        for _ in range(4):
            cut = rng.randrange(0, len(data) + 1)
            result = read_header_bytes(data[:cut], "x")
            assert isinstance(result, SliceHeader | FileRejection)


def test_cut_inside_pixel_data_is_rejected_with_its_study(tmp_path):
    ds = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), z=0.0)
    ds.save_as(tmp_path / "whole.dcm", enforce_file_format=True)
    data = (tmp_path / "whole.dcm").read_bytes()
    assert isinstance(read_header_bytes(data, "x"), SliceHeader)
    for cut in (len(data) - 1, len(data) - 200, len(data) - 511):
        result = read_header_bytes(data[:cut], "x")
        assert isinstance(result, FileRejection), cut
        assert result.reason is FileReason.UNREADABLE_FILE
        assert result.study_uid == ds.StudyInstanceUID


def test_cut_inside_encapsulated_pixel_data_is_rejected(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 2000, (64, 64)).astype(np.uint16)
    ds = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), z=0.0, pixels=pixels)
    ds.compress(pydicom.uid.RLELossless)
    ds.save_as(tmp_path / "rle.dcm", enforce_file_format=True)
    data = (tmp_path / "rle.dcm").read_bytes()
    assert isinstance(read_header_bytes(data, "x"), SliceHeader)
    result = read_header_bytes(data[: len(data) - 100], "x")
    assert isinstance(result, FileRejection) and result.reason is FileReason.UNREADABLE_FILE


def _deflated_slice(tmp_path: Path) -> tuple[bytes, int]:
    """A CT slice in Deflated Explicit VR Little Endian, and where its deflated dataset starts
    (after the File Meta group, whose length (0002,0000) gives)."""
    ds = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), z=0.0)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "dfl.dcm", enforce_file_format=True)
    data = (tmp_path / "dfl.dcm").read_bytes()
    return data, 144 + int.from_bytes(data[140:144], "little")


def test_a_deflated_file_is_read_and_a_deflate_bomb_rejected(tmp_path):
    data, body = _deflated_slice(tmp_path)
    header = read_header_bytes(data, "x")
    assert isinstance(header, SliceHeader) and header.has_pixel_data
    assert header.transfer_syntax == pydicom.uid.DeflatedExplicitVRLittleEndian
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(squeeze.compress(zeros) for _ in range(257)) + squeeze.flush()
    result = read_header_bytes(data[:body] + bomb, "x")
    assert isinstance(result, FileRejection) and result.reason is FileReason.UNREADABLE_FILE
    assert result.detail == "deflated dataset too large or corrupt"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"hello, this is a text file\n" * 10,
        b"\x7fELF" + b"\0" * 124 + b"DICM",  # an executable with a DICM marker
        b"PK\x03\x04" + b"\0" * 300,
        b"\0" * 128 + b"DICM",
    ],
)
def test_non_dicom_is_rejected(tmp_path, payload):
    path = tmp_path / "file"
    path.write_bytes(payload)
    result = read_header(path, "file")
    assert isinstance(result, FileRejection)
    assert result.reason in {
        FileReason.NOT_DICOM,
        FileReason.UNREADABLE_FILE,
        FileReason.MISSING_STUDY_UID,
    }


def test_huge_declared_length_does_not_allocate(tmp_path):
    # A DICM file whose first element claims a 4 GiB value: the reader must not try to read it
    body = b"\0" * 128 + b"DICM"
    meta_elem = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\0"
    group_len = b"\x02\x00\x00\x00UL\x04\x00" + len(meta_elem).to_bytes(4, "little")
    huge = b"\x08\x00\x20\x00OB\0\0" + (0xFFFFFFF0).to_bytes(4, "little") + b"x" * 100
    path = tmp_path / "huge.dcm"
    path.write_bytes(body + group_len + meta_elem + huge)
    tracemalloc.start()
    result = read_header(path, "huge.dcm")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(result, FileRejection)
    assert peak < 32 << 20


def test_repr_holds_no_identifiers(tmp_path):
    ds = ct_slice(
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        z=0.0,
        patient_id="CANARY-PID",
        institution="CANARY-HOSPITAL",
    )
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    h = read_header(tmp_path / "a.dcm", "secret/path/a.dcm")
    assert isinstance(h, SliceHeader)
    assert h.patient_id == "CANARY-PID" and h.institution == "CANARY-HOSPITAL"
    text = repr(h)
    for secret in ("CANARY", ds.StudyInstanceUID, ds.SOPInstanceUID, "secret/path"):
        assert secret not in text


def test_implicit_vr_and_localizer_flag(tmp_path):
    ds = ct_slice(
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        z=3.0,
        implicit=True,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    ds.save_as(tmp_path / "i.dcm", enforce_file_format=True)
    h = read_header(tmp_path / "i.dcm", "i.dcm")
    assert isinstance(h, SliceHeader)
    assert h.is_localizer and h.position == (-5.0, -5.0, 3.0)
    assert h.transfer_syntax == "1.2.840.10008.1.2"


@pytest.mark.parametrize("seed", range(2))
def test_random_byte_mutations_never_crash(seed):
    rng = random.Random(seed)
    seeds = [p for p in ALL_FILES if p.stat().st_size < 200_000]
    for path in rng.sample(seeds, 40):
        data = bytearray(path.read_bytes())
        for _ in range(5):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 16)):
                pos = rng.randrange(min(len(mutated), 4096)) if mutated else 0
                if mutated:
                    mutated[pos] = rng.randrange(256)
            result = read_header_bytes(bytes(mutated), "x")
            assert isinstance(result, SliceHeader | FileRejection)


def test_a_header_that_takes_too_long_is_a_timeout(tmp_path):
    # 100k tiny private elements before Pixel Data: valid DICOM, slow to walk (seconds)
    ds = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), z=0.0)
    path = tmp_path / "slow.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    pixel = data.rfind(b"\xe0\x7f\x10\x00")
    group9 = b"".join(
        b"\x09\x00" + (0x1000 + i % 0xEF00).to_bytes(2, "little") + b"LO\x00\x00"
        for i in range(100_000)
    )
    path.write_bytes(data[:pixel] + group9 + data[pixel:])
    result = read_header(path, "slow.dcm", cpu_seconds=0.02)
    assert isinstance(result, FileRejection) and result.reason is FileReason.TIMEOUT
    assert "CPU" in result.detail


def test_malformed_phi_values_from_an_archive_are_never_quoted(caplog):
    """A PatientBirthDate that is not a date and an over-long name, as QIDO-RS JSON: pydicom
    used to warn and log "Invalid value for VR DA: '<value>'" on stderr."""
    import logging
    import warnings

    from jobs.ingest.sources.dicomweb import _header_from_json

    canary = "CANARY-7731"
    item = {"00100030": {"vr": "DA", "Value": [canary]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": canary * 10}]},
            "00100020": {"vr": "LO", "Value": [canary + "-ID" * 40]},
            "00080060": {"vr": "CS", "Value": ["CT"]}}
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        _header_from_json(item, "1.2.3", "1.2.3.4")
    assert [str(w.message) for w in seen if canary in str(w.message)] == []
    assert canary not in caplog.text
