"""`lungscreen status`: snapshots of a real SQLite store, live throughput across refreshes,
clean Ctrl-C, JSON for scripts, Triton readiness, clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli.main import main
from jobs.run.planning import plan_shards
from jobs.run.store_progress import campaign_progress
from jobs.status import StatusRequest, run_status
from jobs.store import ResultsStore
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.progress import CampaignProgress
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from monitoring.status import Snapshotter, StatusTarget, render_json, render_text, watch
from tests.servers.prometheus import free_port

CANARY = "CANARYc0de"


def rec(i: int) -> StudyRecord:
    return StudyRecord(f"{CANARY}{i:03d}", f"{CANARY}p{i:03d}", "north" if i < 6 else "south",
                       "site1", "65-69", "F")


def res(r: StudyRecord, i: int) -> StudyResult:
    if i % 3 == 2:
        return StudyResult(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex,
                           Outcome.QUARANTINED, "m", "1", reason=Reason.SLICE_GAP)
    return StudyResult(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex,
                       Outcome.SCREENED, "m", "1", category=Category.BENIGN)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with ResultsStore.open(url) as s:
        s.ensure_campaign("camp-a", spec_digest="a" * 64, model_name="m", model_version="1")
        s.record_plan("camp-a", plan_shards([rec(i) for i in range(9)], 3))
    return url


def commit_next(url: str) -> None:
    with ResultsStore.open(url) as s:
        plan = next(iter(s.pending_shards("camp-a")))
        by_pid = {rec(i).study_pid: i for i in range(9)}
        s.commit_shard("camp-a", plan.shard_id,
                       [res(rec(by_pid[p]), by_pid[p]) for p in plan.study_pids])


def test_once_text_shows_bars_counts_and_quarantines(store_url: str) -> None:
    commit_next(store_url)
    out = io.StringIO()
    assert run_status(StatusRequest(store_url=store_url, once=True), out) == 0
    text = out.getvalue()
    assert "camp-a  [running]  3/9 studies  shards 1/3" in text
    assert "north [############------------]  50.0%  3/6  quarantined 1" in text
    assert "south [------------------------]   0.0%  0/3" in text
    assert "quarantines: slice_gap 1" in text
    assert CANARY not in text


def test_once_json_for_scripts(store_url: str) -> None:
    commit_next(store_url)
    out = io.StringIO()
    run_status(StatusRequest(store_url=store_url, campaign_id="camp-a", once=True,
                             as_json=True), out)
    data = json.loads(out.getvalue())
    (camp,) = data["campaigns"]
    assert camp["id"] == "camp-a" and camp["studies_done"] == 3 and camp["studies_planned"] == 9
    assert camp["quarantines"] == {"slice_gap": 1}
    assert [r["region"] for r in camp["regions"]] == ["north", "south"]
    assert camp["regions"][0]["outcomes"] == {"screened": 2, "quarantined": 1}
    assert CANARY not in out.getvalue()


def test_live_view_measures_throughput_and_eta_across_refreshes(store_url: str) -> None:
    store = ResultsStore.open(store_url)
    now = [1000.0]
    snap = Snapshotter([StatusTarget(lambda: [campaign_progress(store, "camp-a")])],
                       clock=lambda: now[0])

    def sleep(seconds: float) -> None:  # the campaign commits a shard between refreshes
        now[0] += 10.0
        commit_next(store_url)

    out = io.StringIO()
    try:
        assert watch(snap.take, out, interval_s=10, sleep=sleep, max_refreshes=3) == 0
    finally:
        store.close()
    first, *_, last = out.getvalue().split("lungscreen status ")[1:]
    assert "0/9 studies" in first
    assert "throughput measuring (first shards not in)   ETA not yet known" in first
    # 6 studies committed in 20 s: 0.3 studies/s, 3 left -> 10 s
    assert "6/9 studies" in last
    assert "throughput 0.300 studies/s (live)   ETA 10s" in last


def test_watching_a_finished_campaign_shows_its_history_and_ends(store_url: str) -> None:
    for _ in range(3):
        commit_next(store_url)
    from jobs.store.records import CampaignState
    from tests.store_helpers import audit_key

    with ResultsStore.open(store_url, audit_key=audit_key()) as store:
        store.set_state("camp-a", CampaignState.DONE)
        snap = Snapshotter([StatusTarget(lambda: [campaign_progress(store, "camp-a")])])

        def never(_: float) -> None:
            raise AssertionError("a finished campaign is not watched further")

        out = io.StringIO()
        assert watch(snap.take, out, interval_s=1, sleep=never) == 0
        live = io.StringIO()
        assert watch(snap.take, live, interval_s=1, sleep=never, clear=True) == 0
    text = out.getvalue()
    assert "[done]  9/9 studies" in text and "done: 9 studies in " in text
    assert "ETA" not in text and "0.000 studies/s" not in text and "unknown" not in text


def test_status_piped_into_head_ends_without_a_traceback(store_url: str) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "cli.main", "status", "--store", store_url, "--interval",
           "0.05"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert b"lungscreen status" in first and "Traceback" not in err and "BrokenPipe" not in err


def test_deadline_verdict_and_eta() -> None:
    from kernel.progress import RegionProgress
    from monitoring.status import CampaignView, Snapshot

    p = CampaignProgress("c", (RegionProgress("r", 1000, 10, 5, {"screened": 500}),),
                         state="running", deadline=1000.0 + 500 / 0.5)
    view = CampaignView(p, 0.25, "driver")
    text = render_text(Snapshot(1000.0, (view,), (("grpc://127.0.0.1:1", False),)))
    assert "ETA 33m20s" in text
    assert "needs 0.500 studies/s  BEHIND" in text
    assert "grpc://127.0.0.1:1" in text and "NOT READY" in text
    assert json.loads(render_json(Snapshot(1000.0, (view,))))["campaigns"][0]["eta_s"] == 2000


def test_ctrl_c_ends_cleanly(store_url: str) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    out = io.StringIO()
    with ResultsStore.open(store_url) as store:
        snap = Snapshotter([StatusTarget(lambda: [campaign_progress(store, "camp-a")])])
        assert watch(snap.take, out, sleep=interrupt, clear=True) == 0
    text = out.getvalue()
    assert "camp-a" in text and text.replace("\x1b[?25h", "").endswith("\n")
    assert "\x1b[2J" not in text  # redrawn in place (rich Live), no full-screen clear


def test_the_live_view_redraws_in_place(store_url: str) -> None:
    out = io.StringIO()
    with ResultsStore.open(store_url) as store:
        snap = Snapshotter([StatusTarget(lambda: [campaign_progress(store, "camp-a")])])
        assert watch(snap.take, out, sleep=lambda _: None, clear=True, max_refreshes=3) == 0
    text = out.getvalue()
    assert text.count("camp-a") >= 3  # three views
    assert "\x1b[2K" in text and "\x1b[1A" in text  # cursor up and erase: redrawn, not appended


def test_cli_once_json(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    commit_next(store_url)
    port = free_port()  # nothing listens there: Triton is reported not ready
    code = main(["status", "camp-a", "--store", store_url, "--once", "--json",
                 "--triton", f"grpc://127.0.0.1:{port}"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["campaigns"][0]["studies_done"] == 3
    assert data["triton"] == [{"url": f"grpc://127.0.0.1:{port}", "ready": False}]


def test_cli_errors_name_the_problem(store_url: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "nope", "--store", store_url, "--once"]) == 2
    assert "'nope' is not in store" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["status", "--store", missing, "--once"]) == 2
    assert "no results store at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    assert main(["status", "--once", "--state-dir", str(tmp_path / "empty")]) == 2
    assert "--store URL" in capsys.readouterr().err
    with pytest.raises(BadInput, match="interval"):
        StatusRequest(store_url=store_url, interval_s=0)


@pytest.mark.integration
def test_triton_readiness_of_a_real_server() -> None:
    from monitoring.health import probe_ready
    from tests.servers.triton import start_test_triton

    server = start_test_triton()
    try:
        assert probe_ready(server.grpc_url)
        assert probe_ready(server.http_url)
    finally:
        server.stop()
    assert not probe_ready(server.grpc_url, timeout_s=0.5)


def test_cli_finds_registered_campaigns_without_a_store_url(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.spec.campaign_spec import parse_spec
    from jobs.spec.registry import SpecRegistry

    spec = parse_spec({"id": "reg-camp", "deadline": "2031-06-30",
                       "regions": [{"name": "north", "sources": [{"folder": str(tmp_path)}]}],
                       "data_dir": str(tmp_path / "data")}, base_dir=tmp_path)
    with ResultsStore.open(spec.store_url) as s:
        s.ensure_campaign("reg-camp", spec_digest="b" * 64, model_name="m", model_version="1")
        s.record_plan("reg-camp", plan_shards([rec(i) for i in range(4)], 2))
    SpecRegistry(tmp_path / "state").save(spec)
    assert main(["status", "--state-dir", str(tmp_path / "state"), "--once"]) == 0
    out = capsys.readouterr().out
    assert "reg-camp  [running]  0/4 studies  shards 0/2" in out
    assert "deadline 2031-06-30 23:59:59 UTC: needs" in out
