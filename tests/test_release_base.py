"""The release base in the store and the tables derived from it: increments measured once
(nothing new measures nothing), a base of non-negative integers that adds up at every level,
and tables in which a cell has one value across groupings and periods, margins add up, and
reruns are byte-identical."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from itertools import pairwise

import pytest
from sqlalchemy import select

from jobs.release import DEFAULT_RHO, measure_increment, released_table, render_released
from jobs.release.domain import CAMPAIGN, REGION, SITE
from jobs.store import ResultsStore
from jobs.store import schema as t
from kernel.errors import BadInput
from tests.report_results import cohort, sites_of
from tests.store_helpers import audit_key

CAMPAIGN_ID = "north-2027q1"
BATCHES = (600, 500, 400)


@pytest.fixture(scope="module")
def results():
    return cohort(sum(BATCHES), seed=11)


@pytest.fixture(scope="module")
def store(tmp_path_factory, results):
    url = f"sqlite:///{tmp_path_factory.mktemp('release') / 'results.db'}"
    with ResultsStore.open(url, audit_key=audit_key()) as s:
        s.ensure_campaign(CAMPAIGN_ID, spec_digest="d", model_name="lung_nodule_detector",
                          model_version="1", sites=sites_of(results))
        start = 0
        for n in BATCHES:
            s.commit_results(CAMPAIGN_ID, results[start:start + n])
            start += n
            assert measure_increment(s, CAMPAIGN_ID) is not None
        yield s


def _table(store, by, increments=None):
    return released_table(store, CAMPAIGN_ID, by=by, increments=increments)


def _groups(table):
    return {(r.level, r.key): dict(r.counts) for r in table.rows}


def test_increments_record_their_boundaries(store):
    incs = store.increments(CAMPAIGN_ID)
    assert [i.seq for i in incs] == [1, 2, 3]
    assert [i.results + i.excluded for i in incs] == list(BATCHES)
    for before, after in pairwise(incs):
        assert before.last_commit < after.first_commit
    assert all(i.first_commit <= i.last_commit <= i.created_at for i in incs)
    for m in store.measurements(CAMPAIGN_ID):
        assert (m.mechanism, m.levels, m.rho) == ("discrete_gaussian",
                                                  (CAMPAIGN, REGION, SITE), DEFAULT_RHO)
        # 3 levels x 4 query families: a person changes 12 counts by 1
        assert m.domain["families"] == ["cells", "outcome", "age_band_sex", "total"]
        assert m.sensitivity == pytest.approx(12 ** 0.5)
        assert m.sigma == pytest.approx((12 / (2 * DEFAULT_RHO)) ** 0.5)
    kinds = [e.kind for e in store.events(CAMPAIGN_ID)]
    assert kinds.count("release_measured") == 3


def test_nothing_new_measures_nothing(store):
    base = store.release_base(CAMPAIGN_ID, [1, 2, 3])
    assert measure_increment(store, CAMPAIGN_ID) is None
    assert len(store.increments(CAMPAIGN_ID)) == 3
    assert store.release_base(CAMPAIGN_ID, [1, 2, 3]) == base


def test_the_base_is_nonnegative_integers_adding_up_at_every_level(store):
    cells = store.release_base(CAMPAIGN_ID, [1, 2, 3])
    assert cells and all(isinstance(c.count, int) and c.count > 0 for c in cells)
    sums: dict[tuple[object, ...], Counter[str]] = defaultdict(Counter)
    for c in cells:
        demo = (c.seq, c.age_band, c.sex, c.outcome)
        sums[(c.level, c.region, c.site, *demo)]["own"] += c.count
        if c.level == REGION:
            sums[(CAMPAIGN, "", "", *demo)]["children"] += c.count
        if c.level == SITE:
            sums[(REGION, c.region, "", *demo)]["children"] += c.count
    for key, s in sums.items():
        if key[0] != SITE:
            assert s["own"] == s["children"], key


def test_the_base_is_noisy_not_the_truth(store, results):
    truth = Counter((r.region, r.site) for r in results)
    table = _table(store, ("region", "site"))
    site_rows = {r.key: r.counts["seen"] for r in table.rows if len(r.level) == 2}
    assert set(site_rows) <= set(truth) | {(region, "other") for region, _ in truth}
    assert any(site_rows.get(k, 0) != n for k, n in truth.items())


def test_a_cell_has_one_value_in_every_grouping(store):
    by_rs = _groups(_table(store, ("region", "sex")))
    by_sr = _groups(_table(store, ("sex", "region")))
    for (level, key), counts in by_rs.items():
        if len(level) == 2:
            assert by_sr[(level[::-1], key[::-1])] == counts
    by_region = _groups(_table(store, ("region",)))
    by_site = _groups(_table(store, ("region", "site")))
    for (level, key), counts in by_region.items():
        assert by_site[(level, key)] == counts == by_rs[(level, key)]


@pytest.mark.parametrize("by", [("region", "site"), ("age_band", "sex"), ("region", "age_band")])
def test_margins_add_up(store, by):
    groups = _groups(_table(store, by))
    for (level, key), counts in groups.items():
        assert counts["seen"] == counts["screened"] + counts["quarantined"] + counts["opted_out"]
        assert counts["screened"] == sum(v for m, v in counts.items() if m.startswith("category."))
        if len(level) == len(by):
            continue
        finer = by[:len(level) + 1]
        children = [c for (lv, k), c in groups.items() if lv == finer and k[:len(key)] == key]
        for measure, value in counts.items():
            assert value == sum(c[measure] for c in children), (level, key, measure)


def test_periods_are_sums_of_their_increments(store):
    by = ("region", "age_band")
    whole = _groups(_table(store, by))
    parts = [_groups(_table(store, by, increments=[seq])) for seq in (1, 2, 3)]
    for group, counts in whole.items():
        for measure, value in counts.items():
            assert value == sum(p.get(group, {}).get(measure, 0) for p in parts)
    two = _groups(_table(store, by, increments=[1, 3]))
    assert two[((), ())]["seen"] == parts[0][((), ())]["seen"] + parts[2][((), ())]["seen"]


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_the_same_request_gives_byte_identical_output(store, fmt):
    by = ("region", "sex")
    assert render_released(_table(store, by), fmt) == render_released(_table(store, by), fmt)


def test_rates_carry_the_noise_in_their_intervals(store):
    table = _table(store, ("region", "site"))
    for row in table.rows:
        rate = row.positive_rate
        k, n = row.counts["positive"], row.counts["screened"]
        if n == 0:
            assert rate.value is None
            continue
        assert rate.value == k / n and rate.low <= rate.value <= rate.high
    sites = [r for r in table.rows if len(r.level) == 2 and r.counts["screened"]]
    total = table.rows[0]
    width = total.positive_rate.high - total.positive_rate.low
    assert width > 0.05  # the binomial alone, over ~1,100 screened, is about 0.05 wide
    assert all(r.positive_rate.high - r.positive_rate.low > width for r in sites)


def test_a_person_counts_once_per_increment(tmp_path, results):
    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign("c", spec_digest="d", model_name="m", model_version="1")
        twin = dataclasses.replace(results[1], study_pid="another-study",
                                   patient_pid=results[0].patient_pid)
        s.commit_results("c", [*results[:40], twin])
        measured = measure_increment(s, "c")
    assert measured is not None
    assert (measured.increment.results, measured.increment.excluded) == (40, 1)


def test_the_base_holds_no_pseudonyms(store, results):
    pids = {r.study_pid for r in results} | {r.patient_pid for r in results}
    stored = set()
    with store._engine.connect() as conn:
        for table in (t.release_increments, t.release_measurements, t.release_base):
            for row in conn.execute(select(table)):
                stored.update(str(v) for v in row)
    assert not stored & pids
    assert not any(p in s for s in stored for p in list(pids)[:50])


def test_unknown_campaigns_and_increments_are_refused(store, tmp_path):
    with pytest.raises(BadInput, match="no increment"):
        _table(store, ("region",), increments=[9])
    with pytest.raises(BadInput, match="unknown campaign"):
        measure_increment(store, "nope")
    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign("c", spec_digest="d", model_name="m", model_version="1")
        with pytest.raises(BadInput, match="release measure"):
            released_table(s, "c")


def test_a_result_committed_behind_the_boundary_stops_the_next_measurement(tmp_path, results):
    from kernel.errors import PermanentError

    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign("c", spec_digest="d", model_name="m", model_version="1")
        s.commit_results("c", results[:30])
        first = measure_increment(s, "c")
        assert first is not None
        s.commit_results("c", results[30:40])
        with s.write_transaction("moving a commit back") as conn:  # a clock set back
            conn.execute(t.results.update().where(t.results.c.study_pid == results[35].study_pid)
                         .values(committed_at=first.increment.first_commit))
        with pytest.raises(PermanentError, match="behind the boundary"):
            measure_increment(s, "c")
        assert len(s.increments("c")) == 1


def test_sites_are_the_declared_ones_never_the_data(tmp_path, results):
    """A result at a site its region did not declare (a one-off spelling of an institution
    would be one) counts under the region's `other`; no table names its site, so the table
    does not reveal that one person was screened there. A campaign that declares no site
    has `other` alone."""
    odd = dataclasses.replace(results[0], site="r0-site-misspelt", region="region-0")
    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign("c", spec_digest="d", model_name="m", model_version="1",
                          sites=sites_of(results[1:200]))
        s.ensure_campaign("bare", spec_digest="d", model_name="m", model_version="1")
        s.commit_results("c", [odd, *results[1:200]])
        s.commit_results("bare", results[200:300])
        assert measure_increment(s, "c") is not None
        assert measure_increment(s, "bare") is not None
        named = {r.key[1] for r in released_table(s, "c", by=("region", "site")).rows
                 if len(r.key) == 2}
        bare = {r.key[1] for r in released_table(s, "bare", by=("region", "site")).rows
                if len(r.key) == 2}
        measured = s.measurements("c")[0].domain["regions"]
    assert "r0-site-misspelt" not in named
    assert "r0-site-misspelt" not in measured["region-0"]
    assert measured["region-0"] == sorted({*sites_of(results[1:200])["region-0"], "other"})
    assert bare <= {"other"}
