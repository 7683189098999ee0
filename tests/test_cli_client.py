"""The CLI as the service's client (`--server URL`), against a real running service: report,
status, campaign list/status and recall print (or write) what the API returns; the token
comes from LUNGSCREEN_TOKEN or an owner-only --token-file, never the command line; HTTP
refusals map to exit 2 with the service's reason, an unreachable or failing service to exit
1 in one line; plain HTTP off loopback is refused without --insecure-http."""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from cli.client import server_url
from cli.main import main
from jobs.service import ServiceConfig
from kernel.errors import BadInput
from kernel.roles import Role
from tests.service_helpers import Service, running_service, seeded_store

CID = "cli-1"


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[tuple[Service, dict[Role, str]]]:
    for name in ("LUNGSCREEN_TOKEN", "LUNGSCREEN_STORE", "LUNGSCREEN_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    with seeded_store(tmp_path, [CID], studies=60) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key)) as svc:
        yield svc, tokens


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _undated(text: str) -> str:
    """`text` with its generation times blanked."""
    # seconds optional: the HTML page says "2026-12-07 13:29 UTC"
    return re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?",
                  "TIME", text)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AUTHORITY])
@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_report_prints_what_the_api_returns(service, role, fmt, monkeypatch, capsys) -> None:
    svc, tokens = service
    monkeypatch.setenv("LUNGSCREEN_TOKEN", tokens[role])
    code, out, err = _run(["report", CID, "--server", svc.url, "--by", "region,sex",
                           "--format", fmt], capsys)
    assert code == 0, err
    api = svc.call("GET", f"/api/v1/campaigns/{CID}/report?by=region,sex&format={fmt}",
                   tokens[role])
    assert _undated(out) == _undated(api.text) and out  # the same body, made a moment apart
    assert tokens[role] not in out + err


def test_report_defaults_to_json_and_writes_parquet(service, monkeypatch, capsys,
                                                    tmp_path) -> None:
    svc, tokens = service
    monkeypatch.setenv("LUNGSCREEN_TOKEN", tokens[Role.AUTHORITY])
    code, out, _ = _run(["report", CID, "--server", svc.url], capsys)
    assert code == 0 and json.loads(out)["min_cell"] == 11
    out_file = tmp_path / "r.parquet"
    assert _run(["report", CID, "--server", svc.url, "--format", "parquet", "--out",
                 str(out_file)], capsys)[0] == 0
    assert out_file.read_bytes()[:4] == b"PAR1"
    assert _run(["report", CID, "--server", svc.url, "--released"], capsys)[0] == 2


def test_campaign_list_and_status_and_status(service, monkeypatch, capsys) -> None:
    svc, tokens = service
    monkeypatch.setenv("LUNGSCREEN_TOKEN", tokens[Role.OPS])
    code, out, _ = _run(["campaign", "list", "--server", svc.url, "--json"], capsys)
    assert code == 0
    assert json.loads(out) == svc.call("GET", "/api/v1/campaigns", tokens[Role.OPS]).json()
    api = svc.call("GET", f"/api/v1/campaigns/{CID}/status", tokens[Role.OPS]).json()
    code, out, _ = _run(["campaign", "status", CID, "--server", svc.url, "--json"], capsys)
    assert code == 0 and json.loads(out) == api
    code, out, _ = _run(["status", "--server", svc.url, "--once", "--json"], capsys)
    assert code == 0 and json.loads(out) == [api]
    code, out, _ = _run(["status", CID, "--server", svc.url, "--once"], capsys)
    assert code == 0 and f"campaign {CID}" in out and "REGION" in out
    code, out, _ = _run(["campaign", "list", "--server", svc.url], capsys)
    assert code == 0 and CID in out


def test_the_server_from_the_environment_and_a_token_file(service, monkeypatch, capsys,
                                                          tmp_path) -> None:
    svc, tokens = service
    monkeypatch.setenv("LUNGSCREEN_SERVER", svc.url)
    token_file = tmp_path / "token"
    token_file.write_text(tokens[Role.OPS] + "\n")
    token_file.chmod(0o640)
    code, _, err = _run(["campaign", "list", "--token-file", str(token_file)], capsys)
    assert code == 2 and "chmod 600" in err and tokens[Role.OPS] not in err
    token_file.chmod(0o600)
    code, out, _ = _run(["campaign", "list", "--token-file", str(token_file), "--json"],
                        capsys)
    assert code == 0 and json.loads(out)[0]["id"] == CID
    code, _, err = _run(["campaign", "list"], capsys)  # a server, no token
    assert code == 2 and "LUNGSCREEN_TOKEN" in err and "--token-file" in err


@pytest.mark.parametrize("argv,role,expected", [
    (["report", CID], None, "the service refused the token"),          # 401
    (["report", CID], Role.OPS, "the service refused the token: role ops"),  # 403
    (["report", "nope"], Role.AUTHORITY, "no campaign 'nope'"),         # 404
    (["report", CID, "--by", "county"], Role.AUTHORITY, "query parameter 'by'"),  # 400
    (["report", CID, "--min-cell", "2"], Role.AUTHORITY, "deployment floor 11"),  # 400
    (["recall", CID, "--out", "x.csv"], Role.AUTHORITY, "no spec for campaign"),  # 409
])
def test_refusals_are_bad_input_with_the_services_reason(service, monkeypatch, capsys,
                                                         argv, role, expected) -> None:
    svc, tokens = service
    token = tokens[role] if role else "ls_" + "0" * 32 + "_" + "A" * 43
    monkeypatch.setenv("LUNGSCREEN_TOKEN", token)
    code, _, err = _run([*argv, "--server", svc.url], capsys)
    assert code == 2 and expected in err, err
    assert token not in err and len(err.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503 if "status" in self.path else 302)
        self.send_header("Location", "https://elsewhere.example/")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "the store is down"}')

    def log_message(self, *_args: object) -> None:
        pass


