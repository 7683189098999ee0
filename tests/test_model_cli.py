"""`lungscreen model ...`: bad arguments are exit 2 with a message, export works."""

from __future__ import annotations

import pytest

from cli.main import main


def test_evaluate_needs_exactly_one_source(capsys):
    assert main(["model", "evaluate"]) == 2
    assert "either COHORT or --phantoms" in capsys.readouterr().err


def test_evaluate_refuses_training_seeds(capsys):
    assert main(["model", "evaluate", "--phantoms", "2", "--seed", "100026"]) == 2
    assert "were used to train the model" in capsys.readouterr().err


def test_evaluate_missing_cohort_folder(tmp_path, capsys):
    assert main(["model", "evaluate", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_evaluate_folder_without_truth(tmp_path, capsys):
    assert main(["model", "evaluate", str(tmp_path)]) == 2
    assert "ground_truth.jsonl or truth.json" in capsys.readouterr().err


def test_missing_weights_fail_with_what_to_do(tmp_path, capsys):
    assert main(["model", "export", "--weights", str(tmp_path / "none.pt")]) == 1
    assert "lungscreen model train" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")
def test_export_writes_both_files(tmp_path, capsys):
    assert main(["model", "export", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "TorchScript" in out and "ONNX" in out
    assert (tmp_path / "nodule_net.onnx").is_file() and (tmp_path / "nodule_net.ts.pt").is_file()


def test_combine_needs_two_members(tmp_path, capsys):
    from models.detection.detector import DEFAULT_WEIGHTS

    args = ["model", "combine", str(DEFAULT_WEIGHTS), "--out", str(tmp_path), "--version", "x",
            "--threshold", "0.8"]
    assert main(args) == 2
    assert "at least 2 members" in capsys.readouterr().err


def test_train_refuses_impossible_passes_floor_and_weight(capsys):
    assert main(["model", "train", "--passes", "9"]) == 2
    assert "--passes must be 1.." in capsys.readouterr().err
    assert main(["model", "train", "--min-threshold", "1.5"]) == 2
    assert "--min-threshold" in capsys.readouterr().err
    assert main(["model", "train", "--small-weight", "0"]) == 2
    assert "--small-weight must be positive" in capsys.readouterr().err
    assert main(["model", "train", "--small-juxtavascular", "1.2"]) == 2
    assert "--small-juxtavascular must lie in [0, 1]" in capsys.readouterr().err
    assert main(["model", "train", "--juxta-airway", "-0.1"]) == 2
    assert "--juxta-airway must lie in [0, 1]" in capsys.readouterr().err
