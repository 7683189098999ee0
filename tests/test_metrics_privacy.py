"""The attacker's view of the unauthenticated metrics scrape: a real SQLite results store
whose region x Lung-RADS category and region x quarantine reason counts are mostly 1-10,
served by the real exporter and read over HTTP. No series may carry a clinical count below
the deployment floor (kernel.defaults.MIN_CELL) per region, there is no Lung-RADS family at
all, and nothing in the scrape moves with an opt-out."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.run.planning import plan_shards
from jobs.run.store_progress import store_source
from jobs.store import ResultsStore
from kernel.defaults import MIN_CELL
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from monitoring.exporter import MonitoringConfig, start_monitoring

REGIONS = ("region-1", "region-2", "region-3")
# Per region: the Lung-RADS categories of its screened studies and the reasons of its
# quarantined ones. Most region x category and region x reason cells hold 1-10; slice_gap
# reaches 12 over the campaign (4 a region), so it alone may show, per campaign.
MIX: dict[str, tuple[list[Category], list[Reason]]] = {
    "region-1": ([Category.NEGATIVE] * 20 + [Category.BENIGN] * 7 + [Category.PROBABLY_BENIGN] * 3
                 + [Category.SUSPICIOUS_4A] * 2 + [Category.VERY_SUSPICIOUS_4B],
                 [Reason.SLICE_GAP] * 4 + [Reason.THICK_SLICES] * 2 + [Reason.NOT_CT]),
    "region-2": ([Category.NEGATIVE] * 14 + [Category.BENIGN] * 5 + [Category.SUSPICIOUS_4A] * 4
                 + [Category.SUSPICIOUS_4X],
                 [Reason.SLICE_GAP] * 4 + [Reason.DECODE_FAILED] * 3),
    "region-3": ([Category.NEGATIVE] * 9 + [Category.PROBABLY_BENIGN] * 6
                 + [Category.VERY_SUSPICIOUS_4B] * 2,
                 [Reason.SLICE_GAP] * 4 + [Reason.INFERENCE_FAILED]),
}
OPTED_OUT = {"region-1": 3, "region-3": 1}
# Series that may carry a region label: ops figures (work, throughput, errors), never a mix.
REGIONAL_OPS = {"lungscreen_studies_total", "lungscreen_studies_planned", "lungscreen_shards"}


def _result(rec: StudyRecord, outcome: Outcome, category: Category | None = None,
            reason: Reason | None = None) -> StudyResult:
    return StudyResult(rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band,
                       rec.sex, outcome, "lung_nodule_detector", "1", category=category,
                       reason=reason, timings={"load": 0.1})


def _store(path: Path, opt_outs: dict[str, int]) -> ResultsStore:
    """A completed campaign "c1": every planned study committed, plus `opt_outs` settled
    before the run (as the intake commits them)."""
    store = ResultsStore.open(f"sqlite:///{path}")
    store.ensure_campaign("c1", spec_digest="e" * 64, model_name="lung_nodule_detector",
                          model_version="1")
    outcomes: dict[str, StudyResult] = {}
    early = []
    for region in REGIONS:
        cats, reasons = MIX[region]
        for n in range(opt_outs.get(region, 0)):
            rec = StudyRecord(f"o-{region}-{n}", f"po-{region}-{n}", region, "site-a",
                              "60-64", "F")
            early.append(_result(rec, Outcome.OPTED_OUT, reason=Reason.OPTED_OUT))
        for n, cat in enumerate(cats):
            rec = StudyRecord(f"s-{region}-{n}", f"p-{region}-{n}", region, "site-a",
                              "60-64", "F")
            outcomes[rec.study_pid] = _result(rec, Outcome.SCREENED, category=cat)
        for n, reason in enumerate(reasons):
            rec = StudyRecord(f"q-{region}-{n}", f"pq-{region}-{n}", region, "site-b",
                              "55-59", "M")
            outcomes[rec.study_pid] = _result(rec, Outcome.QUARANTINED, reason=reason)
    store.commit_results("c1", early)
    records = [StudyRecord(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex)
               for r in outcomes.values()]
    store.record_plan("c1", plan_shards(records, 5))
    for plan in list(store.pending_shards("c1")):
        assert store.commit_shard("c1", plan.shard_id,
                                  [outcomes[pid] for pid in plan.study_pids])
    return store


def _scrape(store: ResultsStore) -> list[tuple[str, dict[str, str], float]]:
    """What anyone who reaches the port reads: the exporter's page over HTTP."""
    mon = start_monitoring(MonitoringConfig(port=0), store_source(store, ["c1"]), "t")
    try:
        assert mon.exporter is not None
        body = urllib.request.urlopen(mon.exporter.url, timeout=5).read().decode()
    finally:
        mon.stop()
    return [(s.name, dict(s.labels), s.value)
            for fam in text_string_to_metric_families(body) for s in fam.samples]


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[list[tuple[str, dict[str, str], float]]]:
    store = _store(tmp_path / "with.db", OPTED_OUT)
    try:
        yield _scrape(store)
    finally:
        store.close()


