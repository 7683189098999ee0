"""The privacy budget: what each person (patient pseudonym) has spent is counted from the
results over the measurement records, looked up for the persons of the increment being
measured; a measurement that would take anyone past the total is refused with the count of
persons only, storing nothing; every released table publishes sigma, rho and the budget
(JSON, CSV)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from jobs.release import Budget, BudgetExhausted, measure_increment, released_table, render_released
from jobs.store import ResultsStore
from kernel.errors import BadInput
from tests.report_results import cohort
from tests.store_helpers import audit_key

CID = "budget-1"


@pytest.fixture
def store(tmp_path):
    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1")
        yield s


@pytest.fixture
def any_store(store_url):
    """SQLite, then PostgreSQL (the ledger's upsert is dialect-specific)."""
    with ResultsStore.open(store_url, audit_key=audit_key()) as s:
        s.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1")
        yield s


def _again(results, round_: int):
    """The same people screened again: new studies of the same pseudonyms."""
    return [dataclasses.replace(r, study_pid=f"{r.study_pid}-round{round_}") for r in results]


def test_each_increment_a_person_contributes_to_spends_its_rho(any_store):
    store = any_store
    people = cohort(60, seed=2)
    budget = Budget(rho=0.5, total=2.0)
    store.commit_results(CID, people[:40])
    assert measure_increment(store, CID, budget=budget) is not None
    store.commit_results(CID, [*_again(people[:10], 2), *people[40:]])  # 10 screened again
    assert measure_increment(store, CID, budget=budget) is not None
    spent = store.spent_by_person()
    assert sorted(set(spent.values())) == [0.5, 1.0]
    assert sum(1 for v in spent.values() if v == 1.0) == 10
    assert {p.patient_pid for p in people} == set(spent)
    pids = [p.patient_pid for p in people]
    assert store.spent_of(pids) == spent  # asked for some persons: the same sums
    assert store.spent_of(pids[:10]) == {p: spent[p] for p in pids[:10]}
    assert store.spent_of(["nobody"]) == {}


def test_a_measurement_past_a_persons_total_is_refused_and_stores_nothing(store):
    people = cohort(30, seed=3)
    budget = Budget(rho=0.5, total=1.0)
    store.commit_results(CID, people)
    assert measure_increment(store, CID, budget=budget) is not None
    # three people's results revised: a new contribution each
    store.commit_results(CID, [*_again(people[:3], 2), *cohort(5, seed=4)])
    assert measure_increment(store, CID, budget=budget) is not None
    base = store.release_base(CID, [1, 2])
    store.commit_results(CID, _again(people[:3], 3))  # a third contribution: past 1.0
    with pytest.raises(BudgetExhausted, match=r"budget exhausted for 3 person\(s\)") as err:
        measure_increment(store, CID, budget=budget)
    assert err.value.persons == 3
    assert not any(p.patient_pid in str(err.value) for p in people)  # counts, never who
    assert len(store.increments(CID)) == 2 and store.release_base(CID, [1, 2]) == base
    # a larger total (the deployment's decision) lets it through
    assert measure_increment(store, CID, budget=Budget(rho=0.5, total=1.5)) is not None


def test_a_rho_override_keeps_the_total_per_person(store):
    # review: `rho=` once raised the total to match it (a rho of 5 made a budget of 5)
    store.commit_results(CID, cohort(20, seed=7))
    with pytest.raises(BadInput, match="above the total per person"):
        measure_increment(store, CID, rho=5.0, budget=Budget(0.5, 2.0))
    assert store.increments(CID) == []
    measured = measure_increment(store, CID, rho=1.0, budget=Budget(0.5, 2.0))
    assert measured is not None
    assert measured.measurement.domain["budget"] == {"rho_per_increment": 1.0,
                                                     "rho_total_per_person": 2.0}


def test_spending_counts_across_campaigns(store):
    people = cohort(20, seed=5)
    store.commit_results(CID, people)
    assert measure_increment(store, CID, budget=Budget(0.5, 1.0)) is not None
    store.ensure_campaign("other", spec_digest="d", model_name="m", model_version="1")
    store.commit_results("other", _again(people[:1], 2))
    assert measure_increment(store, "other", budget=Budget(0.5, 1.0)) is not None
    store.commit_results("other", _again(people[:1], 3))
    with pytest.raises(BudgetExhausted, match="for 1 person"):
        measure_increment(store, "other", budget=Budget(0.5, 1.0))


@pytest.mark.parametrize(("env", "expected"), [
    ({}, Budget()), ({"LUNGSCREEN_RELEASE_RHO": "0.25"}, Budget(0.25, 2.0)),
    ({"LUNGSCREEN_RELEASE_RHO": "1", "LUNGSCREEN_RELEASE_RHO_TOTAL": "3"}, Budget(1.0, 3.0))])
def test_the_deployment_budget_comes_from_the_environment(env, expected):
    assert Budget.from_env(env) == expected


@pytest.mark.parametrize("env", [{"LUNGSCREEN_RELEASE_RHO": "lots"},
                                 {"LUNGSCREEN_RELEASE_RHO_TOTAL": "-1"},
                                 {"LUNGSCREEN_RELEASE_RHO": "nan"},
                                 {"LUNGSCREEN_RELEASE_RHO": "3",
                                  "LUNGSCREEN_RELEASE_RHO_TOTAL": "2"}])
def test_a_bad_budget_is_refused(env):
    with pytest.raises(BadInput):
        Budget.from_env(env)


def test_every_table_publishes_sigma_rho_and_the_budget(store):
    store.commit_results(CID, cohort(200, seed=6))
    measured = measure_increment(store, CID, budget=Budget(0.5, 2.0))
    assert measured is not None
    assert measured.measurement.domain["budget"] == {"rho_per_increment": 0.5,
                                                     "rho_total_per_person": 2.0}
    table = released_table(store, CID, by=("region",))
    privacy = json.loads(render_released(table, "json"))["privacy"]
    assert privacy["rho"] == 0.5 and privacy["rho_total_per_person"] == 2.0
    assert privacy["sigma"] == pytest.approx(12 ** 0.5)
    rows = list(csv.DictReader(io.StringIO(render_released(table, "csv"))))
    assert rows and all(float(r["noise_sigma"]) == pytest.approx(12 ** 0.5)
                        and float(r["rho_per_increment"]) == 0.5
                        and float(r["rho_total_per_person"]) == 2.0 for r in rows)
    assert "budget 2 per person" in render_released(table, "table").splitlines()[0]


def test_two_measurements_at_once_cannot_both_spend_a_persons_last_share(store, monkeypatch):
    """Campaign A's budget is read; before A stores its increment, campaign B measures the
    same people (another driver finishing): A must not store on its stale budget."""
    people = cohort(20, seed=6)
    budget = Budget(rho=0.5, total=0.5)  # one contribution each
    store.ensure_campaign("budget-2", spec_digest="d", model_name="m", model_version="1")
    store.commit_results(CID, people)
    store.commit_results("budget-2", _again(people, 2))
    read = store.spent_of

    def spent_then_b_measures(persons) -> dict[str, float]:
        spent = read(persons)
        monkeypatch.setattr(store, "spent_of", read)
        assert measure_increment(store, "budget-2", budget=budget) is not None
        return spent

    monkeypatch.setattr(store, "spent_of", spent_then_b_measures)
    with pytest.raises(BadInput, match="another release measurement was stored"):
        measure_increment(store, CID, budget=budget)
    assert store.increments(CID) == [] and len(store.increments("budget-2")) == 1
    assert store.verify_trail().ok
    with pytest.raises(BudgetExhausted):  # measured again: the budget says no
        measure_increment(store, CID, budget=budget)
