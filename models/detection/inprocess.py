"""The in-process backend: contract v1 inference without Triton, on the same model code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.detection.detector import NoduleDetector, load_detector

__all__ = ["InProcessBackend"]


class InProcessBackend:
    """`kernel.contract.InferenceBackend` over a `NoduleDetector` in this process."""

    def __init__(self, detector: NoduleDetector | None = None, *,
                 weights: Path | None = None, device: str | None = None) -> None:
        self.detector = detector if detector is not None else load_detector(weights, device)

    @property
    def model_version(self) -> str:
        """The detector's version (weights' version and content hash)."""
        return self.detector.version

    def infer(self, volume: npt.NDArray[np.int16],
              spacing: tuple[float, float, float]) -> npt.NDArray[np.float32]:
        """NODULES [N, 7] for `volume`; raises BadInput / LungsNotCovered as the detector does."""
        return self.detector.detect(volume, spacing)
