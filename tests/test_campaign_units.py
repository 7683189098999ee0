"""Unit tests of the campaign machinery that need no model: the driver's handling of
shards settled at planning, its settings, the spec registry, the progress bar, the CPU
sampler and the Ray connection options."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.progress import TaskID

from cli.progress import ProgressBar
from cluster.ray.connect import RayOptions, _init_kwargs, region_resource, submit_campaign
from jobs.run.backends import InProcessBackendConfig
from jobs.run.driver import Driver, DriverSettings
from jobs.run.executor import REGION_RESOURCE_SHARE, InProcessExecutor
from jobs.run.shardwork import ShardWork, StudyWork
from jobs.spec.campaign_spec import parse_spec, spec_digest
from jobs.spec.registry import SpecRegistry, default_state_dir
from kernel.errors import BadInput
from kernel.observer import NullObserver, ShardInfo
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult

BACKEND = InProcessBackendConfig()


def _record(i: int, region: str = "north") -> StudyRecord:
    return StudyRecord(study_pid=f"s{i:04d}", patient_pid=f"p{i:04d}", region=region,
                       site="site-a", age_band="60-64", sex="F")


def _planned_shard(index: int, reasons: Sequence[Reason]) -> ShardWork:
    studies = tuple(StudyWork(record=_record(index * 10 + j), planned=r)
                    for j, r in enumerate(reasons))
    return ShardWork("c1", f"north-{index:05d}", "north", studies)


class _Recorder(NullObserver):
    def __init__(self) -> None:
        self.done: list[StudyResult] = []
        self.committed: list[str] = []

    def on_study_done(self, result: StudyResult) -> None:
        self.done.append(result)

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        self.committed.append(shard.shard_id)


def test_shards_settled_at_planning_commit_without_running() -> None:
    commits: list[tuple[str, tuple[StudyResult, ...]]] = []
    executor = InProcessExecutor(BACKEND)
    recorder = _Recorder()
    driver = Driver(executor, lambda w, r: commits.append((w.shard_id, r)), BACKEND,
                    DriverSettings(poll_s=0.01), recorder)
    shards = [_planned_shard(0, [Reason.OPTED_OUT, Reason.SLICE_GAP]),
              _planned_shard(1, [Reason.NOT_CT])]
    report = driver.run(shards)
    executor.close()
    assert report.state == "completed"
    assert [c[0] for c in commits] == ["north-00000", "north-00001"]
    outcomes = [r.outcome for _, rs in commits for r in rs]
    assert outcomes == [Outcome.OPTED_OUT, Outcome.QUARANTINED, Outcome.QUARANTINED]
    assert [r.reason for _, rs in commits for r in rs] == [
        Reason.OPTED_OUT, Reason.SLICE_GAP, Reason.NOT_CT]
    assert report.outcomes == {"opted_out": 1, "quarantined": 2}
    assert recorder.committed == ["north-00000", "north-00001"]
    assert len(recorder.done) == 3
    assert report.placements == {}


def test_a_failing_observer_does_not_stop_the_driver() -> None:
    class Broken(NullObserver):
        def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                               commit_s: float) -> None:
            raise RuntimeError("observer bug")

    commits: list[str] = []
    driver = Driver(InProcessExecutor(BACKEND), lambda w, r: commits.append(w.shard_id),
                    BACKEND, DriverSettings(poll_s=0.01), Broken())
    assert driver.run([_planned_shard(0, [Reason.NOT_CT])]).state == "completed"
    assert commits == ["north-00000"]


def test_driver_settings_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match=r"max_shards_in_flight \(0\)"):
        DriverSettings(max_shards_in_flight=0)


def test_spec_registry_round_trip(tmp_path: Path) -> None:
    (tmp_path / "north").mkdir()
    spec = parse_spec({"id": "reg-1", "regions": [{"name": "north",
                                                   "sources": [{"folder": "north"}]}]},
                      base_dir=tmp_path)
    registry = SpecRegistry(tmp_path / "state")
    registry.save(spec)
    loaded = registry.load("reg-1")
    # the same campaign, its default key written out (a resume elsewhere keeps the key)
    assert loaded.privacy.key_file == spec.key_path and spec.privacy.key_file is None
    assert loaded.model_copy(update={"privacy": spec.privacy}) == spec
    assert spec_digest(loaded) == spec_digest(spec)
    index = tmp_path / "state" / "campaigns" / "reg-1.json"
    assert index.stat().st_mode & 0o077 == 0
    assert (spec.data_dir / "campaigns" / "reg-1" / "spec.json").is_file()
    with pytest.raises(BadInput, match="--spec"):
        registry.load("unknown")
    assert default_state_dir({"LUNGSCREEN_STATE_DIR": "/x"}) == Path("/x")
    assert default_state_dir({"HOME": "/h"}) == Path("/h/.local/state/lungscreen")


def test_progress_bar_draws_every_region() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    plain = logging.StreamHandler(io.StringIO())
    root.addHandler(plain)
    try:
        bar = ProgressBar(out, terminal=True)
        bar.on_plan("c1", {"north": 4, "south": 2}, {"north": 0, "south": 1})
        assert plain not in root.handlers  # logs go through the bar's console meanwhile
        logging.getLogger("jobs").warning("a log line while the bar is live")
        shard = _planned_shard(0, [Reason.NOT_CT, Reason.OPTED_OUT])
        results = [StudyResult(study_pid="s", patient_pid="p", region="north", site="x",
                               age_band="60-64", sex="F", outcome=Outcome.QUARANTINED,
                               model_name="m", model_version="1", reason=Reason.NOT_CT)] * 2
        bar.on_shard_committed(shard, results, 0.0)
        bar.on_finished("c1", "done")
        assert plain in root.handlers  # and back afterwards
    finally:
        root.removeHandler(plain)
    text = out.getvalue()
    assert "north" in text and "south" in text
    assert "2/4" in text and "1/2" in text and "50%" in text
    assert "not screened 2" in text
    assert "a log line while the bar is live" in text
    assert "-:--:--" not in text  # time left at the region's own pace, or "measuring"/"done"


def test_time_left_follows_the_regions_own_pace() -> None:
    from rich.progress import Task

    from cli.progress import TimeLeft

    def task(done: float, elapsed: float | None) -> Task:
        t = Task(TaskID(0), "north", 10, done, _get_time=lambda: 100.0)
        t.start_time = None if elapsed is None else 100.0 - elapsed
        return t

    column = TimeLeft()
    assert column.render(task(0, None)).plain == "measuring"
    assert column.render(task(2, 60.0)).plain == "0:04:00"  # 2 in a minute: 8 more in 4
    assert column.render(task(10, 300.0)).plain == "done"


def test_the_heartbeat_says_what_happens_while_no_shard_commits(caplog) -> None:
    from cli.progress import Heartbeat

    now = [0.0]
    beat = Heartbeat(interval_s=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="jobs"):
        beat.on_plan("c1", {"north": 4, "south": 2}, {"north": 0, "south": 1})
        beat.on_shard_started(_planned_shard(0, [Reason.NOT_CT]), 1)
        now[0] = 10.0
        assert beat.beat() is False  # quiet for 10 s only: nothing said
        now[0] = 31.0
        assert beat.beat() is True
        beat.on_shard_committed(_planned_shard(0, [Reason.NOT_CT]), [], 0.0)
        assert beat.beat() is False  # a commit just now
        beat.on_finished("c1", "done")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("screening 5 studies over 2 regions (1 done before)")
    assert lines[1] == "screening: 1/6 studies done, 1 shards started; waiting for results"
    assert len(lines) == 2


def test_ray_options_bound_the_embedded_instance() -> None:
    kw = _init_kwargs(RayOptions(num_cpus=2, resources={region_resource("north"): 1}))
    assert kw["include_dashboard"] is False and kw["log_to_driver"] is False
    assert kw["num_cpus"] == 2 and kw["address"] == "local"
    assert kw["resources"] == {"region:north": 1}
    remote = _init_kwargs(RayOptions(address="ray://head:10001"))
    assert remote["address"] == "ray://head:10001" and "num_cpus" not in remote
    assert 0 < REGION_RESOURCE_SHARE < 1


def test_job_submission_needs_the_job_server_url(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text("id: x\n", encoding="utf-8")
    with pytest.raises(BadInput, match="http://HEAD:8265"):
        submit_campaign(spec, "ray://head:10001")
