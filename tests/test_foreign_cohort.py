"""Scan and load a cohort written by another program (tests/foreign_cohort.py)."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.ingest.discovery import discover
from jobs.ingest.selection import Selected, select_series
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import load_volume


@pytest.fixture(scope="module")
def decisions(foreign_cohort):
    source = FolderSource(foreign_cohort.dicom)
    return source, {s.study_uid: select_series(s) for s in discover([source])}


def test_every_study_is_selected_as_the_truth_says(foreign_cohort, decisions):
    _, by_uid = decisions
    truth = foreign_cohort.by_study_uid()
    assert set(by_uid) == set(truth)
    for uid, decision in by_uid.items():
        expected = truth[uid]["expected"]
        assert isinstance(decision, Selected), (truth[uid]["name"], decision)
        assert decision.series.series_uid == expected["series_uid"]
        assert decision.slice_count == expected["slices"]
        assert decision.spacing == pytest.approx(expected["spacing"], abs=1e-3)


def test_volumes_show_the_phantom_where_the_truth_says(foreign_cohort, decisions):
    source, by_uid = decisions
    for t in foreign_cohort.truth:
        vol = load_volume(source, by_uid[t["study_uid"]])
        assert vol.hu.shape == (120, 160, 160), t["name"]
        for n in t["nodules"]:
            k, i, j = n["center_voxel"]
            assert abs(int(vol.hu[k, i, j]) - n["hu"]) < 45, (t["name"], n)
        # the right lung's centre (patient left is +x; column index of x = +68 mm)
        lung = vol.hu[60, 80, 80 + round(68 / 2.2) + 12]
        assert -900 < int(lung) < -800, t["name"]
        assert int(vol.hu[60, 2, 2]) < -950  # air outside the body


def test_slices_stored_head_first_load_foot_first(foreign_cohort, decisions):
    source, by_uid = decisions
    t = next(t for t in foreign_cohort.truth if t["name"] == "head_first")
    d = by_uid[t["study_uid"]]
    z = [h.position[2] for h in d.slices]
    assert z == sorted(z) and d.slices[0].instance_number == 120
    assert np.isfinite(load_volume(source, d).hu).all()


def test_scan_cli_selects_all_four(foreign_cohort, capsys, tmp_path):
    import json

    from cli.main import main

    assert (
        main(["scan", str(foreign_cohort.dicom), "--json", "--key-file", str(tmp_path / "k")]) == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    summary = lines[-1]
    assert summary["studies"] == 4 and summary["studies_selected"] == 4
    assert summary["files_rejected"] == {}
