"""Two screening rounds end to end through the CLI: round 1, then round 2 with `priors`, into
one store under one key. Round 2's results are checked against the synthetic truth (who has
a prior and which, exact intervals from shifted days, prior_not_found for a missing prior,
baselines for new entrants), its report's round measures and recall follow the stored
categories with priors, and a round-2 driver killed mid-campaign and resumed stores the same
results as the uninterrupted run."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from jobs.ingest.privacy import Pseudonymizer
from jobs.report import aggregate
from jobs.store import ResultsStore
from kernel.followup import Change
from kernel.lungrads import POSITIVE_CATEGORIES, Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult
from tests.campaign_helpers import (
    region_folders,
    run_cli,
    start_cli,
    stop_process_group,
    write_spec,
)
from tests.cohorts import build_cohort, build_follow_up
from tests.ray_helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _truth(root: Path) -> list[dict[str, Any]]:
    lines = (root / "ground_truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def _results(store_url: str, campaign_id: str) -> dict[str, StudyResult]:
    with ResultsStore.open(store_url) as store:
        return {r.study_pid: r for r in store.results(campaign_id)}


def _comparable(r: StudyResult) -> tuple[Any, ...]:
    return (r.outcome, r.category, r.reason, r.nodules, r.reading, r.exam_day)


def test_round_two_is_read_against_round_one_and_a_killed_driver_resumes_the_same(
    tmp_path: Path,
) -> None:
    first = build_cohort(studies=6, regions=1, seed=61, profile="small")
    second = build_follow_up(first, months=12, seed=62)
    env = {"LUNGSCREEN_STATE_DIR": str(tmp_path / "state")}
    data = tmp_path / "data"
    store_url = f"sqlite:///{data / 'results.db'}"

    def spec(cohort: Path, cid: str, **fields: Any) -> Path:
        folders = {n: [f] for n, f in region_folders(cohort).items()}
        return write_spec(tmp_path / f"{cid}.yaml", folders, campaign_id=cid,
                          data_dir=str(data), **fields)

    for cid, cohort, extra in (("round-1", first.root, {}),
                               ("round-2", second.root, {"priors": ["round-1"]})):
        done = run_cli(["campaign", "run", str(spec(cohort, cid, **extra)), "--backend",
                        "inprocess", "--num-cpus", "2"], env=env)
        assert done.returncode == 0, done.stderr[-3000:]

    key = (tmp_path / "state" / "pseudonym.key").read_bytes()
    pseudo = Pseudonymizer(key)
    round1 = _results(store_url, "round-1")
    round2 = _results(store_url, "round-2")
    truth = _truth(second.root)
    assert len(round2) == len(truth)  # every study once
    linked = missing = entrants = 0
    for t in truth:
        r = round2[pseudo.study(t["patient_id"], t["study_uid"])]
        assert r.outcome is Outcome.SCREENED and r.reading is not None
        assert r.exam_day and r.exam_day != f"{t['study_date'][:4]}-{t['study_date'][4:6]}-" \
            f"{t['study_date'][6:]}"  # shifted, never the real day
        if t["prior"] is not None:
            linked += 1
            prior_pid = pseudo.study(t["patient_id"], t["prior"]["study_uid"])
            assert prior_pid in round1
            assert r.reading.prior_study_pid == prior_pid
            assert r.reading.prior_category is round1[prior_pid].category
            assert r.reading.interval_days == t["prior"]["interval_days"]  # exact
            assert r.reason is not Reason.PRIOR_NOT_FOUND
        elif t["prior_expected"]:
            missing += 1
            assert r.category is Category.INCOMPLETE and r.reason is Reason.PRIOR_NOT_FOUND
        else:
            entrants += 1
            assert r.reading.prior_study_pid is None
            assert all(n.change is Change.BASELINE for n in r.reading.nodules)
    assert linked >= 4, (linked, missing, entrants)
    # round 1's sources still hold the priors' pixels: the scans were registered
    # (a prior without nodules has nothing to map: it counts as not registered)
    registered = [r.reading.registered for r in round2.values()
                  if r.reading is not None and r.reading.prior_study_pid is not None
                  and r.reading.resolved + sum(n.change in (Change.GROWN, Change.STABLE,
                                                            Change.SMALLER)
                                               for n in r.reading.nodules) > 0]
    assert registered and all(registered), registered
    # no real date in the store, in DICOM's form or (birth dates) in ISO form, in either round
    stored = b"".join(p.read_bytes() for p in data.glob("results.db*"))
    for t in [*_truth(first.root), *truth]:
        for da in (t["study_date"], t.get("birth_date") or ""):
            assert not da or da.encode() not in stored

    # the report's round measures (counted here without the suppression a handful of
    # studies would get) and the recall follow the categories with priors
    total = aggregate(round2.values()).rollup([])[()]
    assert total["with_prior"] == linked
    assert total["awaiting_prior"] == missing
    out = tmp_path / "recall.csv"
    recall = run_cli(["recall", "round-2", "--spec", str(tmp_path / "round-2.yaml"), "--out",
                      str(out), "--min-category", "3"], env=env)
    assert recall.returncode == 0, recall.stderr[-2000:]
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    positive = sorted(r.category.value for r in round2.values()
                      if r.category in POSITIVE_CATEGORIES)
    assert sorted(row["category"] for row in rows) == positive

    # a round-2 driver killed after its first committed shard, then resumed
    crash = spec(second.root, "round-2-crash", priors=["round-1"], shard_size=1,
                 max_shards_in_flight=1)
    proc = start_cli(["campaign", "run", str(crash), "--backend", "inprocess",
                      "--num-cpus", "1"], env=env)

    def some_done() -> bool:
        try:
            with ResultsStore.open(store_url) as store:
                progress = store.progress("round-2-crash")
        except Exception:
            return False
        done = sum(p.shards_done for p in progress.values())
        return 1 <= done < sum(p.shards_planned for p in progress.values())

    try:
        wait_for(some_done, 900, "the first committed shard of round 2")
    finally:
        stop_process_group(proc)
    resumed = run_cli(["campaign", "resume", "round-2-crash", "--backend", "inprocess",
                       "--num-cpus", "2"], env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = _results(store_url, "round-2-crash")
    assert {pid: _comparable(r) for pid, r in again.items()} == \
        {pid: _comparable(r) for pid, r in round2.items()}
