"""Sealed locators: one token per series; the slices a task carries hold no locator or UID;
the worker's key opens them back to exactly what loading needs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobs.ingest import discover, select_series
from jobs.ingest.privacy import LocatorSeal
from jobs.ingest.sources.synthetic import SyntheticSource
from kernel.errors import RetryableError


@pytest.fixture(scope="module")
def selections():
    return [select_series(s) for s in discover([SyntheticSource(2, seed=3)])]


def test_a_series_is_sealed_as_one_token_and_opens_to_what_loading_needs(selections, tmp_path):
    seal = LocatorSeal(b"k" * 32, tmp_path / "key")
    selected = selections[0]
    sealed = seal.seal(selected)
    assert sealed.token and all(
        (h.locator, h.study_uid, h.series_uid, h.sop_uid, h.frame_of_reference_uid)
        == ("", "", "", "", None) for h in sealed.selected.slices)
    assert sealed.selected.study.study_uid == "" and sealed.selected.series.series_uid == ""
    assert not any(h.patient_id or h.institution for h in sealed.selected.slices)
    opened = seal.open(sealed.selected, sealed.token)
    assert opened.slices == selected.for_loading().slices
    assert opened.study.study_uid == selected.study.study_uid


def test_a_token_opens_only_its_own_series_under_its_own_key(selections, tmp_path):
    seal = LocatorSeal(b"k" * 32, tmp_path / "key")
    one, two = (seal.seal(s) for s in selections)
    shorter = replace(one.selected, slices=one.selected.slices[:-1])
    with pytest.raises(RetryableError, match="sealed for another selection"):
        seal.open(shorter, one.token)
    with pytest.raises(RetryableError, match="does not open"):
        LocatorSeal(b"x" * 32).open(one.selected, one.token)
    assert seal.open(two.selected, two.token).study.study_uid == selections[1].study.study_uid
