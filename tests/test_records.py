"""The study records: what a record and its result share is declared once (StudyFacts), and
the grouping dimensions are among those shared fields and the store's result columns."""

from __future__ import annotations

import inspect
from dataclasses import fields

from jobs.store import schema
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import DIMENSIONS, Outcome, StudyFacts, StudyRecord, StudyResult


def test_the_dimensions_are_shared_fields_and_result_columns():
    shared = [f.name for f in fields(StudyFacts)]
    assert set(DIMENSIONS) <= set(shared)
    assert set(DIMENSIONS) <= set(schema.results.c.keys())


def test_a_result_from_a_record_keeps_every_shared_field():
    record = StudyRecord("s1", "p1", "north", "site-a", "60-64", "F", slice_count=120,
                         spacing=(1.0, 0.7, 0.7))
    result = StudyResult.from_record(record, outcome=Outcome.SCREENED, model_name="m",
                                     model_version="1", category=Category.BENIGN,
                                     timings={"load": 0.5})
    assert result == StudyResult("s1", "p1", "north", "site-a", "60-64", "F", Outcome.SCREENED,
                                 "m", "1", category=Category.BENIGN)
    assert result.timings == {"load": 0.5}
    assert all(getattr(result, f.name) == getattr(record, f.name) for f in fields(StudyFacts))


def _positional(cls: type) -> list[str]:
    return [p.name for p in inspect.signature(cls).parameters.values()
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]


def test_the_positional_order_is_the_shared_fields_then_each_records_own():
    """A field added to StudyFacts later is keyword-only and leaves this order as it is."""
    assert _positional(StudyRecord) == [
        "study_pid", "patient_pid", "region", "site", "age_band", "sex", "slice_count",
        "spacing"]
    assert _positional(StudyResult)[:9] == [
        "study_pid", "patient_pid", "region", "site", "age_band", "sex", "outcome",
        "model_name", "model_version"]
    unscreened = StudyResult.from_record(StudyRecord("s", "p", "r", "x", "50-54", "M"),
                                         outcome=Outcome.QUARANTINED, model_name="m",
                                         model_version="1", reason=Reason.NOT_CT)
    assert unscreened.timings == {} and unscreened.nodules == ()