def test_the_store_really_holds_small_clinical_cells(tmp_path: Path) -> None:
    """The premise: the attacker's targets exist (or the test below proves nothing)."""
    small_categories = [(r, c) for r in REGIONS for c in set(MIX[r][0])
                        if 1 <= MIX[r][0].count(c) < MIN_CELL]
    small_reasons = [(r, q) for r in REGIONS for q in set(MIX[r][1])
                     if 1 <= MIX[r][1].count(q) < MIN_CELL]
    assert len(small_categories) >= 8 and len(small_reasons) >= 6
    assert MIN_CELL == 11


def test_no_clinical_count_below_the_floor_per_region_and_no_lung_rads(scraped) -> None:
    assert not [s for s in scraped if "lungrads" in s[0] or "category" in s[1]]
    for name, labels, value in scraped:
        if "region" in labels and not name.startswith(("lungscreen_study_duration",
                                                      "lungscreen_studies_processed",
                                                      "lungscreen_shard_failures")):
            assert name in REGIONAL_OPS, (name, labels, value)
        if name == "lungscreen_studies_total":
            assert labels["outcome"] in ("screened", "quarantined"), labels
        assert "opted_out" not in labels.values(), (name, labels)
    reasons = {lab["reason"]: v for n, lab, v in scraped if n == "lungscreen_quarantines_total"}
    assert not [lab for n, lab, _ in scraped
                if n == "lungscreen_quarantines_total" and "region" in lab]
    # slice_gap is 12 over the campaign: shown, per campaign; every other reason is < 11
    assert reasons == {"slice_gap": 12.0}
    assert all(v >= MIN_CELL for v in reasons.values())


def test_the_ops_figures_are_still_there(scraped) -> None:
    got = {(n, lab.get("region"), lab.get("outcome")): v for n, lab, v in scraped
           if n in ("lungscreen_studies_total", "lungscreen_studies_planned")}
    assert got[("lungscreen_studies_total", "region-1", "screened")] == 33
    assert got[("lungscreen_studies_total", "region-1", "quarantined")] == 7
    assert got[("lungscreen_studies_planned", "region-1", None)] == 40
    remaining = [v for n, _, v in scraped if n == "lungscreen_campaign_studies_remaining"]
    assert remaining == [0.0]


def test_nothing_in_the_scrape_moves_with_an_opt_out(scraped, tmp_path: Path) -> None:
    """The same campaign without its opt-outs scrapes identically (timings aside)."""
    store = _store(tmp_path / "without.db", {})
    try:
        without = _scrape(store)
    finally:
        store.close()

    def stable(samples: list[tuple[str, dict[str, str], float]]
               ) -> list[tuple[str, list[tuple[str, str]], float]]:
        return sorted((n, sorted(lab.items()), v) for n, lab, v in samples
                      if n.startswith("lungscreen_") and "_created" not in n
                      and "duration" not in n and "triton" not in n)

    assert stable(scraped) == stable(without)
