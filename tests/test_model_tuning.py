"""Tuning from dumps reads what the detector reads: same probabilities, same category."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from kernel.contract import nodules_from_array
from kernel.lungrads import categorize_study
from models.detection.detector import DEFAULT_WEIGHTS, load_detector, score_candidates
from models.detection.measure import Measurement
from models.detection.pipeline import Pipeline, PipelineConfig
from models.tooling.cohort import phantom_cases
from models.tooling.tuning import dump_phantoms, networks_in, score_dumps

SEED = 700002  # a tuning phantom (neither training nor held-out)


@pytest.fixture(scope="module")
def dumped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dump")
    dump_phantoms([DEFAULT_WEIGHTS], SEED, 1, out)
    return out


def test_an_ensemble_counts_as_its_members() -> None:
    assert len(networks_in([DEFAULT_WEIGHTS])) == 2
    assert len(networks_in([DEFAULT_WEIGHTS, DEFAULT_WEIGHTS])) == 4


@pytest.mark.slow
def test_dumped_outputs_and_category_are_the_detectors(dumped: Path) -> None:
    rec = torch.load(dumped / f"{SEED}.pt", weights_only=False)
    assert rec["networks"] == 2 and rec["pv"].shape[:2] == (2, 6)
    detector = load_detector(None, "cpu")
    prob, types = score_candidates(detector.net, rec["cand"])
    assert torch.allclose(rec["pv"].mean(0).mean(0), prob, atol=1e-5)
    assert torch.equal(rec["kv"].mean(0).mean(0).argmax(-1), types)
    case = next(phantom_cases(1, SEED))
    expected = categorize_study(nodules_from_array(detector.detect(case.hu, case.spacing)))
    thr = detector.pipeline.config.threshold
    res = score_dumps([dumped / f"{SEED}.pt"], [(0, 1), (0,), (1,)], [thr, 0.99])
    assert res.studies == 1
    assert res.agree[((0, 1), thr)] == int(expected is case.category)
    assert all(v in (0, 1) for v in res.agree.values())


def test_kept_measurements_give_the_findings_measured_afresh(dumped: Path) -> None:
    rec = torch.load(dumped / f"{SEED}.pt", weights_only=False)
    cand, pipe = rec["cand"], Pipeline(PipelineConfig(), torch.device("cpu"))
    measured: dict[tuple[int, int], Measurement] = {}
    for m in ((0, 1), (0,), (1,)):  # other probabilities and type hints over the same kept ones
        p, k = rec["pv"][list(m)].mean(0).mean(0), rec["kv"][list(m)].mean(0).argmax(-1)[0]
        for t in (0.3, 0.8, 0.99):
            kept = pipe.finish(cand, p, k, t, measured)
            assert np.array_equal(kept, pipe.finish(cand, p, k, t))
    assert len(measured) >= int((rec["pv"].mean(0).mean(0) >= 0.3).sum())


def test_tune_command_prints_the_table(dumped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "tune", str(dumped), "--combos", "0,1,0+1", "--thresholds",
                 "0.5,0.8", "--list"]) == 0
    out = capsys.readouterr().out
    assert "over 1 studies" in out and "0+1" in out
    assert main(["model", "tune", str(dumped), "--combos", "0+x"]) == 2
    assert "--combos" in capsys.readouterr().err
    assert main(["model", "tune", str(dumped), "--combos", "2"]) == 2
    assert "holds 2 networks" in capsys.readouterr().err


def test_dump_refuses_training_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "dump", str(DEFAULT_WEIGHTS), "--phantoms", "1", "--seed",
                 "100000", "--out", str(tmp_path)]) == 2
    assert "used to train the model" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
