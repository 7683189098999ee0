"""The DICOM cohort writer: real, readable DICOM with the truth it claims, PHI, defects."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from kernel.errors import BadInput
from synth.cohort import write_cohort
from synth.dicom_writer import VENDORS, SeriesInfo, SliceOut, StudyInfo, write_series
from synth.people import PHI_FIELDS, Site, make_identity
from synth.phantom import make_phantom
from synth.plan import DEFECTS
from tests.cohorts import Cohort, assert_selected_as_planned

CT = "1.2.840.10008.5.1.4.1.1.2"
AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
PHI = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName",
       "InstitutionAddress", "ReferringPhysicianName", "PatientAddress", "OtherPatientIDs",
       "StationName", "OperatorsName")


def _hu(ds) -> np.ndarray:
    return (ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope)
            + int(float(ds.RescaleIntercept))).astype(np.int16)


def _primary(cohort: Cohort, study: dict) -> list:
    """(path, header) of the primary series' readable files, foot to head."""
    files = cohort.headers[study["primary_series_uid"]]
    return sorted(files, key=lambda f: float(f[1].ImagePositionPatient[2]))


def test_layout_truth_and_summary(small_cohort: Cohort) -> None:
    assert not any(small_cohort.dicom.rglob("*.json*"))  # truth never inside the tree
    assert len(small_cohort.truth) == 6
    assert small_cohort.meta["regions"] == {"north": 3, "south": 3}
    assert small_cohort.meta["args"]["seed"] == 7
    assert [t["index"] for t in small_cohort.truth] == list(range(6))
    for t in small_cohort.truth:
        assert (small_cohort.dicom / t["region"] / t["site"]).is_dir()
        assert t["expected"] == {"selected": True, "reason": None}
        assert 50 <= t["age"] <= 80 and t["sex"] in ("M", "F")
        assert t["lung_rads"] in ("1", "2", "3", "4A", "4B")


