"""`models.tooling.ensemble.combine` and the ensemble network: mean probabilities, a loadable
record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kernel.errors import BadInput
from models.detection.detector import load_detector, predict_patches
from models.detection.network import NoduleEnsemble, NoduleNet
from models.tooling.ensemble import combine


def _member(folder: Path, seed: int, seeds: list[int]) -> Path:
    torch.manual_seed(seed)
    net = NoduleNet()
    for m in net.modules():  # random BatchNorm statistics, so the members really differ
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    folder.mkdir()
    torch.save(net.state_dict(), folder / "nodule_net.pt")
    record = {"version": f"m{seed}", "type_from_network": True, "training_seeds": seeds}
    (folder / "nodule_net.json").write_text(json.dumps(record))
    return folder / "nodule_net.pt"


def test_the_ensemble_scores_the_mean_of_its_members(tmp_path):
    a = _member(tmp_path / "a", 1, [100, 199])
    b = _member(tmp_path / "b", 2, [150, 260])
    record = combine([a, b], tmp_path / "e", "9.9", 0.75)
    assert [m["version"] for m in record["members"]] == ["m1", "m2"]  # type: ignore[index]
    assert record["training_seeds"] == [100, 260]
    det = load_detector(tmp_path / "e" / "nodule_net.pt", device="cpu")
    assert isinstance(det.net, NoduleEnsemble)
    assert det.version.startswith("9.9+") and det.pipeline.config.threshold == 0.75
    assert det.type_from_network is True
    x = torch.rand(5, 1, 32, 32, 32) * 2.8 - 1.0
    pa, _ = predict_patches(load_detector(a, device="cpu").net, x)
    pb, _ = predict_patches(load_detector(b, device="cpu").net, x)
    pe, types = predict_patches(det.net, x)
    assert (pa - pb).abs().max() > 1e-3  # the members disagree, so the mean is a real test
    assert torch.allclose(pe, (pa + pb) / 2, atol=1e-5)
    assert types.shape == (5,) and int(types.max()) <= 2


def test_combine_refuses_what_is_not_an_ensemble_of_networks(tmp_path):
    a = _member(tmp_path / "a", 1, [1, 2])
    b = _member(tmp_path / "b", 2, [1, 2])
    with pytest.raises(BadInput, match="at least 2 members"):
        combine([a], tmp_path / "e", "1", 0.8)
    with pytest.raises(BadInput, match="threshold"):
        combine([a, b], tmp_path / "e", "1", 1.0)
    combine([a, b], tmp_path / "e", "1", 0.8)
    with pytest.raises(BadInput, match="not a single network"):
        combine([a, tmp_path / "e" / "nodule_net.pt"], tmp_path / "f", "1", 0.8)
