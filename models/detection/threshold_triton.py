"""The Triton python-backend model behind `threshold_detector` (contract v1, for tests and
load tests: see models.detection.threshold).

Its repository entry lives with the test models (tests/triton_models/threshold_detector):
a config and a one-line `1/model.py` importing `TritonPythonModel` from here. Config
parameters `delay_s` and `poison` become its `ThresholdConfig`. As with the reference
model's python backend, a bad request gets INVALID_ARG (a lungs-not-covered one keeps its
"lungs not covered:" prefix), any other failure INTERNAL, and the other requests of a batch
are still answered.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

from kernel.contract import INPUT_SPACING, INPUT_VOLUME, OUTPUT_NODULES
from kernel.errors import BadInput
from models.detection.threshold import ThresholdConfig, ThresholdDetector

__all__ = ["TritonPythonModel"]

_log = logging.getLogger("models")


class TritonPythonModel:
    """Triton's python-backend entry points: initialize, execute."""

    def initialize(self, args: dict[str, str]) -> None:
        self._pb = importlib.import_module("triton_python_backend_utils")
        params = json.loads(args.get("model_config", "{}")).get("parameters", {})
        values = {k: str(v.get("string_value", "")) for k, v in params.items()}
        self._detector = ThresholdDetector(ThresholdConfig.from_parameters(values))

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: Any) -> Any:
        pb = self._pb
        try:
            volume = pb.get_input_tensor_by_name(request, INPUT_VOLUME)
            spacing = pb.get_input_tensor_by_name(request, INPUT_SPACING)
            if volume is None or spacing is None:
                raise BadInput(f"the request needs both {INPUT_VOLUME} and {INPUT_SPACING}")
            z, y, x = (float(v) for v in spacing.as_numpy().reshape(3))
            rows = self._detector.detect(volume.as_numpy(), (z, y, x))
            return pb.InferenceResponse(output_tensors=[pb.Tensor(OUTPUT_NODULES, rows)])
        except BadInput as exc:
            return pb.InferenceResponse(error=pb.TritonError(str(exc), pb.TritonError.INVALID_ARG))
        except Exception as exc:  # one failing request must not fail the instance
            _log.info("threshold_detector failed on one request: %s", type(exc).__name__)
            message = f"the model failed on this volume ({type(exc).__name__}: {exc})"
            return pb.InferenceResponse(error=pb.TritonError(message, pb.TritonError.INTERNAL))

