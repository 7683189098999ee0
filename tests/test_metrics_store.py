"""Store-derived metrics against a real SQLite results store: exact counts, the same after
a driver restart, and no PHI canary in the exposition."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobs.run.planning import plan_shards
from jobs.run.store_progress import campaign_progress, store_source
from jobs.store import ResultsStore
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from monitoring.collector import CampaignCollector
from monitoring.live import LiveState
from monitoring.metrics import Metrics

CANARY = "CANARY91ab"


def record(i: int, region: str) -> StudyRecord:
    return StudyRecord(f"{CANARY}s{i:03d}", f"{CANARY}p{i:03d}", region, f"{CANARY}site",
                       "55-59", "M")


def outcome_of(rec: StudyRecord, i: int) -> StudyResult:
    if i % 4 == 3:
        return StudyResult(rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band,
                           rec.sex, Outcome.QUARANTINED, "lung_nodule_detector", "1",
                           reason=Reason.THICK_SLICES, timings={"load": 0.1})
    cat = Category.SUSPICIOUS_4A if i % 4 == 2 else Category.NEGATIVE
    return StudyResult(rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band,
                       rec.sex, Outcome.SCREENED, "lung_nodule_detector", "1", category=cat,
                       timings={"load": 0.1, "infer": 0.5, "postprocess": 0.01})


@pytest.fixture
def store(tmp_path: Path):
    s = ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}")
    s.ensure_campaign("c1", spec_digest="d" * 64, model_name="lung_nodule_detector",
                      model_version="1")
    records = [record(i, "north" if i < 8 else "south") for i in range(12)]
    s.record_plan("c1", plan_shards(records, 4))
    opted = StudyResult(f"{CANARY}s999", f"{CANARY}p999", "north", f"{CANARY}site", "55-59",
                        "M", Outcome.OPTED_OUT, "lung_nodule_detector", "1",
                        reason=Reason.OPTED_OUT)
    s.commit_results("c1", [opted])
    yield s, records
    s.close()


def commit(store: ResultsStore, records: list[StudyRecord], shard_id: str) -> None:
    shard = next(p for p in store.pending_shards("c1") if p.shard_id == shard_id)
    by_pid = {r.study_pid: (i, r) for i, r in enumerate(records)}
    results = [outcome_of(by_pid[pid][1], by_pid[pid][0]) for pid in shard.study_pids]
    assert store.commit_shard("c1", shard_id, results)


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def get(found: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    hits = [v for (n, lab), v in found.items() if n == name and want <= lab]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def exporter_registry(store: ResultsStore) -> CollectorRegistry:
    registry = CollectorRegistry()
    Metrics(registry, version="t")
    registry.register(CampaignCollector(store_source(store), LiveState()))
    return registry


def test_progress_from_the_store(store) -> None:
    s, records = store
    first_shard = next(iter(s.pending_shards("c1"))).shard_id
    commit(s, records, first_shard)
    p = campaign_progress(s, "c1", deadline=2e9)
    north = {r.region: r for r in p.regions}["north"]
    assert (north.studies_planned, north.shards_planned, north.shards_done) == (9, 2, 1)
    assert dict(north.outcomes) == {"screened": 3, "quarantined": 1, "opted_out": 1}
    assert dict(north.quarantines) == {"thick_slices": 1, "opted_out": 1}
    assert dict(north.categories) == {"1": 2, "4A": 1}
    assert p.studies_planned == 13 and p.studies_done == 5 and p.studies_remaining == 8
    assert p.state == "running" and p.deadline == 2e9
    assert p.started_at is not None and p.updated_at is not None


def test_exported_counts_are_exact_and_survive_a_restart(store, tmp_path: Path) -> None:
    s, records = store
    for plan in list(s.pending_shards("c1"))[:2]:
        commit(s, records, plan.shard_id)
    found = samples(exporter_registry(s))
    assert get(found, "lungscreen_studies_total", region="north", outcome="screened") == 6
    assert get(found, "lungscreen_studies_total", region="north", outcome="quarantined") == 2
    # the opt-out is folded out of the ops counts: planned 9 in the store, 8 to ops
    assert get(found, "lungscreen_studies_planned", region="north") == 8
    # 2 thick_slices and 1 opt-out: under the floor, so no reason series; no Lung-RADS
    names = {n for n, _ in found}
    assert not {"lungscreen_quarantines_total", "lungscreen_lungrads_total"} & names
    assert not [lab for _, lab in found if ("outcome", "opted_out") in lab]
    assert get(found, "lungscreen_shards", region="north", state="done") == 2
    assert get(found, "lungscreen_shards", region="south", state="pending") == 1
    # the driver dies; a new one opens the same store file and exports the same figures
    again = ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}")
    try:
        assert samples(exporter_registry(again)) == found
    finally:
        again.close()


def test_no_phi_canary_in_the_exposition(store) -> None:
    s, records = store
    for plan in list(s.pending_shards("c1")):
        commit(s, records, plan.shard_id)
    text = generate_latest(exporter_registry(s)).decode()
    assert "lungscreen_studies_total" in text
    assert CANARY not in text
