"""The reference nodule detector: candidates, then a 3D CNN, then measurement (contract v1).

    detector = load_detector()                       # weights shipped in models/weights/
    rows = detector.detect(volume_int16, (z, y, x))  # float32 [N, 7], input voxel coordinates
    detector.stage_timings                           # seconds per stage of the last call

Bad input raises `kernel.errors.BadInput`; a volume whose lungs are not (fully) covered raises
`models.detection.inputs.LungsNotCovered` (a BadInput; Lung-RADS category 0 applies).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from kernel.errors import PermanentError
from models.detection.network import network_from_state, weights_digest
from models.detection.patches import extract_patches
from models.detection.pipeline import Candidates, Pipeline, PipelineConfig, pick_device

__all__ = ["DEFAULT_WEIGHTS", "NoduleDetector", "load_detector", "patch_batches",
           "predict_patches", "score_candidates", "view_outputs"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "nodule_net.pt"
BATCH = 64
N_VIEWS = 6  # test-time views per patch (see _views)


def _views(x: torch.Tensor) -> torch.Tensor:
    """The test-time views of patches [B, 1, D, H, W]: as is, each axis flipped, all three
    flipped, and y/x transposed (the symmetries training augments with), stacked [6B, ...]."""
    return torch.cat([x, x.flip(2), x.flip(3), x.flip(4), x.flip((2, 3, 4)), x.transpose(3, 4)])


def patch_batches(cand: Candidates, batch: int = BATCH) -> Iterator[torch.Tensor]:
    """The candidates' normalised patches [B, 1, 32, 32, 32], `batch` at a time, in order."""
    for s in range(0, len(cand.blobs), batch):
        yield extract_patches(cand.iso, cand.blobs.centres[s : s + batch], cand.grid.iso_spacing)


@torch.no_grad()
def score_candidates(net: nn.Module, cand: Candidates, batch: int = BATCH
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(probability [N], type [N]) of every candidate: the mean over the test-time views
    (`_views`) of the network's outputs, patches batched through `net`."""
    dev = cand.iso.device
    if len(cand.blobs) == 0:
        return torch.zeros(0, device=dev), torch.zeros(0, dtype=torch.long, device=dev)
    probs, types = [], []
    for x in patch_batches(cand, batch):
        p, t = predict_patches(net, x)
        probs.append(p)
        types.append(t)
    return torch.cat(probs), torch.cat(types)


@torch.no_grad()
def view_outputs(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per test-time view of patches `x`: nodule probability [V, B], type probabilities
    [V, B, 3]."""
    out = net(_views(x)).reshape(N_VIEWS, x.shape[0], -1)
    return torch.sigmoid(out[:, :, 0]), out[:, :, 1:].softmax(-1)


@torch.no_grad()
def predict_patches(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(probability [B], type [B]) of normalised patches [B, 1, 32, 32, 32]: the network's
    outputs averaged over the test-time views."""
    p, k = view_outputs(net, x)
    return p.mean(0), k.mean(0).argmax(-1)


class NoduleDetector:
    """Finds lung nodules in an int16 HU volume; see the module docstring."""

    def __init__(self, net: nn.Module, version: str, device: torch.device,
                 config: PipelineConfig | None = None, type_from_network: bool = False) -> None:
        self.net = net.to(device).eval()
        self.version = version
        self.device = device
        self.pipeline = Pipeline(config or PipelineConfig(), device)
        self.type_from_network = type_from_network

    @property
    def stage_timings(self) -> dict[str, float]:
        """Seconds per stage (resample, mask, candidates, network, measure) of the last call."""
        return dict(self.pipeline.timings)

    def detect(self, volume: npt.NDArray[np.int16], spacing: tuple[float, float, float],
               threshold: float | None = None) -> npt.NDArray[np.float32]:
        """Contract v1 rows [N, 7] (z, y, x in `volume`'s voxels, ..., probability).

        `threshold` overrides the configured minimum probability (evaluation uses a low one).
        """
        cand = self.pipeline.prepare(volume, spacing)
        prob, types = score_candidates(self.net, cand)
        self.pipeline.mark_network_done()
        return self.pipeline.finish(cand, prob, types if self.type_from_network else None,
                                    threshold)


def load_detector(weights: Path | None = None, device: str | None = None,
                  config: PipelineConfig | None = None) -> NoduleDetector:
    """The detector with `weights` (default: the shipped ones) on `device` (default: CUDA if
    present, else CPU). The reporting threshold is the weights' `operating_threshold` (about
    1 false positive per validation scan) unless `config` says otherwise. Raises
    PermanentError when the weights are missing or unreadable."""
    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    dev = pick_device(device)
    try:
        blob = path.read_bytes()
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = network_from_state(state)
    except (OSError, RuntimeError, KeyError) as exc:
        raise PermanentError(f"cannot load detector weights {path}: {exc}; run `lungscreen "
                             "model train` or pass the path of a trained weights file") from exc
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    version = f"{meta.get('version', '0')}+{weights_digest(blob)}"
    if config is None:
        config = PipelineConfig(threshold=float(meta.get("operating_threshold", 0.5)))
    return NoduleDetector(net, version, dev, config,
                          type_from_network=bool(meta.get("type_from_network", False)))
