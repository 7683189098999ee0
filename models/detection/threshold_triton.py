"""The Triton python-backend model behind `threshold_detector` (contract v1, for tests and
load tests: see models.detection.threshold).

Its repository entry lives with the test models (tests/triton_models/threshold_detector):
a config and a one-line `1/model.py` importing `TritonPythonModel` from here. Config
parameters `delay_s` and `poison` become its `ThresholdConfig`. Requests are answered by the
reference model's python backend (models.detection.triton_model), which it extends: a bad
request gets INVALID_ARG (a lungs-not-covered one keeps its "lungs not covered:" prefix),
any other failure INTERNAL, and the other requests of a batch are still answered.
"""

from __future__ import annotations

import importlib
import json

from models.detection.threshold import ThresholdConfig, ThresholdDetector
from models.detection.triton_model import TritonPythonModel as ContractModel

__all__ = ["TritonPythonModel"]


class TritonPythonModel(ContractModel):
    """The reference model's python backend (requests, errors) over a `ThresholdDetector`."""

    _name = "threshold_detector"

    def initialize(self, args: dict[str, str]) -> None:
        self._pb = importlib.import_module("triton_python_backend_utils")
        params = json.loads(args.get("model_config", "{}")).get("parameters", {})
        values = {k: str(v.get("string_value", "")) for k, v in params.items()}
        self._detector = ThresholdDetector(ThresholdConfig.from_parameters(values))
