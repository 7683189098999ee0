"""FROC / CPM maths on hand-made detections and references."""

from __future__ import annotations

import numpy as np
import pytest

from models.tooling.froc import CPM_RATES, ScanDetections, ScanReferences, cpm, froc


def _refs(centres, diameters, included=None):
    d = np.asarray(diameters, dtype=float)
    inc = np.ones(d.size, bool) if included is None else np.asarray(included)
    return ScanReferences(np.asarray(centres, dtype=float).reshape(-1, 3), d, inc)


def _dets(centres, probs):
    return ScanDetections(np.asarray(centres, dtype=float).reshape(-1, 3),
                          np.asarray(probs, dtype=float))


def test_hit_is_within_the_radius_and_each_reference_counts_once():
    refs = [_refs([[0, 0, 0], [50, 0, 0]], [10.0, 4.0])]
    dets = [_dets([[0, 0, 4.9], [0, 3, 0], [50, 0, 2.1], [90, 0, 0]], [0.9, 0.8, 0.7, 0.6])]
    c = froc(dets, refs)
    # thresholds 0.9: 1 TP; 0.8: duplicate ignored; 0.7: 2.1 mm > 2 mm radius -> FP; 0.6: FP
    assert c.n_references == 2
    assert c.sensitivity.tolist() == [0.0, 0.5, 0.5, 0.5]
    assert c.fp_per_scan.tolist() == [0.0, 0.0, 1.0, 2.0]


def test_cpm_averages_sensitivity_at_the_seven_rates():
    # 8 scans, one nodule each; nodule i found with probability 1 - i/10; FPs interleaved
    refs = [_refs([[0, 0, 0]], [6.0]) for _ in range(8)]
    dets = []
    for i in range(8):
        tp = [[0, 0, 0]] if i < 6 else []
        tp_p = [1.0 - i / 10] if i < 6 else []
        dets.append(_dets([*tp, [100, 100, 100]], [*tp_p, 0.95 - i / 10]))
    c = froc(dets, refs)
    # TPs 1.0 .. 0.5, FPs 0.95 .. 0.25: 1 FP in 8 scans (1/8 per scan) allows the threshold
    # down to just above 0.85 -> TPs 1.0 and 0.9
    assert c.sensitivity_at(0.125) == pytest.approx(2 / 8)
    assert c.sensitivity_at(0.25) == pytest.approx(3 / 8)
    assert c.sensitivity_at(0.5) == pytest.approx(5 / 8)
    assert c.sensitivity_at(1.0) == pytest.approx(6 / 8)
    assert c.sensitivity_at(8.0) == pytest.approx(6 / 8)
    expected = np.mean([c.sensitivity_at(r) for r in CPM_RATES])
    assert cpm(c) == pytest.approx(expected)


def test_perfect_and_empty_detectors():
    refs = [_refs([[0, 0, 0]], [8.0]), _refs(np.zeros((0, 3)), [])]
    perfect = froc([_dets([[0, 0, 1]], [0.99]), _dets(np.zeros((0, 3)), [])], refs)
    assert cpm(perfect) == 1.0
    empty = froc([_dets(np.zeros((0, 3)), []), _dets(np.zeros((0, 3)), [])], refs)
    assert cpm(empty) == 0.0


def test_hits_on_excluded_references_are_neither_true_nor_false_positives():
    refs = [_refs([[0, 0, 0], [40, 0, 0]], [4.0, 10.0], included=[False, True])]
    c = froc([_dets([[0, 0, 0], [40, 0, 0]], [0.9, 0.5])], refs)
    assert c.n_references == 1
    assert c.fp_per_scan.max() == 0.0
    assert c.sensitivity.max() == 1.0


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="detection lists"):
        froc([], [_refs([[0, 0, 0]], [5.0])])