def test_an_unreachable_or_failing_service_is_one_line_and_exit_1(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LUNGSCREEN_TOKEN", "ls_secret-token")
    code, _, err = _run(["campaign", "list", "--server", f"http://127.0.0.1:{_free_port()}"],
                        capsys)
    assert code == 1 and "cannot reach the service" in err and len(err.splitlines()) == 1
    server = HTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, _, err = _run(["campaign", "status", CID, "--server", url], capsys)
        assert code == 1 and "HTTP 503" in err and "the store is down" in err
        code, _, err = _run(["campaign", "list", "--server", url], capsys)  # not followed
        assert code == 2 and "redirects to https://elsewhere.example/" in err
    finally:
        server.shutdown()
        server.server_close()
    assert "ls_secret-token" not in err


def test_plain_http_off_loopback_needs_insecure_http(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LUNGSCREEN_TOKEN", "ls_x")
    code, _, err = _run(["report", CID, "--server", "http://10.1.2.3:8000"], capsys)
    assert code == 2 and "clear text" in err and "--insecure-http" in err
    assert server_url("http://10.1.2.3:8000/", insecure_http=True) == "http://10.1.2.3:8000"
    assert server_url("https://svc.example/ls/") == "https://svc.example/ls"
    for ok in ("http://127.0.0.1:1", "http://localhost:8000", "http://[::1]:80"):
        assert server_url(ok) == ok
    for bad in ("svc.example", "ftp://svc.example", "https://u:p@svc.example",
                "https://svc.example/?token=x"):
        with pytest.raises(BadInput, match="expected https://"):
            server_url(bad)


def test_server_and_a_local_store_are_one_or_the_other(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LUNGSCREEN_TOKEN", "ls_x")
    code, _, err = _run(["report", CID, "--server", "https://svc.example", "--store",
                         "sqlite:///x.db"], capsys)
    assert code == 2 and "one or the other" in err
    code, _, err = _run(["campaign", "list", "--token-file", "t", "--store",
                         "sqlite:///x.db"], capsys)
    assert code == 2 and "--token-file is for --server" in err


def test_recall_through_the_service_is_written_owner_only(recall_service, monkeypatch,
                                                          capsys, tmp_path) -> None:
    svc, token, spec_id = recall_service
    monkeypatch.setenv("LUNGSCREEN_TOKEN", token)
    out = tmp_path / "out" / "recall.csv"
    code, printed, err = _run(["recall", spec_id, "--server", svc.url, "--out", str(out),
                               "--min-category", "4a"], capsys)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = out.read_text().splitlines()
    assert len(rows) == 3 and "2 rows at category 4A" in printed  # 4B and 4A, and the header
    assert token not in printed + err
    # no reader has decided any: the service recalls no one on confirmed results only
    code, printed, err = _run(["recall", spec_id, "--server", svc.url, "--out", str(out),
                               "--confirmed-only"], capsys)
    assert code == 0, err
    assert out.read_text().splitlines() == rows[:1] and "0 rows" in printed


@pytest.fixture
def recall_service(small_cohort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[tuple[Service, str, str]]:
    """A stored campaign over the small cohort (intake for real, a 4B and a 4A set by hand)
    served with its spec, and an authority's token."""
    from jobs.ingest.intake import take_in
    from jobs.ingest.privacy import OptOutList, Pseudonymizer, load_or_create_key
    from jobs.spec.campaign_spec import load_spec
    from jobs.store import ResultsStore, TokenKey
    from kernel.lungrads import Category
    from kernel.records import Outcome, StudyResult
    from tests.campaign_helpers import region_folders, write_spec
    from tests.store_helpers import audit_key

    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    folders = region_folders(small_cohort.root)
    spec = load_spec(write_spec(tmp_path / "spec.yaml", {n: [p] for n, p in folders.items()},
                                campaign_id="recall-cli", data_dir=str(tmp_path / "data")))
    pseudonymizer = Pseudonymizer(load_or_create_key(spec.key_path))
    intake = take_in(spec, pseudonymizer, OptOutList(pseudonymizer), env={})
    records = sorted(intake.records.values(), key=lambda r: r.study_pid)
    wanted = [Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4A]
    results = [StudyResult(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex,
                           Outcome.SCREENED, "lung_nodule_detector", "1",
                           category=wanted[i] if i < 2 else Category.NEGATIVE)
               for i, r in enumerate(records)]
    key = TokenKey.load(tmp_path / "state", create=True)
    with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
        store.ensure_campaign(spec.id, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results(spec.id, results + intake.early)
        token = store.create_token("dr.cli", Role.AUTHORITY, key=key)
        with running_service(ServiceConfig(store, {spec.id: spec}, token_key=key)) as svc:
            yield svc, token, spec.id


def test_campaign_list_and_status_locally_print_the_same_json(service, tmp_path, capsys
                                                              ) -> None:
    svc, tokens = service
    store = f"sqlite:///{tmp_path / 'svc.db'}"
    code, out, _ = _run(["campaign", "list", "--store", store, "--json"], capsys)
    assert code == 0
    assert json.loads(out) == svc.call("GET", "/api/v1/campaigns", tokens[Role.OPS]).json()
    code, out, _ = _run(["campaign", "status", CID, "--store", store, "--json"], capsys)
    api = svc.call("GET", f"/api/v1/campaigns/{CID}/status", tokens[Role.OPS]).json()
    assert code == 0 and json.loads(out) == api
    code, _, err = _run(["campaign", "status", "nope", "--store", store], capsys)
    assert code == 2 and "no campaign 'nope'" in err
