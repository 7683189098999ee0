"""Merging a nodule's duplicate candidates before FROC (models.tooling.dedupe)."""

from __future__ import annotations

import numpy as np

from models.tooling.dedupe import suppress_duplicates


def test_rim_and_scale_duplicates_of_a_nodule_are_merged() -> None:
    centres = np.asarray([[50.0, 50.0, 50.0],  # a 20 mm nodule, found at its scale
                          [50.0, 50.0, 61.0],  # a blob on its rim, just outside its radius
                          [50.0, 50.0, 48.0],  # a smaller scale inside it
                          [50.0, 80.0, 50.0]])  # something else, 30 mm away
    radius = np.asarray([9.0, 3.0, 4.0, 3.0])
    prob = np.asarray([0.99, 0.95, 0.9, 0.5])
    assert suppress_duplicates(centres, radius, prob).tolist() == [0, 3]


def test_a_less_probable_candidate_does_not_suppress_a_more_probable_one() -> None:
    centres = np.asarray([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    radius = np.asarray([10.0, 2.0])
    prob = np.asarray([0.2, 0.9])  # the big blob scores low: the small one is kept first,
    # and its own (small) reach does not cover the big one, which stays, ranked second
    assert suppress_duplicates(centres, radius, prob).tolist() == [1, 0]


def test_nearby_small_candidates_are_kept_apart_beyond_the_minimum_distance() -> None:
    centres = np.asarray([[0.0, 0.0, 0.0], [0.0, 0.0, 3.5], [0.0, 0.0, 1.0]])
    radius = np.asarray([1.0, 1.0, 1.0])
    prob = np.asarray([0.9, 0.8, 0.7])
    assert suppress_duplicates(centres, radius, prob).tolist() == [0, 1]
    assert suppress_duplicates(np.zeros((0, 3)), np.zeros(0), np.zeros(0)).tolist() == []
