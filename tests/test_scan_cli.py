"""`lungscreen scan` end to end: every file and study accounted for, no traceback, no PHI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from cli.main import main
from tests.dicom_builders import write_series

pytestmark = pytest.mark.e2e

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def run_scan(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["scan", *args])
    out, err = capsys.readouterr()
    lines = (
        [json.loads(line) for line in out.splitlines() if line.strip()] if "--json" in args else []
    )
    return code, lines, out + err


def check_accounting(lines: list[dict], root: Path) -> dict:
    files_on_disk = sum(1 for p in root.rglob("*") if p.is_file() or p.is_symlink())
    (summary,) = [x for x in lines if x["type"] == "summary"]
    studies = [x for x in lines if x["type"] == "study"]
    files = [x for x in lines if x["type"] == "file"]
    assert summary["files"] == files_on_disk
    assert summary["files_accepted"] + sum(summary["files_rejected"].values()) == files_on_disk
    assert len(files) == sum(summary["files_rejected"].values())
    assert summary["studies"] == len(studies)
    for s in studies:
        assert (s["outcome"] == "selected") == (s["series"] is not None) == (s["reason"] is None)
    assert all(f["reason"] and len(f["file"]) == 20 for f in files)
    return summary


def test_scan_over_pydicom_test_files(capsys, tmp_path):
    key = str(tmp_path / "key")
    code, lines, text = run_scan(capsys, str(TEST_FILES), "--json", "--key-file", key)
    assert code == 0 and "Traceback" not in text
    summary = check_accounting(lines, TEST_FILES)
    assert summary["files_rejected"]["not_dicom"] > 0
    # no path of the tree, no UID, no patient id in machine output
    out = "\n".join(json.dumps(x) for x in lines)
    assert "dicomdirtests" not in out and "1.2.840.113619" not in out
    ct = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    assert str(ct.PatientID) not in out and str(ct.StudyInstanceUID) not in out


@pytest.mark.parametrize("seed", [0, 1])
def test_scan_over_truncated_copies(capsys, tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / "cut"
    for path in TEST_FILES.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            target = root / path.relative_to(TEST_FILES)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[: rng.randrange(0, len(data) + 1)])
    code, lines, text = run_scan(
        capsys, str(root), "--json", "--key-file", str(tmp_path / "k"), "--workers", str(1 + seed)
    )
    assert code == 0 and "Traceback" not in text
    check_accounting(lines, root)


def test_messy_hand_built_folder(capsys, tmp_path):
    root = tmp_path / "north"
    study = generate_uid()
    series = generate_uid()
    zs = [-300.0 + 1.25 * i for i in range(200)]
    # one study split across two folders, plus a scout and junk
    write_series(
        root / "a",
        zs[:90],
        study_uid=study,
        series_uid=series,
        prefix="x",
        patient_id="CANARY-PID-77",
        institution="CANARY-HOSPITAL",
    )
    write_series(
        root / "b" / "deeper",
        zs[90:],
        study_uid=study,
        series_uid=series,
        prefix="y",
        patient_id="CANARY-PID-77",
        institution="CANARY-HOSPITAL",
    )
    write_series(
        root / "scout",
        [0.0],
        study_uid=study,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        patient_id="CANARY-PID-77",
    )
    (root / "notes.txt").write_text("not dicom")
    gappy = zs[:100] + zs[101:]
    write_series(root / "other", gappy, patient_id="CANARY-PID-78")
    (root / "link").symlink_to("/etc/passwd")
    code, lines, text = run_scan(capsys, str(root), "--json", "--key-file", str(tmp_path / "k"))
    assert code == 0
    summary = check_accounting(lines, root)
    assert summary["files_rejected"] == {"not_dicom": 1, "unreadable_file": 1}
    studies = [x for x in lines if x["type"] == "study"]
    assert sorted(s["outcome"] for s in studies) == ["quarantined", "selected"]
    chosen = next(s for s in studies if s["outcome"] == "selected")
    assert chosen["slices"] == 200 and chosen["spacing"] == [1.25, 0.7, 0.7]
    assert chosen["region"] == "north" and chosen["site"].startswith("site-")
    assert chosen["series_considered"] == 2
    other = next(s for s in studies if s["outcome"] == "quarantined")
    assert other["reason"] == "slice_gap"
    assert "CANARY" not in text and study not in text and series not in text

    # same key, same pseudonyms; the table names rejected files by pseudonymous id only
    # (a real archive's file paths carry PHI)
    code, again, _ = run_scan(capsys, str(root), "--json", "--key-file", str(tmp_path / "k"))
    assert [x for x in again if x["type"] == "study"] == studies
    code, _, table = run_scan(
        capsys, str(root), "--key-file", str(tmp_path / "k"), "--region", "east"
    )
    assert code == 0 and "east" in table and "notes.txt" not in table
    pids = {x["file"] for x in lines if x["type"] == "file"}
    assert pids and all(f"/{pid}: " in table for pid in pids)
    assert "slice_gap" in table and "CANARY" not in table


def test_bad_source_is_exit_2(capsys, tmp_path):
    assert main(["scan", str(tmp_path / "missing"), "--key-file", str(tmp_path / "k")]) == 2
    assert "neither a folder" in capsys.readouterr().err


@pytest.mark.integration
def test_scan_dicomweb_with_credentials_from_env(capsys, tmp_path, orthanc, monkeypatch):
    paths = write_series(tmp_path / "d", [-300.0 + 2.0 * i for i in range(120)], thickness=2.0)
    report = pydicom.dcmread(paths[0])  # a non-image instance of the same study
    for keyword in ("PixelData", "Rows", "Columns"):
        delattr(report, keyword)
    report.SOPInstanceUID = report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    report.SeriesInstanceUID = generate_uid()
    report.save_as(tmp_path / "report.dcm")
    orthanc.upload([*paths, tmp_path / "report.dcm"])
    monkeypatch.setenv("LUNGSCREEN_DICOMWEB_USER", orthanc.auth[0])
    monkeypatch.setenv("LUNGSCREEN_DICOMWEB_PASSWORD", orthanc.auth[1])
    code, lines, _ = run_scan(
        capsys, orthanc.dicomweb_url, "--json", "--key-file", str(tmp_path / "k")
    )
    assert code == 0
    (study,) = [x for x in lines if x["type"] == "study"]
    assert study["outcome"] == "selected" and study["slices"] == 120
    assert study["region"] == "127.0.0.1"
    (rejected,) = [x for x in lines if x["type"] == "file"]
    assert rejected["reason"] == "no_pixel_data"
    code, _, table = run_scan(capsys, orthanc.dicomweb_url, "--key-file", str(tmp_path / "k"))
    assert code == 0 and "no_pixel_data" in table
    assert str(report.StudyInstanceUID) not in table and str(report.SOPInstanceUID) not in table
    monkeypatch.setenv("LUNGSCREEN_DICOMWEB_PASSWORD", "wrong")
    assert main(["scan", orthanc.dicomweb_url, "--key-file", str(tmp_path / "k")]) == 2
    assert "LUNGSCREEN_DICOMWEB_USER" in capsys.readouterr().err


def test_scan_pseudonyms_match_the_campaigns_minimised_records(tmp_path):
    """The scan's study pseudonym is the campaign's; its site is a pseudonymous code of
    the institution, to check the data by before declaring sites (a campaign's record
    carries the declared site, else `other`)."""
    from jobs.ingest.privacy import Pseudonymizer, StudyFields, minimise
    from jobs.ingest.scan import scan
    from jobs.ingest.sources.folder import FolderSource

    write_series(tmp_path / "west", [0.0, 1.0], institution="St Mary")
    pseudonyms = Pseudonymizer(b"k" * 32)
    result = scan([FolderSource(tmp_path / "west")], pseudonyms)
    (line,) = result.studies
    (decision,) = result.decisions
    first = decision.study.first_header
    record = minimise(
        StudyFields(
            patient_id=first.patient_id,
            study_uid=decision.study.study_uid,
            institution=first.institution,
        ),
        region="west",
        pseudonymizer=pseudonyms,
    )
    assert (line.study, line.region, record.site) == (record.study_pid, "west", "other")
    assert line.site == pseudonyms.site("west", "ST MARY")


def test_special_files_are_rejected_not_opened(tmp_path):
    import os

    from jobs.ingest.dicom.headers import read_header
    from jobs.ingest.sources.folder import FolderSource

    write_series(tmp_path / "s", [0.0, 1.0])
    os.mkfifo(tmp_path / "s" / "pipe")  # opening it for reading would block forever
    (tmp_path / "s" / "link").symlink_to(tmp_path / "s" / "s0000.dcm")
    outcomes = {getattr(o, "locator", None): o for o in FolderSource(tmp_path).scan()}
    assert outcomes["s/pipe"].detail == "not a regular file"
    assert outcomes["s/link"].detail == "symbolic link not followed"
    assert read_header(tmp_path / "s" / "pipe", "p").detail == "not a regular file"
    assert read_header(tmp_path / "s" / "link", "l").detail.startswith("cannot read")


def test_parallel_header_reading_gives_the_same_outcomes_in_order(tmp_path):
    from jobs.ingest.sources.folder import FolderSource

    for i in range(3):
        write_series(tmp_path / f"d{i}", [0.0, 1.0, 2.0])
    (tmp_path / "junk").write_text("x")
    serial = list(FolderSource(tmp_path).scan())
    parallel = list(FolderSource(tmp_path, workers=2).scan())
    assert serial == parallel and len(serial) == 10
