"""DICOM SR (TID 1500) per screened study: built from the source headers, parsed back with
highdicom; exported by the authority only, re-identified with the key, audited."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest

from jobs.clinical import build_sr, patient_point
from jobs.clinical.sr import LUNG_RADS, SrIdentity, category_code, sr_uid
from jobs.ingest import discover, select_series
from jobs.ingest.selection import Selected
from jobs.ingest.sources import FolderSource
from kernel.contract import Nodule, NoduleType
from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.rounds import NoduleReading, RoundReading

_TYPES = {"solid": NoduleType.SOLID, "part_solid": NoduleType.PART_SOLID,
          "ground_glass": NoduleType.GROUND_GLASS}


def truth_nodules(study_truth):
    """The truth nodules of a cohort study as the model would report them."""
    return tuple(Nodule(n["z"], n["y"], n["x"], n["diameter_mm"], n["solid_diameter_mm"],
                        _TYPES[n["type"]], 0.9) for n in study_truth["nodules"])


def parse_report(path_or_ds):
    """(report, nodule groups, the study group) of a written SR, read back by highdicom."""
    sr = hd.sr.srread(path_or_ds) if not isinstance(path_or_ds, hd.sr.Comprehensive3DSR) \
        else path_or_ds
    content = sr.content
    return sr, content.get_planar_roi_measurement_groups(), content.get_image_measurement_groups()


@pytest.fixture(scope="module")
def selected(small_cohort):
    """A cohort study with nodules: its selected series and first image."""
    truth = small_cohort.by_study_uid()
    for study in discover([FolderSource(small_cohort.dicom)]):
        if truth[study.study_uid]["nodules"]:
            sel = select_series(study)
            assert isinstance(sel, Selected)
            _, first = next(iter(sel.series.source.read_instances(sel.slices[:1])))
            return sel, first, truth[study.study_uid]
    raise AssertionError("no study with nodules in the small cohort")


def test_voxel_centres_land_on_the_truth_in_patient_coordinates(selected):
    sel, _, truth = selected
    for n in truth["nodules"]:
        point = patient_point(sel.slices, n["z"], n["y"], n["x"])
        assert np.allclose(point, n["centre_lps_mm"], atol=0.05)


def test_report_carries_nodules_category_prior_reading_and_references(selected, tmp_path):
    sel, first, truth = selected
    nodules = truth_nodules(truth)
    readings = tuple(NoduleReading(Change.GROWN if i == 0 else Change.STABLE,
                                   Category.SUSPICIOUS_4A, prior_diameter_mm=4.0 + i)
                     for i in range(len(nodules)))
    result = StudyResult("s" * 16, "p" * 16, "north", "a", "60-64", "F", Outcome.SCREENED,
                         "lung_nodule_detector", "3", category=Category.SUSPICIOUS_4A,
                         nodules=nodules, reading=RoundReading(None, readings))
    identity = SrIdentity(sr_uid("x"), sr_uid("y"))
    ds = build_sr(result, first, sel.slices, identity=identity, key_fingerprint="f" * 16)
    ds.save_as(tmp_path / "1.dcm")

    sr, groups, (study_group,) = parse_report(tmp_path / "1.dcm")
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"
    assert sr.VerificationFlag == "UNVERIFIED" and sr.CompletionFlag == "COMPLETE"
    assert (sr.StudyInstanceUID, sr.PatientID) == (first.StudyInstanceUID, first.PatientID)
    assert sr.SOPInstanceUID == identity.sop_instance_uid
    (scheme,) = sr.CodingSchemeIdentificationSequence
    assert scheme.CodingSchemeDesignator == "99LSCR" and scheme.CodingSchemeName
    (equipment,) = [e for e in sr.ContributingEquipmentSequence if e.Manufacturer == "lungscreen"]
    assert (equipment.ManufacturerModelName, equipment.SoftwareVersions) == (
        "lung_nodule_detector", "3")
    assert equipment.PurposeOfReferenceCodeSequence[0].CodeValue == "109102"  # Processing Equipment
    assert len(groups) == len(nodules)
    for group, n, reading in zip(groups, truth["nodules"], readings, strict=True):
        assert group.roi.frame_of_reference_uid == first.FrameOfReferenceUID
        assert np.allclose(group.roi.value[0], n["centre_lps_mm"], atol=0.05)
        values = {m.name.meaning: m.value for m in group.get_measurements()}
        assert values["Diameter"] == pytest.approx(n["diameter_mm"])
        assert values["Solid component diameter"] == pytest.approx(n["solid_diameter_mm"])
        assert values["Diameter on prior screen"] == pytest.approx(reading.prior_diameter_mm)
        evaluations = {q.name.meaning: q.value.meaning for q in group.get_qualitative_evaluations()}
        assert evaluations["Change since prior screen"] == (
            "Increased size" if reading.change is Change.GROWN else "No change")
    (category,) = study_group.get_qualitative_evaluations(name=LUNG_RADS)
    assert category.value == category_code("4A")
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    (series,) = evidence.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == sel.series.series_uid
    assert sorted(r.ReferencedSOPInstanceUID for r in series.ReferencedSOPSequence) == sorted(
        s.sop_uid for s in sel.slices)



def test_report_carries_the_tracking_uids_it_is_given(selected):
    sel, first, truth = selected
    nodules = truth_nodules(truth)
    result = StudyResult("s" * 16, "p" * 16, "north", "a", "60-64", "F", Outcome.SCREENED,
                         "lung_nodule_detector", "3", category=Category.SUSPICIOUS_4A,
                         nodules=nodules)
    given = [sr_uid("round one", str(i)) for i in range(len(nodules))]
    ds = build_sr(result, first, sel.slices, identity=SrIdentity(sr_uid("x"), sr_uid("y")),
                  key_fingerprint="f" * 16, tracking_uids=given)
    _, groups, _ = parse_report(_reread(ds))
    assert [g.tracking_uid for g in groups] == given
    default = build_sr(result, first, sel.slices, identity=SrIdentity(sr_uid("x"), sr_uid("y")),
                       key_fingerprint="f" * 16)
    assert not {g.tracking_uid for g in parse_report(_reread(default))[1]} & set(given)


def _reread(ds):
    import io

    from jobs.clinical.export import sr_bytes

    return hd.sr.srread(io.BytesIO(sr_bytes(ds)))

CAMPAIGN = "sr-test"


@pytest.fixture
def campaign(small_cohort, tmp_path):
    """A stored campaign over the small cohort: intake for real, results from the truth
    (each study's truth nodules, as voxels of its selected series; its truth category)."""
    from jobs.store import ResultsStore
    from tests.campaign_helpers import own_key_intake

    spec_path, spec, pseudonymizer, intake = own_key_intake(small_cohort.root, tmp_path,
                                                            CAMPAIGN)
    truth = {pseudonymizer.study(t["patient_id"], t["study_uid"]): t for t in small_cohort.truth}
    results = [StudyResult(
        r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex, Outcome.SCREENED,
        "lung_nodule_detector", "1", category=Category.parse(truth[r.study_pid]["lung_rads"]),
        nodules=truth_nodules(truth[r.study_pid])) for r in intake.records.values()]
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign(CAMPAIGN, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results(CAMPAIGN, results + intake.early)
    return spec_path, spec, truth, {r.study_pid: r for r in results}


def test_export_writes_one_report_per_study_on_the_real_study_and_audits(
        campaign, small_cohort, tmp_path, capsys):
    import json
    import stat

    from cli.main import main

    spec_path, spec, truth, results = campaign
    out = tmp_path / "pacs"
    assert main(["export", CAMPAIGN, "--format", "sr", "--out", str(out),
                 "--spec", str(spec_path)]) == 0
    files = sorted(out.iterdir())
    assert [p.name for p in files] == [f"{n}.dcm" for n in range(1, len(results) + 1)]
    by_study = {t["study_uid"]: t for t in truth.values()}
    headers = {str(ds.StudyInstanceUID): ds for hs in small_cohort.headers.values()
               for _, ds in hs[:1]}
    uids = []
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        sr, groups, (study_group,) = parse_report(path)
        t = by_study[sr.StudyInstanceUID]
        source = headers[sr.StudyInstanceUID]
        assert (sr.PatientID, str(sr.PatientName)) == (source.PatientID, str(source.PatientName))
        assert sr.VerificationFlag == "UNVERIFIED"
        assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        assert len(groups) == len(t["nodules"])
        for group, n in zip(groups, t["nodules"], strict=True):
            assert np.linalg.norm(group.roi.value[0] - np.array(n["centre_lps_mm"])) < 2.0
        (category,) = study_group.get_qualitative_evaluations(name=LUNG_RADS)
        assert category.value == category_code(t["lung_rads"])
        (series,) = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
        assert series.SeriesInstanceUID == t["primary_series_uid"]
        referenced = {r.ReferencedSOPInstanceUID for r in series.ReferencedSOPSequence}
        assert referenced == {str(ds.SOPInstanceUID) for _, ds in
                              small_cohort.headers[t["primary_series_uid"]]}
        uids.append(sr.SOPInstanceUID)

    assert main(["export", CAMPAIGN, "--format", "sr", "--out", str(out),
                 "--spec", str(spec_path)]) == 0
    assert [hd.sr.srread(p).SOPInstanceUID for p in sorted(out.iterdir())] == uids
    lines = [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]
    assert [(x["event"], x["count"], x["not_found"]) for x in lines] == [
        ("sr_export", len(results), 0)] * 2
    printed = capsys.readouterr()
    sinks = printed.out + printed.err + (spec.data_dir / "audit.log").read_text()
    assert [ds.PatientID for ds in headers.values() if str(ds.PatientID) in sinks] == []


def test_export_is_refused_without_the_key_or_through_the_service(campaign, tmp_path, capsys):
    from cli.main import main

    spec_path, spec, _, _ = campaign
    out = tmp_path / "pacs"
    argv = ["export", CAMPAIGN, "--format", "sr", "--out", str(out), "--spec", str(spec_path)]
    assert main([*argv, "--server", "https://lungscreen.example"]) == 2
    assert "--server" in capsys.readouterr().err
    spec.key_path.unlink()  # fail closed: never a fresh key that matches nobody
    assert main(argv) == 2
    assert "pseudonym key" in capsys.readouterr().err
    assert not out.exists() and not spec.key_path.exists()
