"""Shared fixtures. Integration fixtures that start real servers live in tests/servers/."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real-server fixtures, one module per server (add yours to this list).
pytest_plugins = [
    "tests.servers.prometheus",
    "tests.servers.postgres",
    "tests.servers.triton",
    "tests.servers.orthanc",
    "tests.foreign_cohort",
    "tests.cohorts",  # small_cohort, defect_cohort: synthetic cohorts, written once, cached
]


def pytest_configure(config: object) -> None:
    """One state folder for the session (saved specs, the default pseudonym key), never the
    user's own ~/.local/state/lungscreen; subprocesses inherit it."""
    import os
    import tempfile

    os.environ.setdefault("LUNGSCREEN_STATE_DIR", tempfile.mkdtemp(prefix="lungscreen-state-"))


# Test files that start Ray (embedded, a multi-node `ray.cluster_utils.Cluster`, or a CLI
# campaign that embeds one) or Ray's dashboard: under pytest-xdist they run one after
# another on one worker (Ray's dashboard and cluster-utility ports are machine-wide).
RAY_FILES = frozenset({
    "test_bench_parallel", "test_bench_scale", "test_bench_suites", "test_campaign_canary",
    "test_campaign_cli", "test_campaign_inprocess", "test_cli_newcomer", "test_dashboard",
    "test_dashboard_campaign", "test_demo", "test_demo_floor", "test_faults_ray",
    "test_faults_triton", "test_k8s_rehearsal", "test_metrics", "test_ray_job",
    "test_residency", "test_rounds_campaign",
})


# The longest files after the Ray group (minutes on this machine): started first, so the
# two workers do not end with one of them running a long file alone.
LONG_FILES = ("test_model_foreign", "test_detector_phantoms", "test_triton_model",
              "test_model_tuning", "test_model_train", "test_report", "test_suppression",
              "test_triton_client", "test_contract_model", "test_store_crash")


def _module(item: object) -> str:
    return str(item.module.__name__).rsplit(".", 1)[-1]  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: object, items: list[object]) -> None:
    """Under `-n N --dist loadgroup` (pytest-xdist), a file's tests stay on one worker (its
    module fixtures are built once) and the Ray files share one worker; the Ray group and
    the long files go first (xdist hands groups out in this order). Without xdist the marks
    change nothing; the order is a file order as any other."""
    import pytest

    for item in items:
        module = _module(item)
        group = "ray" if module in RAY_FILES else module
        item.add_marker(pytest.mark.xdist_group(group))  # type: ignore[attr-defined]

    def rank(item: object) -> int:
        module = _module(item)
        if module in RAY_FILES:
            return 0
        return 1 + LONG_FILES.index(module) if module in LONG_FILES else 1 + len(LONG_FILES)

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(autouse=True)
def _ray_only_in_ray_files(request: pytest.FixtureRequest,
                           monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test outside RAY_FILES that starts Ray (itself, or a CLI campaign it runs) fails:
    its Ray would run beside the Ray group's on the other worker (ports, and the fault tests'
    look for shard processes). Ray writes its session under $RAY_TMPDIR, pointed here at an
    empty folder for the test."""
    module = _module(request.node)
    if module in RAY_FILES:
        yield
        return
    sentinel = Path(tempfile.mkdtemp(prefix="lsray-"))
    monkeypatch.setenv("RAY_TMPDIR", str(sentinel))
    try:
        yield
    finally:
        started = any(sentinel.iterdir())
        shutil.rmtree(sentinel, ignore_errors=True)
    if started:
        pytest.fail(f"{module} starts Ray: add it to RAY_FILES in tests/conftest.py",
                    pytrace=False)
