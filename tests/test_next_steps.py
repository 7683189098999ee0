"""The next step of every quarantine reason: one table, complete, and what it implies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel.lungrads import Category
from kernel.next_steps import NEXT_STEPS, UNSPECIFIED, NextStep, technical_recall
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult


def _result(outcome, reason=None, category=None):
    return StudyResult("s", "p", "north", "site-1", "60-64", "F", outcome,
                       "threshold_detector", "1", category=category, reason=reason)


def test_every_reason_has_a_next_step():
    assert set(NEXT_STEPS) == set(Reason)
    assert all(isinstance(step, NextStep) for step in NEXT_STEPS.values())


@pytest.mark.parametrize(("reason", "step"), [
    (Reason.INCOMPLETE_LUNG_COVERAGE, NextStep.REPEAT_SCAN),
    (Reason.THICK_SLICES, NextStep.REPEAT_SCAN),
    (Reason.SLICE_GAP, NextStep.REPEAT_SCAN),
    (Reason.TOO_FEW_SLICES, NextStep.REPEAT_SCAN),
    (Reason.DECODE_FAILED, NextStep.MANUAL_READ),
    (Reason.INFERENCE_FAILED, NextStep.MANUAL_READ),
    (Reason.NOT_CT, NextStep.NOT_APPLICABLE),
    (Reason.OPTED_OUT, NextStep.NOT_APPLICABLE),
])
def test_the_issue_s_examples(reason, step):
    assert NEXT_STEPS[reason] is step


def test_technical_recall_of_a_result():
    assert technical_recall(_result(Outcome.QUARANTINED, Reason.SLICE_GAP)) == (
        "slice_gap", NextStep.REPEAT_SCAN)
    assert technical_recall(_result(Outcome.QUARANTINED, Reason.NOT_CT)) is None
    assert technical_recall(_result(Outcome.OPTED_OUT, Reason.OPTED_OUT)) is None
    assert technical_recall(_result(Outcome.QUARANTINED)) == (UNSPECIFIED, NextStep.MANUAL_READ)
    # Lung-RADS 0 from the model: the lungs are not covered
    assert technical_recall(_result(Outcome.SCREENED, category=Category.INCOMPLETE)) == (
        "incomplete_lung_coverage", NextStep.REPEAT_SCAN)
    assert technical_recall(_result(Outcome.SCREENED, category=Category.NEGATIVE)) is None


def test_the_data_dictionary_lists_the_same_table():
    text = (Path(__file__).resolve().parents[1] / "jobs/report/DATA_DICTIONARY.md").read_text()
    listed = {}
    for step in NextStep:
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{step.value}` |")]
        for code in re.findall(r"`([a-z_]+)`", row.split("|")[2]):
            listed[code] = step
    assert {r.value: s for r, s in NEXT_STEPS.items()} | {UNSPECIFIED: NextStep.MANUAL_READ} \
        == listed
