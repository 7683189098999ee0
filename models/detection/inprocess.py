"""The in-process backend: contract v1 inference without Triton, on the same model code.

`inprocess_backend(name, parameters)` builds the model a campaign names: the reference
`lung_nodule_detector`, or `threshold_detector` (models.detection.threshold, the fast
contract-v1 model of orchestration and load tests), with its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from kernel.contract import MODEL_NAME
from kernel.errors import BadInput
from models.detection.threshold import THRESHOLD_MODEL, ThresholdConfig, ThresholdDetector

if TYPE_CHECKING:
    from models.detection.detector import NoduleDetector

__all__ = ["INPROCESS_MODELS", "Detector", "InProcessBackend", "inprocess_backend"]

INPROCESS_MODELS = (MODEL_NAME, THRESHOLD_MODEL)


class Detector(Protocol):
    """What the backend runs: a contract-v1 `detect` and a version."""

    @property
    def version(self) -> str: ...

    def detect(self, volume: npt.NDArray[np.int16], spacing: object
               ) -> npt.NDArray[np.float32]: ...


class InProcessBackend:
    """`kernel.contract.InferenceBackend` over a detector in this process (the reference
    `NoduleDetector` unless given another)."""

    def __init__(self, detector: NoduleDetector | Detector | None = None, *,
                 weights: Path | None = None, device: str | None = None) -> None:
        if detector is None:
            from models.detection.detector import load_detector  # torch: only when needed

            detector = load_detector(weights, device)
        self.detector = detector

    @property
    def model_version(self) -> str:
        """The detector's version (weights' version and content hash)."""
        return self.detector.version

    def infer(self, volume: npt.NDArray[np.int16],
              spacing: tuple[float, float, float]) -> npt.NDArray[np.float32]:
        """NODULES [N, 7] for `volume`; raises BadInput / LungsNotCovered as the detector does."""
        return self.detector.detect(volume, spacing)


def inprocess_backend(name: str, parameters: Mapping[str, str] | None = None
                      ) -> InProcessBackend:
    """The in-process backend for the model called `name`; raises BadInput for a model
    that cannot run in-process or parameters it does not take."""
    params = dict(parameters or {})
    if name == THRESHOLD_MODEL:
        try:
            config = ThresholdConfig.from_parameters(params)
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        return InProcessBackend(ThresholdDetector(config))
    if name != MODEL_NAME:
        raise BadInput(f"model {name!r} cannot run in-process; in-process models: "
                       f"{', '.join(INPROCESS_MODELS)} (or serve it with Triton: triton.urls)")
    if params:
        raise BadInput(f"{MODEL_NAME} takes no in-process parameters, got {sorted(params)}")
    return InProcessBackend()
