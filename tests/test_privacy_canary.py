"""PHI canary: unique strings planted in every PHI field of a small cohort must not appear
in anything the project prints, logs or writes, through scan, intake (discovery,
selection, minimisation, opt-out), volume loading, planning, the results store, reports and
the service's pages and downloads."""

from __future__ import annotations

import logging
import os
import pickle
import secrets
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from jobs.ingest.intake import take_in
from jobs.ingest.privacy import LocatorSeal, OptOutList, Pseudonymizer, load_or_create_key
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import load_volume
from jobs.release import measure_increment
from jobs.run.lifecycle import shard_work
from jobs.run.planning import plan_shards
from jobs.run.worker import load_study
from jobs.service import ServiceConfig
from jobs.spec.campaign_spec import parse_spec
from jobs.store import ResultsStore
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.roles import Role
from tests.dicom_builders import ct_slice
from tests.page_helpers import sign_in
from tests.service_helpers import running_service
from tests.store_helpers import audit_key, token_key


def _tag(n: int = 8) -> str:
    return "CNRY" + secrets.token_hex(n // 2).upper()


def _uid_root() -> str:
    return "1.2.826.0.1.3680043.10." + str(secrets.randbelow(10**12) + 10**11)


class Canaries:
    """One unique value per PHI field per patient; `all` lists what must never leak."""

    def __init__(self) -> None:
        self.all: list[str] = []

    def add(self, value: str) -> str:
        self.all.append(value)
        return value


def _write_study(root: Path, canaries: Canaries, slices: int, birth: str, seen: str) -> str:
    patient_id = canaries.add(_tag(12))
    study_uid = canaries.add(_uid_root() + ".1")
    series_uid = canaries.add(_uid_root() + ".2")
    sop_root = canaries.add(_uid_root() + ".3.")
    frame_uid = canaries.add(_uid_root() + ".4")
    fields = {
        "PatientName": f"{canaries.add(_tag())}^{canaries.add(_tag())}",
        "OtherPatientIDs": canaries.add(_tag(10)),
        "PatientAddress": canaries.add(_tag(10)) + " Canary Street",
        "PatientTelephoneNumbers": canaries.add("+44" + str(secrets.randbelow(10**9) + 10**8)),
        "AccessionNumber": canaries.add(_tag()),
        "InstitutionAddress": canaries.add(_tag(10)) + " Hospital Road",
        "ReferringPhysicianName": canaries.add(_tag()),
        "PerformingPhysicianName": canaries.add(_tag()),
        "OperatorsName": canaries.add(_tag()),
        "StationName": canaries.add(_tag()),
        "DeviceSerialNumber": canaries.add(_tag()),
        "StudyID": canaries.add(_tag()),
        "StudyDescription": canaries.add(_tag(10)),
        "SeriesDescription": canaries.add(_tag(10)),
        "InstitutionalDepartmentName": canaries.add(_tag(10)),
        "PatientComments": canaries.add(_tag(10)),
        "PatientBirthDate": canaries.add(birth),
        "StudyDate": canaries.add(seen),
        "FrameOfReferenceUID": frame_uid,
    }
    institution = canaries.add(_tag(10)) + " Infirmary"
    folder = root / canaries.add("patient-" + _tag())  # folder names can hold PHI too
    folder.mkdir(parents=True)
    pixels = np.full((16, 16), 1024 - 850 + 1024 // 2, dtype=np.uint16)
    for i in range(slices):
        ds = ct_slice(
            study_uid=study_uid,
            series_uid=series_uid,
            z=2.0 * i,
            pixels=pixels,
            thickness=2.0,
            patient_id=patient_id,
            institution=institution,
            instance=i + 1,
            sop_uid=f"{sop_root}{i + 1}",
        )
        for keyword, value in fields.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / f"{canaries.add(_tag())}.dcm", enforce_file_format=True)
    return patient_id


def _served_pages(store_url: str, campaign: str) -> dict[str, str]:
    """Every page and download of `campaign` over a running service (one measured
    increment), as an analyst (the sign-in form, then its session) and as the authority."""
    got: dict[str, str] = {}
    with ResultsStore.open(store_url, audit_key=audit_key()) as store:
        assert measure_increment(store, campaign) is not None
        tokens = {r: store.create_token(f"canary-{r.value}", r, key=token_key())
                  for r in (Role.ANALYST, Role.AUTHORITY)}
        with running_service(ServiceConfig(store, token_key=token_key())) as svc:
            browser = sign_in(svc.url, tokens[Role.ANALYST])
            paths = ["/", "/campaigns", *(f"/campaigns/{campaign}?by={by}" for by in
                                          ("region,site,age_band,sex", "age_band,sex"))]
            paths += [f"/api/v1/campaigns/{campaign}/report?by=region,site,age_band,sex"
                      f"&format={fmt}" for fmt in ("csv", "json", "html")]
            for path in paths:
                page = browser.get(svc.url + path, timeout=30)
                assert page.status_code == 200, (path, page.status_code)
                got[f"page {path}"] = page.text
            assert "north" in got[f"page /campaigns/{campaign}?by=region,site,age_band,sex"]
            for by in ("region,site,age_band,sex", "region"):
                exact = svc.call("GET", f"/campaigns/{campaign}/exact?by={by}",
                                 tokens[Role.AUTHORITY])
                assert exact.status_code == 200
                got[f"exact page by {by}"] = exact.text
        got["audit"] = repr([e.detail for e in store.events()])
    return got


@pytest.mark.slow
def test_no_canary_leaves_ingest(tmp_path: Path, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    canaries = Canaries()
    cohort = tmp_path / "cohort"
    screened = _write_study(cohort, canaries, 101, "19230517", "20011122")
    _write_study(cohort, canaries, 101, "19380209", "20020304")  # opted out below
    _write_study(cohort, canaries, 6, "19410707", "20030405")  # too few slices
    stray = cohort / canaries.add("notes-" + _tag() + ".txt")
    stray.write_text("not DICOM " + canaries.add(_tag()))
    data = tmp_path / "data"

    # 1. the CLI: lungscreen scan --json
    assert main(["scan", str(cohort), "--json", "--key-file", str(data / "key")]) == 0
    scan_out = capsys.readouterr()
    assert '"outcome": "selected"' in scan_out.out
    # and its table (it named rejected files by path; the stray file's name is a canary)
    assert main(["scan", str(cohort), "--key-file", str(data / "key")]) == 0
    scan_table = capsys.readouterr()
    assert "REJECTED FILES" in scan_table.out

    # 2. intake: discovery, selection, minimisation, opt-out (the second patient)
    ids = [c for c in canaries.all if c.startswith("CNRY") and len(c) == 16]
    opted_out_id = ids[1] if ids[0] == screened else ids[0]
    assert opted_out_id != screened
    inputs = tmp_path / "inputs"  # written by the test, like the cohort: not a sink
    inputs.mkdir()
    (inputs / "opt-out.txt").write_text(f"# opted out\n{opted_out_id}\n")
    spec = parse_spec(
        {
            "id": "canary",
            "data_dir": str(data),
            "privacy": {"opt_out": str(inputs / "opt-out.txt")},
            "regions": [{"name": "north", "sources": [{"folder": str(cohort)}]}],
        }
    )
    pseudonymizer = Pseudonymizer(load_or_create_key(spec.key_path))
    opt_out = OptOutList.load(spec.privacy.opt_out, pseudonymizer)
    intake = take_in(spec, pseudonymizer, opt_out, env={})
    assert len(intake.records) == 1
    assert sorted(r.outcome for r in intake.early) == [Outcome.OPTED_OUT, Outcome.QUARANTINED]

    # 3. volume loading of the selected series
    ((pid, selected),) = intake.locators.items()
    volume = load_volume(FolderSource(cohort), selected)
    assert volume.hu.shape == (101, 16, 16)

    # 4. planning and a store write (SQLite in the data folder)
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign("canary", spec_digest="d", model_name="m", model_version="1")
        store.commit_results("canary", intake.early)
        shards = list(plan_shards(intake.records.values(), spec.shard_size, tmp_dir=data))
        store.record_plan("canary", shards)
        # what a Ray task's arguments hold (pickled into the object store): sealed locators
        seal = LocatorSeal(load_or_create_key(spec.key_path), spec.key_path)
        tasks = list(shard_work("canary", store, intake, seal))
        rec = intake.records[pid]
        result = StudyResult(
            rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band, rec.sex,
            Outcome.SCREENED, "m", "1", category=Category.NEGATIVE, timings={"load": 0.1},
        )  # fmt: skip
        assert store.commit_shard("canary", shards[0].shard_id, [result])
        stored = list(store.results("canary"))
    task_args = pickle.dumps(tasks)
    sent = pickle.loads(task_args)[0].studies[0]
    assert load_study(sent.locator).hu.shape == (101, 16, 16)  # opened with the node's key
    assert {r.age_band for r in stored} == {"75-79", "60-64"}  # 78, 64 and 61 years old

    # 5. the report in every format, Parquet read back (it is compressed on disk)
    import pyarrow.parquet as pq

    from jobs.report.build import campaign_report
    from jobs.report.formats import FORMATS, render, to_parquet

    with ResultsStore.open(spec.store_url) as store:
        report = campaign_report(store, "canary", by=("region", "site", "age_band", "sex"))
    for fmt in FORMATS:
        (data / f"report.{fmt}").write_text(render(report, fmt))
    to_parquet(report, data / "report.parquet")
    parquet_rows = repr(pq.read_table(data / "report.parquet").to_pylist())

    # 6. the service's pages and downloads, as an analyst and as the authority
    pages = _served_pages(spec.store_url, "canary")

    # 7. the authority's clinical export: identities by design, in its folder only
    from jobs.clinical import export_fhir, export_sr
    from jobs.spec import open_spec_store

    pacs, register = tmp_path / "pacs", tmp_path / "register"
    with open_spec_store(spec, os.environ, create=False) as store:
        assert export_sr(spec, store, out=pacs, operator="authority", env={}).count == 1
        assert export_fhir(spec, store, out=register, operator="authority", env={}).count == 1
    for folder in (pacs, register):  # the person's own study, by design
        (report_file,) = folder.iterdir()
        assert screened.encode() in report_file.read_bytes()
    out = capsys.readouterr()

    # every sink: printed text, log records (formatted), every file written outside the cohort
    sinks = {
        "scan stdout": scan_out.out,
        "scan stderr": scan_out.err,
        "scan table": scan_table.out + scan_table.err,
        "parquet rows": parquet_rows,
        **pages,
        "task arguments": task_args.decode("latin-1"),
        "stdout": out.out,
        "stderr": out.err,
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
        "objects": repr(stored) + repr(shards) + repr(intake.records) + repr(intake.early),
    }
    written = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and cohort not in p.parents and inputs not in p.parents
        and pacs not in p.parents and register not in p.parents
    ]
    assert any(p.name == "results.db" for p in written)
    for path in written:
        sinks[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    for canary in canaries.all:
        for where, text in sinks.items():
            assert canary not in text, f"a PHI canary leaked into {where}"


@pytest.mark.slow
def test_no_synth_canary_leaves_ingest(tmp_path: Path, capsys, caplog) -> None:
    """The same, over a synthetic cohort written in canary mode (with defects, so
    quarantined studies and rejected files are on the path too)."""
    import json

    from tests.cohorts import build_cohort

    caplog.set_level(logging.DEBUG)
    cohort = build_cohort(studies=6, regions=2, seed=5, profile="tiny", defects=True,
                          defect_share=0.5, canary=True)  # fmt: skip
    planted = json.loads((cohort.root / "canaries.json").read_text())
    canaries = sorted({v for study in planted for v in study["fields"].values() if v})
    assert len(canaries) > 6 * 10
    regions = sorted(p for p in cohort.dicom.iterdir() if p.is_dir())
    data = tmp_path / "data"

    for region in regions:
        assert main(["scan", str(region), "--json", "--key-file", str(data / "key")]) == 0
    scan_out = capsys.readouterr()

    spec = parse_spec(
        {
            "id": "synth-canary",
            "data_dir": str(data),
            "regions": [{"name": r.name, "sources": [{"folder": str(r)}]} for r in regions],
        }
    )
    pseudonymizer = Pseudonymizer(load_or_create_key(spec.key_path))
    intake = take_in(spec, pseudonymizer, OptOutList(pseudonymizer), env={})
    assert intake.records and intake.early  # some screened, some quarantined
    by_region = {r.name: FolderSource(r) for r in regions}
    errors = []  # error messages are a sink too; the worker quarantines on these
    for pid, selected in intake.locators.items():
        try:
            load_volume(by_region[intake.records[pid].region], selected)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign("synth-canary", spec_digest="d", model_name="m",
                              model_version="1")  # fmt: skip
        store.commit_results("synth-canary", intake.early)
        shards = list(plan_shards(intake.records.values(), spec.shard_size, tmp_dir=data))
        store.record_plan("synth-canary", shards)
        for shard in shards:
            recs = [intake.records[p] for p in shard.study_pids]
            store.commit_shard("synth-canary", shard.shard_id, [
                StudyResult(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex,
                            Outcome.SCREENED, "m", "1", category=Category.NEGATIVE)
                for r in recs])  # fmt: skip
        stored = list(store.results("synth-canary"))
    assert len(stored) == len(intake.records) + len(intake.early)
    out = capsys.readouterr()
    sinks = {
        "scan stdout": scan_out.out,
        "scan stderr": scan_out.err,
        "stdout": out.out + out.err,
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
        "objects": repr(stored) + repr(shards) + repr(intake.records) + repr(intake.early),
        "errors": "\n".join(errors),
    }
    for path in tmp_path.rglob("*"):
        if path.is_file():
            sinks[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    assert any(name.endswith("results.db") for name in sinks)
    for canary in canaries:
        for where, text in sinks.items():
            assert canary not in text, f"a PHI canary leaked into {where}"
