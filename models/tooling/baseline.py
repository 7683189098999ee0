"""The classical baseline: multi-scale LoG blobs inside the lung mask, no network.

Same resampling, lung mask, candidates and measurement as the reference detector; each
candidate's probability is a monotone function of its LoG response weighted by Hessian
blobness, so tubes (vessels) rank below spheres of the same contrast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from models.detection.blobs import Blobs
from models.detection.pipeline import Pipeline, PipelineConfig, pick_device

__all__ = ["BASELINE_THRESHOLD", "BASELINE_VERSION", "LogBaseline", "baseline_scores"]

BASELINE_VERSION = "log-baseline-1"
HALF_SCORE = 350.0  # weighted LoG response (HU) that maps to probability 0.5
BASELINE_THRESHOLD = 0.5


def baseline_scores(blobs: Blobs) -> torch.Tensor:
    """Probability in (0, 1) per candidate from its response and blobness."""
    s = blobs.response.clamp_min(0) * (0.3 + 0.7 * blobs.blobness)
    return s / (s + HALF_SCORE)


class LogBaseline:
    """Detector interface (`detect`, `version`, `stage_timings`) without a network."""

    version = BASELINE_VERSION

    def __init__(self, device: str | None = None, config: PipelineConfig | None = None) -> None:
        cfg = config or PipelineConfig(threshold=BASELINE_THRESHOLD)
        self.pipeline = Pipeline(cfg, pick_device(device))

    @property
    def stage_timings(self) -> dict[str, float]:
        """Seconds per stage of the last call (the network stage is the scoring)."""
        return dict(self.pipeline.timings)

    def detect(self, volume: npt.NDArray[np.int16], spacing: tuple[float, float, float],
               threshold: float | None = None) -> npt.NDArray[np.float32]:
        """Contract v1 rows [N, 7] in `volume`'s voxels; raises BadInput / LungsNotCovered."""
        cand = self.pipeline.prepare(volume, spacing)
        prob = baseline_scores(cand.blobs)
        self.pipeline.mark_network_done()
        return self.pipeline.finish(cand, prob, None, threshold)