def test_files_are_ct_with_the_geometry_of_the_truth(small_cohort: Cohort) -> None:
    for t in small_cohort.truth:
        files = _primary(small_cohort, t)
        depth, rows, cols = t["shape"]
        dz, dy, dx = t["spacing"]
        assert len(files) == depth
        zs = np.array([float(ds.ImagePositionPatient[2]) for _, ds in files])
        assert np.allclose(np.diff(zs), dz, atol=1e-3)
        first = files[0][1]
        assert np.allclose([float(v) for v in first.ImagePositionPatient],
                           t["first_slice_lps_mm"], atol=1e-3)
        for path, ds in files[:: max(1, depth // 7)]:
            assert path.read_bytes()[128:132] == b"DICM"
            assert ds.SOPClassUID == CT and ds.Modality == "CT"
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            assert [float(v) for v in ds.ImageOrientationPatient] == AXIAL
            assert np.allclose([float(v) for v in ds.PixelSpacing], [dy, dx], atol=1e-5)
            assert float(ds.SliceThickness) == pytest.approx(dz)
            assert (ds.Rows, ds.Columns) == (rows, cols)
            assert ds.BodyPartExamined == "CHEST" and ds.BitsAllocated == 16
            assert ds.StudyInstanceUID == t["study_uid"]
            assert ds.ConvolutionKernel and float(ds.KVP) >= 100
        for n in t["nodules"]:
            lps = np.array(t["first_slice_lps_mm"]) + np.array([n["x"] * dx, n["y"] * dy,
                                                                n["z"] * dz])
            assert np.allclose(lps, n["centre_lps_mm"], atol=0.01)


def test_uids_are_unique(small_cohort: Cohort) -> None:
    sops = [ds.SOPInstanceUID for files in small_cohort.headers.values() for _, ds in files]
    assert len(sops) == len(set(sops))
    studies = {t["study_uid"] for t in small_cohort.truth}
    assert len(studies) == 6 and len(small_cohort.headers) == 6


def test_pixels_are_the_phantom_exactly(small_cohort: Cohort) -> None:
    """Decoded DICOM == make_phantom(seed) voxel for voxel, for one study per syntax."""
    seen: set[str] = set()
    for t in small_cohort.truth:
        if t["transfer_syntax"] in seen:
            continue
        seen.add(t["transfer_syntax"])
        files = _primary(small_cohort, t)
        ph = make_phantom(t["phantom_seed"], t["profile"])
        for k in (0, len(files) // 2, len(files) - 1):
            ds = dcmread(files[k][0])
            assert ds.file_meta.TransferSyntaxUID == t["transfer_syntax_uid"]
            assert np.array_equal(_hu(ds), ph.hu[k])


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                                    RLELossless, JPEG2000Lossless, JPEGLSLossless])
@pytest.mark.parametrize("vendor", range(len(VENDORS)))
def test_every_syntax_and_vendor_round_trips(tmp_path: Path, syntax, vendor: int) -> None:
    rng = np.random.default_rng(vendor)
    hu = rng.integers(-1024, 3072, size=(2, 32, 48)).astype(np.int16)
    hu[0, 0, :4] = (-1024, 3071, 0, -1)
    site = Site("north", "north-1", "Test Hospital", "1 Road, Town", "CTX", "N1", 0)
    study = StudyInfo("2.25.1", "2.25.2", make_identity(rng, site, 0), VENDORS[vendor], syntax,
                      120.0, 30.0, "B", "FFS")
    series = SeriesInfo("2.25.3", 2, "AX", 2.0, (0.7, 0.7))
    paths = [tmp_path / f"{k}.dcm" for k in range(2)]
    write_series(study, series, [SliceOut(p, hu[k], (0.0, 0.0, 2.0 * k), k + 1)
                                 for k, p in enumerate(paths)])
    for k, p in enumerate(paths):
        ds = dcmread(p)
        assert ds.file_meta.TransferSyntaxUID == syntax
        assert np.array_equal(_hu(ds), hu[k])
        again = io.BytesIO()  # the fast writer writes exactly what pydicom would
        ds.save_as(again, enforce_file_format=True)
        assert again.getvalue() == p.read_bytes()


def test_phi_fields_are_filled_in_every_file(small_cohort: Cohort) -> None:
    for t in small_cohort.truth:
        files = _primary(small_cohort, t)
        for _, ds in files[:: max(1, len(files) // 5)]:
            for field in PHI:
                assert str(ds.get(field, "")).strip(), field
            assert ds.PatientID == t["patient_id"] and ds.PatientSex == t["sex"]
            assert ds.PatientAge == f"{t['age']:03d}Y"
            born, seen = int(ds.PatientBirthDate[:4]), int(ds.StudyDate[:4])
            assert seen - born - 1 <= t["age"] <= seen - born


def test_canaries_are_in_every_phi_field(tmp_path: Path) -> None:
    write_cohort(tmp_path, studies=2, regions=1, seed=3, profile="tiny", canary=True, workers=1)
    canaries = json.loads((tmp_path / "canaries.json").read_text())
    assert [c["index"] for c in canaries] == [0, 1]
    tokens = {v for c in canaries for k, v in c["fields"].items() if k in PHI_FIELDS}
    assert all("CANARY-" in v for v in tokens) and len(tokens) == 2 * len(PHI_FIELDS)
    files = sorted(p for p in (tmp_path / "dicom").rglob("*") if p.is_file())
    for c in canaries:
        mine = [p for p in files if c["fields"]["AccessionNumber"].encode() in p.read_bytes()]
        assert mine, "every study's files carry its canaries"
        ds = dcmread(mine[0], stop_before_pixels=True)
        for field in PHI_FIELDS:
            assert str(ds.get(field)) == c["fields"][field]
        assert ds.PatientBirthDate == c["fields"]["PatientBirthDate"]


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "cohort.json":  # cohort.json records the arguments
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    args = {"studies": 4, "regions": 2, "seed": 5, "profile": "tiny", "defects": True,
            "defect_share": 1.0}
    write_cohort(tmp_path / "one", workers=1, **args)
    write_cohort(tmp_path / "two", workers=2, **args)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    other = write_cohort(tmp_path / "other", workers=1, **{**args, "seed": 6})
    assert _digest(tmp_path / "one") != _digest(other.out)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="studies"):
        write_cohort(tmp_path, studies=0, regions=1, seed=1)
    with pytest.raises(BadInput, match="regions"):
        write_cohort(tmp_path, studies=2, regions=3, seed=1)
    with pytest.raises(BadInput, match="profile"):
        write_cohort(tmp_path, studies=2, regions=1, seed=1, profile="huge")


def test_every_defect_kind_once_with_its_expected_outcome(defect_cohort: Cohort) -> None:
    kinds = [d["kind"] for t in defect_cohort.truth for d in t["defects"]]
    assert sorted(kinds) == sorted(DEFECTS)
    for t in defect_cohort.truth:
        if t["defects"]:
            selected, reason = DEFECTS[t["defects"][0]["kind"]]
            assert t["expected"] == {"selected": selected,
                                     "reason": reason.value if reason else None}
        else:
            assert t["expected"] == {"selected": True, "reason": None}


def _steps(files: list) -> np.ndarray:
    return np.diff([float(ds.ImagePositionPatient[2]) for _, ds in files])


def test_defects_are_in_the_files(defect_cohort: Cohort) -> None:
    checked = set()
    for t in defect_cohort.truth:
        if not t["defects"]:
            continue
        kind = t["defects"][0]["kind"]
        files = _primary(defect_cohort, t)
        dz = t["spacing"][0]
        study_series = {uid: f for uid, f in defect_cohort.headers.items()
                        if f[0][1].StudyInstanceUID == t["study_uid"]}
        if kind == "slice_gap":
            assert np.isclose(_steps(files), 2 * dz).sum() == 1
        elif kind == "duplicate_slices":
            assert np.isclose(_steps(files), 0.0).sum() == 1
        elif kind == "inconsistent_spacing":
            steps = _steps(files)
            assert np.isclose(steps, dz).sum() > 10 and np.isclose(steps, 2 * dz).sum() > 10
        elif kind == "thick_slices":
            assert float(files[0][1].SliceThickness) == 5.0
        elif kind == "incomplete_lung_coverage":
            assert len(files) * dz < 200.0
        elif kind == "not_ct":
            assert files[0][1].Modality == "MR" and files[0][1].SOPClassUID != CT
        elif kind == "truncated_file":
            path = defect_cohort.root / t["defects"][0]["files"][0]
            ds = dcmread(path, force=True)
            with pytest.raises(Exception):  # noqa: B017 - any decoder error will do
                _ = ds.pixel_array
        elif kind == "non_dicom_file":
            path = defect_cohort.root / t["defects"][0]["files"][0]
            assert path.is_file() and path.read_bytes()[128:132] != b"DICM"
        elif kind == "scout":
            scouts = [f for f in study_series.values() if "LOCALIZER" in f[0][1].ImageType]
            assert len(scouts) == 1 and len(scouts[0]) == 1
        elif kind == "coronal_reformat":
            coronal = [f for f in study_series.values()
                       if [float(v) for v in f[0][1].ImageOrientationPatient] != AXIAL]
            assert len(coronal) == 1 and len(coronal[0]) > 20
        elif kind == "split_folders":
            assert len({p.parent for p, _ in files}) == 2
            # one series in two folders: its instances stay distinct, as in an archive
            sops = [ds.SOPInstanceUID for _, ds in files]
            numbers = sorted(int(ds.InstanceNumber) for _, ds in files)
            assert len(set(sops)) == len(sops)
            assert numbers == list(range(1, len(files) + 1))
        elif kind == "thin_and_thick":
            thick = {uid: float(f[0][1].SliceThickness) for uid, f in study_series.items()}
            assert len(thick) == 2 and thick[t["primary_series_uid"]] == min(thick.values())
        checked.add(kind)
    assert checked == set(DEFECTS)


def test_the_projects_selector_agrees_with_the_truth(defect_cohort: Cohort) -> None:
    """What `expected` claims is what jobs.ingest.selection decides (the ingest's rules)."""
    from jobs.ingest.discovery import discover
    from jobs.ingest.sources.folder import FolderSource

    rejected: dict[str, str] = {}

    def on_file(outcome) -> None:
        if outcome.reason is not None:
            rejected[outcome.locator] = outcome.reason.value

    truth = defect_cohort.by_study_uid()
    studies = list(discover([FolderSource(defect_cohort.dicom)], on_file=on_file))
    assert {s.study_uid for s in studies} == set(truth)
    assert_selected_as_planned(studies, truth)
    expected_rejects = {r["path"].removeprefix("dicom/"): r["reason"]
                        for t in defect_cohort.truth for r in t["rejected_files"]}
    assert rejected == expected_rejects


def test_cli_writes_a_cohort_and_refuses_bad_input(tmp_path: Path, capsys) -> None:
    from cli.main import main

    code = main(["synth", "--out", str(tmp_path / "c"), "--studies", "2", "--regions", "1",
                 "--seed", "4", "--profile", "tiny", "--workers", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "wrote 2 studies" in out and "ground truth" in out
    assert len((tmp_path / "c" / "ground_truth.jsonl").read_text().splitlines()) == 2
    assert main(["synth", "--out", str(tmp_path / "d"), "--studies", "0"]) == 2
    assert "--studies" in capsys.readouterr().err
