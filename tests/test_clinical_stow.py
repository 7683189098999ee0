"""The SRs sent to a real Orthanc with STOW-RS: stored under the person's study, found again
with QIDO-RS, parsed back to the same findings; re-running sends nothing twice; credentials
from the environment; every send audited."""

from __future__ import annotations

import json
import socket

import highdicom as hd
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from cli.main import main
from jobs.clinical.sr import LUNG_RADS, category_code
from tests.test_clinical_sr import CAMPAIGN, campaign, parse_report  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("orthanc")


@pytest.fixture
def pacs_env(orthanc, monkeypatch):
    user, password = orthanc.auth
    monkeypatch.setenv("LUNGSCREEN_PACS_USER", user)
    monkeypatch.setenv("LUNGSCREEN_PACS_PASSWORD", password)
    return orthanc


@pytest.fixture
def posts(monkeypatch):
    """Every POST the process makes (a spy: the requests still reach Orthanc)."""
    seen: list[str] = []
    real = requests.Session.post

    def post(self, url, *args, **kwargs):
        seen.append(url)
        return real(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", post)
    return seen


def _pacs_reports(orthanc):
    """{study uid: [SR datasets]} as the PACS serves them back (QIDO-RS, then WADO-RS)."""
    session = requests.Session()
    session.auth = orthanc.auth
    client = DICOMwebClient(orthanc.dicomweb_url, session=session)
    found: dict[str, list] = {}
    for hit in client.search_for_instances(search_filters={"Modality": "SR"}):
        study, series, sop = (hit[tag]["Value"][0] for tag in ("0020000D", "0020000E",
                                                               "00080018"))
        found.setdefault(study, []).append(client.retrieve_instance(study, series, sop))
    return found


def _audit(spec):
    return [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]


def test_stow_stores_each_report_under_the_persons_study_and_parses_back(
        campaign, small_cohort, pacs_env, posts, tmp_path, capsys):  # noqa: F811
    orthanc = pacs_env
    spec_path, spec, truth, results = campaign
    firsts = [hs[0][0] for hs in small_cohort.headers.values()]
    orthanc.upload(firsts)  # the people's studies are already in the PACS
    studies_before = len(requests.get(f"{orthanc.url}/studies", auth=orthanc.auth).json())
    argv = ["export", CAMPAIGN, "--format", "sr", "--stow", orthanc.dicomweb_url,
            "--out", str(tmp_path / "files"), "--spec", str(spec_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{len(results)} stored, 0 already stored, 0 failed" in out

    held = _pacs_reports(orthanc)
    assert len(requests.get(f"{orthanc.url}/studies", auth=orthanc.auth).json()) == \
        studies_before  # attached to the existing studies, none made up
    by_study = {t["study_uid"]: t for t in truth.values()}
    assert set(held) == set(by_study)
    written = {hd.sr.srread(p).SOPInstanceUID: p for p in (tmp_path / "files").iterdir()}
    for study_uid, (ds,) in held.items():
        t = by_study[study_uid]
        assert ds.PatientID == t["patient_id"]
        sr, groups, (study_group,) = parse_report(hd.sr.Comprehensive3DSR.from_dataset(ds))
        assert sr.SOPInstanceUID in written  # the same report as the file export
        assert len(groups) == len(t["nodules"])
        diameters = sorted(next(m.value for m in g.get_measurements()
                                if m.name.meaning == "Diameter") for g in groups)
        assert diameters == pytest.approx(sorted(n["diameter_mm"] for n in t["nodules"]))
        (category,) = study_group.get_qualitative_evaluations(name=LUNG_RADS)
        assert category.value == category_code(t["lung_rads"])

    stows = [u for u in posts if u.startswith(orthanc.dicomweb_url)]
    assert len(stows) == len(results)
    events = _audit(spec)
    assert [e["event"] for e in events] == ["sr_export", "sr_stow", "sr_stow_done"]
    assert events[1]["destination"] == orthanc.dicomweb_url
    assert events[1]["count"] == len(results)
    assert (events[2]["stored"], events[2]["present"], events[2]["failed"]) == (
        len(results), 0, 0)
    sinks = out + (spec.data_dir / "audit.log").read_text()
    assert [t["patient_id"] for t in truth.values() if t["patient_id"] in sinks] == []
    assert [u for u in by_study if u in sinks] == []


def test_rerunning_sends_only_what_the_pacs_lacks(campaign, pacs_env, posts, capsys):  # noqa: F811
    orthanc = pacs_env
    spec_path, _, _, results = campaign
    argv = ["export", CAMPAIGN, "--stow", orthanc.dicomweb_url, "--spec", str(spec_path)]
    assert main(argv) == 0
    first = len(posts)
    assert first == len(results)
    assert main(argv) == 0
    assert len(posts) == first  # nothing sent twice
    assert f"0 stored, {len(results)} already stored, 0 failed" in capsys.readouterr().out

    # the PACS lost one report: only that one is sent again
    some_study = requests.get(f"{orthanc.url}/studies", auth=orthanc.auth).json()[0]
    requests.delete(f"{orthanc.url}/studies/{some_study}", auth=orthanc.auth).raise_for_status()
    assert main(argv) == 0
    assert len(posts) == first + 1
    assert f"1 stored, {len(results) - 1} already stored, 0 failed" in capsys.readouterr().out
    assert sum(len(v) for v in _pacs_reports(orthanc).values()) == len(results)


def test_wrong_credentials_are_refused_naming_what_to_set_and_audited(
        campaign, pacs_env, monkeypatch, capsys):  # noqa: F811
    orthanc = pacs_env
    spec_path, spec, truth, _ = campaign
    monkeypatch.setenv("LUNGSCREEN_PACS_PASSWORD", "wrong")
    argv = ["export", CAMPAIGN, "--stow", orthanc.dicomweb_url, "--spec", str(spec_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "LUNGSCREEN_PACS_PASSWORD" in err and "HTTP 401" in err
    assert [t["patient_id"] for t in truth.values() if t["patient_id"] in err] == []
    events = _audit(spec)
    assert [e["event"] for e in events] == ["sr_stow", "sr_stow_done"]
    assert events[1]["stored"] == 0 and events[1]["failed"] == events[0]["count"]
    assert _pacs_reports(orthanc) == {}


def test_an_unreachable_pacs_fails_every_study_and_exits_1(campaign, pacs_env, capsys):  # noqa: F811
    spec_path, _, _, results = campaign

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["export", CAMPAIGN, "--stow", f"http://127.0.0.1:{port}/dicom-web",
            "--spec", str(spec_path)]
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert f"0 stored, 0 already stored, {len(results)} failed" in printed.out
    assert "PACS unreachable (ConnectionError)" in printed.err
    assert "run the export again" in printed.err


@pytest.mark.parametrize("url, says", [
    ("http://user:pw@127.0.0.1:1/dicom-web", "not in the URL"),
    ("ftp://127.0.0.1/dicom-web", "http(s) URL"),
])
def test_bad_stow_urls_are_refused_before_anything_is_built(campaign, url, says,  # noqa: F811
                                                            capsys):
    spec_path, spec, _, _ = campaign
    assert main(["export", CAMPAIGN, "--stow", url, "--spec", str(spec_path)]) == 2
    assert says in capsys.readouterr().err
    assert not (spec.data_dir / "audit.log").exists()


def test_the_sender_matches_builds_and_sends_one_study_at_a_time(campaign):  # noqa: F811
    import os

    from jobs.clinical.export import match_campaign
    from jobs.spec import open_spec_store

    _, spec, _, results = campaign
    with open_spec_store(spec, os.environ, create=False) as store:
        matching = match_campaign(spec, store, os.environ)
        studies = matching.studies()
        assert matching.found == 0  # nothing matched before it is asked for
        next(studies)
        assert matching.found == 1
        assert len(list(studies)) == len(results) - 1
    assert (matching.found, matching.not_found, matching.unselectable) == (len(results), 0, 0)
