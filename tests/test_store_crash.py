"""A writer SIGKILLed mid-transaction leaves every shard wholly committed or not at all,
on SQLite and on a real PostgreSQL; a resumed writer finishes the rest exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.store import ResultsStore
from kernel.plans import ShardPlan
from tests.store_helpers import plan

ROOT = Path(__file__).resolve().parents[1]

# The child commits every pending shard. With a pause index N it stops inside the N-th
# commit_shard transaction, after the results and the ledger mark are written but before
# COMMIT, says so on stdout, and waits to be killed.
CHILD = """
import sys, time
from sqlalchemy import event
from jobs.store import ResultsStore
from tests.store_helpers import results_for
url, pause_at = sys.argv[1], int(sys.argv[2])
store = ResultsStore.open(url)
commits = 0
@event.listens_for(store._engine, "commit")
def _maybe_pause(conn):
    global commits
    if commits == pause_at:
        print("IN-TRANSACTION", flush=True)
        time.sleep(300)
    commits += 1
for shard in store.pending_shards("c1"):
    store.commit_shard("c1", shard.shard_id, results_for(shard))
print("FINISHED", flush=True)
"""


def _child(url: str, pause_at: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(pause_at)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _assert_all_or_nothing(store: ResultsStore, shards: list[ShardPlan]) -> int:
    pending = {s.shard_id for s in store.pending_shards("c1")}
    stored = {r.study_pid for r in store.results("c1")}
    assert len(stored) == len(list(store.results("c1")))  # never twice
    done = 0
    for s in shards:
        present = stored.intersection(s.study_pids)
        if s.shard_id in pending:
            assert not present, f"{s.shard_id} is pending but has results"
        else:
            assert present == set(s.study_pids), f"{s.shard_id} is done but incomplete"
            done += 1
    return done


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def crash_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/results.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.slow
def test_sigkill_inside_a_commit_leaves_whole_shards(crash_url: str) -> None:
    shards = plan(60, shard_size=5)
    with ResultsStore.open(crash_url) as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        store.record_plan("c1", shards)
        for pause_at in (3, 0, 5):  # three crashes, each inside a commit
            child = _child(crash_url, pause_at)
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            assert line == "IN-TRANSACTION"
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            done = _assert_all_or_nothing(store, shards)
            assert done < len(shards)
        # a resumed writer without crashes finishes the rest, exactly once
        child = _child(crash_url, -1)
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0 and "FINISHED" in out
        assert _assert_all_or_nothing(store, shards) == len(shards)
        assert len(list(store.results("c1"))) == 60


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_whole_shards(crash_url: str) -> None:
    shards = plan(400, shard_size=4)
    rng = random.Random(7)
    with ResultsStore.open(crash_url) as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="m", model_version="1")
        store.record_plan("c1", shards)
        for _ in range(4):
            child = _child(crash_url, -1)
            time.sleep(rng.uniform(1.0, 2.5))  # the child needs ~1 s to import and start
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
            _assert_all_or_nothing(store, shards)
