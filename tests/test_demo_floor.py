"""The demo and the deployment's floor: its spec keeps min_cell at the floor, and its summary
of the synthetic cohort goes below it only through the `synthetic_demo_floor` override,
which is written to the store's audit trail and named in the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.demo import DEMO_ID, DemoOptions, _spec, summarise
from jobs.spec.campaign_spec import CampaignSpec, load_spec
from jobs.store import ResultsStore
from kernel.defaults import MIN_CELL
from tests.report_results import cohort
from tests.store_helpers import audit_key


@pytest.fixture
def demo(tmp_path: Path) -> tuple[CampaignSpec, ResultsStore]:
    out = tmp_path / "demo"
    for region in ("region-0", "region-1", "region-2"):
        (out / "cohort" / "dicom" / region).mkdir(parents=True)
    spec = load_spec(_spec(DemoOptions(out=out), out / "cohort"))
    store = ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}", audit_key=audit_key())
    store.ensure_campaign(DEMO_ID, spec_digest="d", model_name="lung_nodule_detector",
                          model_version="1")
    store.commit_results(DEMO_ID, cohort(40, seed=3))
    return spec, store


def _floor_events(store: ResultsStore) -> list[dict[str, object]]:
    return [dict(e.detail) for e in store.events(DEMO_ID) if e.kind == "synthetic_demo_floor"]


def test_the_demo_spec_keeps_the_deployment_floor(demo) -> None:
    spec, store = demo
    with store:
        assert MIN_CELL == 11 and spec.privacy.min_cell == MIN_CELL


def test_the_override_is_audited_and_named_in_the_output(demo, tmp_path: Path) -> None:
    spec, store = demo
    with store:
        summary = summarise(spec, store, tmp_path / "r.html", synthetic_demo_floor=1)
        [event] = _floor_events(store)
        assert event["min_cell"] == 1 and event["floor"] == MIN_CELL
        assert store.verify_trail().ok
    first = summary.splitlines()[0]
    assert "synthetic_demo_floor override" in first and "floor 11" in first
    assert "audit event synthetic_demo_floor, seq" in first
    assert first.startswith("synthetic demo: no count is suppressed (the synthetic_demo_floor")
    assert "no count is suppressed (threshold 1)" in summary  # never "counts under 1"
    assert "under 1" not in summary and "below 1" not in summary


@pytest.mark.parametrize("asked", [None, 11, 20])
def test_at_or_above_the_floor_there_is_no_override(demo, tmp_path: Path,
                                                    asked: int | None) -> None:
    spec, store = demo
    with store:
        summary = summarise(spec, store, tmp_path / "r.html", synthetic_demo_floor=asked)
        assert _floor_events(store) == []
    assert "synthetic_demo_floor" not in summary
