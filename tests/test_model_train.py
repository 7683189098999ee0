"""`models.tooling.train.train` end to end on a few phantoms (the recipe, not the shipped
figures)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from models.detection.detector import load_detector
from models.tooling.train import TrainConfig, train

pytestmark = pytest.mark.slow


def test_training_writes_loadable_weights_and_its_record(tmp_path):
    cfg = dataclasses.replace(TrainConfig(), n_phantoms=3, val_phantoms=1, epochs=1,
                              workers=1, min_nodules=2, max_nodules=2)
    cache = tmp_path / "mined.pt"
    record = train(cfg, tmp_path / "w", cache)
    assert cache.exists()
    saved = json.loads((tmp_path / "w" / "nodule_net.json").read_text())
    assert saved["training_seeds"] == [100_000, 100_002]
    assert saved["train_examples"]["positives"] > 0 and saved["train_examples"]["negatives"] > 0
    assert cfg.min_operating_threshold <= saved["operating_threshold"] < 1.0
    assert saved["type_from_network"] is True and record["config"] == saved["config"]
    # every positive carries its nodule's diameter (the small-nodule weight reads it)
    from synth.phantom import make_phantom

    mined = torch.load(cache, weights_only=False)
    ex = mined["train"]
    truth = {round(n.diameter_mm, 3) for s in (100_000, 100_001)
             for n in make_phantom(s, cfg.profile, n_nodules=2).nodules}
    pos = ex.label > 0.5
    assert {round(float(d), 3) for d in ex.diameter[pos]} <= truth
    assert bool((ex.diameter[~pos] == 0).all())
    assert saved["train_examples"]["small_positives"] == int(
        (pos & (ex.diameter < cfg.small_nodule_mm)).sum())
    det = load_detector(tmp_path / "w" / "nodule_net.pt", device="cpu")
    assert det.pipeline.config.threshold == saved["operating_threshold"]
    # the cache is reused for the same data recipe, whatever the optimiser settings
    again = train(dataclasses.replace(cfg, lr=1e-3), tmp_path / "w2", cache)
    assert again["seconds"]["mining"] < record["seconds"]["mining"]  # type: ignore[index]
    a = torch.load(tmp_path / "w" / "nodule_net.pt", weights_only=True)
    assert all(np.isfinite(v.float().numpy()).all() for v in a.values())
