"""FHIR R4 Bundle per screened study for the programme register: built from the source
headers, parsed back with fhir.resources' R4B models; exported by the authority only,
re-identified with the key, audited. Fixtures and helpers are the SR tests' (the fixtures
imported `x as x`, so that pytest finds them here)."""

from __future__ import annotations

import json
import stat
from decimal import Decimal

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from pydicom.dataset import Dataset

from jobs.clinical import build_bundle
from jobs.clinical.fhir import FhirStudy, bundle_json, fhir_study, patient_system
from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.rounds import NoduleReading, RoundReading
from tests.test_clinical_sr import CAMPAIGN, truth_nodules
from tests.test_clinical_sr import campaign as campaign
from tests.test_clinical_sr import selected as selected

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
PRIVATE = "urn:lungscreen:99LSCR"
LT_CATEGORY = "https://tx.hl7.lt/fhir/CodeSystem/lung-rads-category"


def parse_bundle(data):
    """(bundle, {resource type: [resources]}, {fullUrl: resource}) of a written bundle, read
    back by the R4B models (what an R4 register takes)."""
    bundle = Bundle.model_validate_json(data)
    by_type: dict[str, list] = {}
    by_url = {}
    for entry in bundle.entry:
        by_type.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
        by_url[entry.fullUrl] = entry.resource
    return bundle, by_type, by_url


def codes(concept):
    return {(c.system, c.code) for c in concept.coding}


def components(observation):
    """{(system, code) of each component's code: the component}."""
    return {(c.code.coding[0].system, c.code.coding[0].code): c
            for c in observation.component or ()}


def nodule_observations(by_type):
    return [o for o in by_type["Observation"] if (SNOMED, "786838002") in codes(o.code)]


def category_observations(by_type):
    return [o for o in by_type["Observation"] if (SNOMED, "1362105002") in codes(o.code)]


