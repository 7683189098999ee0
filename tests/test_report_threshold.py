"""The one threshold rule (jobs.report.threshold), shared by `lungscreen report` and the
service: the floor or the campaign's min_cell, whichever is higher, with its source; a
request may raise it, never lower it."""

from __future__ import annotations

import pytest

from jobs.report.threshold import (
    BelowThreshold,
    Threshold,
    report_threshold,
    threshold_in_force,
)
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput


def test_the_higher_of_floor_and_campaign_is_in_force_and_names_its_source():
    assert threshold_in_force() == Threshold(MIN_CELL)
    assert threshold_in_force("c-1", 20) == Threshold(20, "c-1")
    assert threshold_in_force("c-1", 20).describe() == "campaign c-1's threshold 20"
    # the floor binds whatever the campaign says, and is named as the source then
    assert threshold_in_force("c-1", 11, floor=15) == Threshold(15)
    assert threshold_in_force("c-1", 11).describe() == "the deployment floor 11"
    assert threshold_in_force("c-1", None, floor=12).describe() == "the deployment floor 12"


def test_a_request_may_raise_the_threshold_never_lower_it():
    in_force = threshold_in_force("c-1", 20)
    assert report_threshold(None, in_force) == 20
    assert report_threshold(20, in_force) == 20
    assert report_threshold(35, in_force) == 35
    with pytest.raises(BelowThreshold) as caught:
        report_threshold(19, in_force)
    assert isinstance(caught.value, BadInput)
    assert (caught.value.asked, caught.value.in_force) == (19, in_force)
    assert "below campaign c-1's threshold 20" in str(caught.value)


def test_the_cli_and_the_service_word_the_same_refusal_in_their_own_terms(tmp_path, capsys):
    from cli.main import main

    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["report", "c-1", "--store", url, "--min-cell", "5"]) == 2
    err = capsys.readouterr().err
    assert "--min-cell 5 is below the deployment's floor 11" in err and "query" not in err
