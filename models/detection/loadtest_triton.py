"""The Triton python-backend model behind `loadtest_detector` (contract v1, load tests:
see models.detection.loadtest).

Its repository is models/repository_loadtest: a config and a one-line `1/model.py` importing
`TritonPythonModel` from here. The config parameter `delay_ms` becomes its `LoadTestConfig`.
Requests are answered by the reference model's python backend (models.detection.triton_model),
which it extends: a bad request gets INVALID_ARG, any other failure INTERNAL, and the other
requests of a batch are still answered.
"""

from __future__ import annotations

import importlib
import json

from models.detection.loadtest import LOADTEST_MODEL, LoadTestConfig, LoadTestDetector
from models.detection.triton_model import TritonPythonModel as ContractModel

__all__ = ["TritonPythonModel"]


class TritonPythonModel(ContractModel):
    """The reference model's python backend (requests, errors) over a `LoadTestDetector`."""

    _name = LOADTEST_MODEL

    def initialize(self, args: dict[str, str]) -> None:
        self._pb = importlib.import_module("triton_python_backend_utils")
        params = json.loads(args.get("model_config", "{}")).get("parameters", {})
        values = {k: str(v.get("string_value", "")) for k, v in params.items()}
        self._detector = LoadTestDetector(LoadTestConfig.from_parameters(values))