def references(node):
    """Every Reference.reference anywhere in `node` (a parsed JSON value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def result_for(truth, *, category=Category.SUSPICIOUS_4A, reading=None):
    return StudyResult("s" * 16, "p" * 16, "north", "a", "60-64", "F", Outcome.SCREENED,
                       "lung_nodule_detector", "3", category=category,
                       nodules=truth_nodules(truth), reading=reading)


def test_bundle_validates_with_codes_nodules_category_and_resolving_references(selected):
    sel, first, truth = selected
    result = result_for(truth)
    data = bundle_json(build_bundle(result, fhir_study(first, sel.slices, result),
                                    key_fingerprint="f" * 16))
    bundle, by_type, by_url = parse_bundle(data)

    assert bundle.type == "transaction"
    assert {k: len(v) for k, v in by_type.items()} == {
        "Patient": 1, "ImagingStudy": 1, "Device": 1, "DiagnosticReport": 1,
        "Observation": 1 + len(truth["nodules"])}
    (patient,) = by_type["Patient"]
    assert [i.value for i in patient.identifier] == [first.PatientID]
    (study,) = by_type["ImagingStudy"]
    assert [i.value for i in study.identifier] == [f"urn:oid:{first.StudyInstanceUID}"]
    assert [s.uid for s in study.series] == [sel.series.series_uid]
    (device,) = by_type["Device"]
    assert (device.deviceName[0].name, device.version[0].value) == ("lung_nodule_detector", "3")

    (report,) = by_type["DiagnosticReport"]
    assert report.status == "preliminary"
    assert ("http://loinc.org", "79086-5") in codes(report.code)
    assert {o.status for o in by_type["Observation"]} == {"preliminary"}
    assert {r.reference for r in report.result} == {
        url for url, r in by_url.items() if r.get_resource_type() == "Observation"}

    (category,) = category_observations(by_type)
    assert {(LT_CATEGORY, "4A"), (PRIVATE, "LR-4A")} <= codes(category.valueCodeableConcept)

    nodules = nodule_observations(by_type)
    assert len(nodules) == len(truth["nodules"])
    for obs, n in zip(nodules, truth["nodules"], strict=True):
        parts = components(obs)
        mean, solid = parts[(SNOMED, "255586005")], parts[(PRIVATE, "SOLIDDIAM")]
        for c in (mean, solid):
            assert (c.valueQuantity.system, c.valueQuantity.code) == (UCUM, "mm")
        assert float(mean.valueQuantity.value) == pytest.approx(n["diameter_mm"], abs=1e-4)
        assert float(solid.valueQuantity.value) == pytest.approx(n["solid_diameter_mm"],
                                                                 abs=1e-4)
        assert float(parts[(PRIVATE, "DETPROB")].valueQuantity.value) == pytest.approx(0.9)
        centre = [float(parts[(PRIVATE, f"CENTRE{a}")].valueQuantity.value) for a in "XYZ"]
        assert np.allclose(centre, n["centre_lps_mm"], atol=0.05)
        assert parts[(PRIVATE, "FRAMEUID")].valueString == (
            f"urn:oid:{first.FrameOfReferenceUID}")
        kind = {"solid": "SOLID", "part_solid": "PARTSOLID", "ground_glass": "GGN"}[n["type"]]
        assert (PRIVATE, kind) in codes(obs.valueCodeableConcept)
        assert (PRIVATE, "CHANGE") not in parts  # a first round: nothing to compare with

    refs = list(references(json.loads(data)))
    assert refs and set(refs) <= set(by_url)  # every reference resolves inside the bundle
    entries = json.loads(data)["entry"]
    assert [e["request"]["method"] for e in entries[:2]] == ["POST", "POST"]  # theirs
    assert entries[0]["request"]["ifNoneExist"].endswith(f"|{first.PatientID}")
    assert {e["request"]["method"] for e in entries[2:]} == {"PUT"}  # ours, conditional


def test_second_round_carries_change_and_prior_diameters(selected):
    sel, first, truth = selected
    count = len(truth["nodules"])
    readings = tuple(NoduleReading(Change.GROWN if i == 0 else Change.STABLE,
                                   Category.SUSPICIOUS_4A, prior_diameter_mm=4.0 + i,
                                   prior_solid_diameter_mm=2.0 + i) for i in range(count))
    result = result_for(truth, reading=RoundReading(None, readings))
    data = bundle_json(build_bundle(result, fhir_study(first, sel.slices, result),
                                    key_fingerprint="f" * 16))
    _, by_type, _ = parse_bundle(data)
    for obs, reading in zip(nodule_observations(by_type), readings, strict=True):
        parts = components(obs)
        change = codes(parts[(PRIVATE, "CHANGE")].valueCodeableConcept)
        assert change == ({(SNOMED, "15454001")} if reading.change is Change.GROWN
                          else {(SNOMED, "260388006")})
        prior = parts[(PRIVATE, "PRIORDIAM")].valueQuantity
        assert (prior.value, prior.code) == (Decimal(repr(reading.prior_diameter_mm)), "mm")
        assert parts[(PRIVATE, "PRIORSOLID")].valueQuantity.value == Decimal(
            repr(reading.prior_solid_diameter_mm))



def test_a_readers_decision_makes_the_bundle_final_on_the_confirmed_category(selected):
    from datetime import UTC, datetime

    from jobs.clinical.sr import ReaderVerification

    sel, first, truth = selected
    result = result_for(truth, category=Category.PROBABLY_BENIGN)
    at = datetime(2027, 2, 3, 10, 20, 30, tzinfo=UTC)
    verification = ReaderVerification("lee^ann", at, Category.SUSPICIOUS_4A, rejected=(1,))
    data = bundle_json(build_bundle(result, fhir_study(first, sel.slices, result),
                                    key_fingerprint="f" * 16, verification=verification))
    _, by_type, by_url = parse_bundle(data)
    (report,) = by_type["DiagnosticReport"]
    assert report.status == "final"
    assert [r.display for r in report.resultsInterpreter] == ["lee^ann"]
    (category,) = category_observations(by_type)
    assert category.status == "final"
    assert any(c.code == "LR-4A" for c in category.valueCodeableConcept.coding)
    nodules = nodule_observations(by_type)
    assert [o.status for o in nodules] == ["entered-in-error"] + ["final"] * (len(nodules) - 1)
    listed = {r.reference for r in report.result}
    assert [by_url[u] for u in listed if by_url[u] in nodules[:1]] == []  # withdrawn
    assert len(listed) == len(nodules)  # the category and the nodules kept

def test_same_study_model_and_key_give_the_same_bytes_another_key_other_ids(selected):
    sel, first, truth = selected
    result = result_for(truth)
    study = fhir_study(first, sel.slices, result)
    once, again = (bundle_json(build_bundle(result, study, key_fingerprint="f" * 16))
                   for _ in range(2))
    assert once == again
    other = bundle_json(build_bundle(result, study, key_fingerprint="e" * 16))
    urls = {e["fullUrl"] for e in json.loads(once)["entry"]}
    other_urls = {e["fullUrl"] for e in json.loads(other)["entry"]}
    # the algorithm is the same device under any key; every study resource is another
    assert len(urls & other_urls) == 1
    assert repr(study) == "FhirStudy(<identifiers hidden>)"


def test_patient_id_system_and_search_escapes():
    ds = Dataset()
    assert patient_system(ds) == f"{PRIVATE}:patient-id"
    ds.IssuerOfPatientID = "St Mary's"
    assert patient_system(ds) == f"{PRIVATE}:issuer:St%20Mary%27s"
    qualifier = Dataset()
    qualifier.UniversalEntityID = "1.2.826.0.1.3680043.2"
    qualifier.UniversalEntityIDType = "ISO"
    ds.IssuerOfPatientIDQualifiersSequence = [qualifier]
    assert patient_system(ds) == "urn:oid:1.2.826.0.1.3680043.2"

    result = StudyResult("s" * 16, "p" * 16, "north", "a", "60-64", "F", Outcome.SCREENED,
                         "lung_nodule_detector", "3", category=Category.NEGATIVE)
    study = FhirStudy("A|1,2&x", "urn:oid:1.2", "1.2.3", None, "1.2.3.4", "CT", 10, "", ())
    entries = json.loads(bundle_json(build_bundle(result, study, key_fingerprint="f")))["entry"]
    assert entries[0]["request"]["ifNoneExist"] == "identifier=urn:oid:1.2|A%5C|1%5C%2C2%26x"
    assert entries[0]["resource"]["identifier"][0]["value"] == "A|1,2&x"
    assert "effectiveDateTime" not in json.dumps(entries)  # no date in the source: none here


def _fhir_argv(spec_path, out):
    return ["export", CAMPAIGN, "--format", "fhir", "--out", str(out), "--spec", str(spec_path)]


PHI = ("PatientName", "PatientBirthDate", "PatientAddress", "OtherPatientIDs",
       "PatientTelephoneNumbers", "AccessionNumber", "InstitutionName",
       "ReferringPhysicianName")


def test_export_writes_one_bundle_per_study_re_identified_and_audited(
        campaign, small_cohort, tmp_path, capsys):
    from cli.main import main

    spec_path, spec, truth, results = campaign
    out = tmp_path / "register"
    assert main(_fhir_argv(spec_path, out)) == 0
    printed = capsys.readouterr()
    assert f"FHIR export: {len(results)} bundles written" in printed.out
    files = sorted(out.iterdir())
    assert sorted(p.name for p in files) == sorted(f"{n}.json" for n in
                                                   range(1, len(results) + 1))
    by_study = {t["study_uid"]: t for t in truth.values()}
    headers = {str(ds.StudyInstanceUID): ds for hs in small_cohort.headers.values()
               for _, ds in hs[:1]}
    patient_ids = {str(ds.PatientID) for ds in headers.values()}
    phi = {str(ds.get(k)) for ds in headers.values() for k in PHI if ds.get(k)}
    phi |= {f"{d[:4]}-{d[4:6]}-{d[6:]}" for ds in headers.values()
            if len(d := str(ds.PatientBirthDate)) == 8}
    written = {}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text(encoding="utf-8")
        written[path.name] = path.read_bytes()
        _, by_type, _ = parse_bundle(text)
        (study,) = by_type["ImagingStudy"]
        study_uid = study.identifier[0].value.removeprefix("urn:oid:")
        t, source = by_study[study_uid], headers[study_uid]
        (patient,) = by_type["Patient"]
        assert patient.identifier[0].value == source.PatientID
        assert [p for p in patient_ids if p in text] == [source.PatientID]
        assert [v for v in phi if v in text] == []  # nothing else gains an identity
        assert study.series[0].uid == t["primary_series_uid"]
        (category,) = category_observations(by_type)
        assert (PRIVATE, f"LR-{t['lung_rads']}") in codes(category.valueCodeableConcept)
        assert (LT_CATEGORY, t["lung_rads"]) in codes(category.valueCodeableConcept)
        nodules = nodule_observations(by_type)
        assert [float(components(o)[(SNOMED, "255586005")].valueQuantity.value)
                for o in nodules] == pytest.approx([n["diameter_mm"] for n in t["nodules"]],
                                                   abs=1e-4)

    assert main(_fhir_argv(spec_path, out)) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == written  # byte-identical
    lines = [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]
    assert [(x["event"], x["format"], x["count"], x["not_found"]) for x in lines] == [
        ("fhir_export", "fhir", len(results), 0)] * 2
    printed = capsys.readouterr()
    sinks = printed.out + printed.err + (spec.data_dir / "audit.log").read_text()
    assert [p for p in patient_ids if p in sinks] == []


def test_export_is_refused_without_the_key_or_through_the_service(campaign, tmp_path, capsys):
    from cli.main import main

    spec_path, spec, _, _ = campaign
    out = tmp_path / "register"
    argv = _fhir_argv(spec_path, out)
    assert main([*argv, "--server", "https://lungscreen.example"]) == 2
    assert "--server" in capsys.readouterr().err
    spec.key_path.unlink()  # fail closed: never a fresh key that matches nobody
    assert main(argv) == 2
    assert "pseudonym key" in capsys.readouterr().err
    assert not out.exists() and not spec.key_path.exists()
    assert not (spec.data_dir / "audit.log").exists()
