"""The Triton python-backend model behind `lung_nodule_detector` (contract v1).

The model repositories (models/repository: CPU, models/repository_gpu: GPU) hold only the
configs and a one-line `1/model.py` that imports `TritonPythonModel` from here, so the served
code is the package's code (linted, typed, installed with lungscreen) and the CPU and GPU
variants cannot drift apart.

- `initialize` loads the reference detector once per model instance, on the instance's
  device (`cuda:<id>` for KIND_GPU, the CPU otherwise), with the weights shipped in
  models/weights/ or those named by the config's optional `weights` parameter. A CPU
  instance (its own stub process) uses `cpu_threads` torch threads: the host's cores shared
  among the CPU instances, or the config's optional `cpu_threads` parameter.
- `execute` answers every request on its own: a bad request gets an INVALID_ARG error
  response (gRPC INVALID_ARGUMENT), a model failure an INTERNAL one, and the other requests
  of the same batch are still served. Nothing raised here takes the server down.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kernel.contract import INPUT_SPACING, INPUT_VOLUME, NODULE_COLUMNS, OUTPUT_NODULES
from kernel.errors import BadInput

if TYPE_CHECKING:
    from models.detection.detector import NoduleDetector
    from models.detection.inprocess import Detector

__all__ = ["TritonPythonModel", "cpu_threads"]

_log = logging.getLogger("models")


def cpu_threads(model_config: dict[str, Any], cores: int | None = None) -> int:
    """Torch threads for one CPU instance: the config's `cpu_threads` parameter, else the
    host's cores shared out among the KIND_CPU instances (at least 1)."""
    text = str(model_config.get("parameters", {}).get("cpu_threads", {})
               .get("string_value", "")).strip()
    if text:
        return max(1, int(text))
    count = sum(int(g.get("count", 1)) for g in model_config.get("instance_group", [])
                if str(g.get("kind", "KIND_CPU")) == "KIND_CPU") or 1
    return max(1, (cores or os.cpu_count() or 1) // count)


def _weights_parameter(args: dict[str, str]) -> Path | None:
    """The config's optional `weights` parameter (a path; relative to the model folder),
    or None for the weights shipped with lungscreen."""
    params = json.loads(args.get("model_config", "{}")).get("parameters", {})
    text = str(params.get("weights", {}).get("string_value", "")).strip()
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() else Path(args.get("model_repository", ".")) / path


class TritonPythonModel:
    """Triton's python-backend entry points: initialize, execute, finalize. `execute`
    answers through `self._detector` (any contract-v1 `detect`); a subclass may load
    another detector in its own `initialize` (models.detection.threshold_triton)."""

    _name = "lung_nodule_detector"
    _detector: NoduleDetector | Detector

    def initialize(self, args: dict[str, str]) -> None:
        from models.detection.detector import load_detector  # torch: in Triton only

        self._pb = importlib.import_module("triton_python_backend_utils")
        kind = args.get("model_instance_kind", "CPU")
        device = f"cuda:{args.get('model_instance_device_id', '0')}" if kind == "GPU" else "cpu"
        if kind != "GPU":  # several CPU instances share the cores instead of fighting over them
            import torch  # torch: in Triton only

            torch.set_num_threads(cpu_threads(json.loads(args.get("model_config", "{}"))))
        self._detector = load_detector(weights=_weights_parameter(args), device=device)
        _log.info(
            "lung_nodule_detector version %s instance %s on %s (detector %s)",
            args.get("model_version"),
            args.get("model_instance_name"),
            device,
            getattr(self._detector, "version", "?"),
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: Any) -> Any:
        pb = self._pb
        try:
            volume = pb.get_input_tensor_by_name(request, INPUT_VOLUME)
            spacing = pb.get_input_tensor_by_name(request, INPUT_SPACING)
            if volume is None or spacing is None:
                raise BadInput(f"the request needs both {INPUT_VOLUME} and {INPUT_SPACING}")
            # The detector validates the volume and spacing (models.detection.inputs.check_volume):
            # BadInput, or LungsNotCovered whose message starts "lungs not covered:".
            z, y, x = (float(v) for v in spacing.as_numpy().reshape(3))
            rows = np.asarray(self._detector.detect(volume.as_numpy(), (z, y, x)), dtype=np.float32)
            if rows.size == 0:
                rows = np.zeros((0, len(NODULE_COLUMNS)), dtype=np.float32)
            elif rows.ndim != 2 or rows.shape[1] != len(NODULE_COLUMNS):
                raise RuntimeError(f"detector returned shape {list(rows.shape)}, not [N, 7]")
            return pb.InferenceResponse(output_tensors=[pb.Tensor(OUTPUT_NODULES, rows)])
        except BadInput as exc:
            return pb.InferenceResponse(error=pb.TritonError(str(exc), pb.TritonError.INVALID_ARG))
        except Exception as exc:  # one failing request must not fail the instance
            _log.exception("%s failed on one request", self._name)
            message = f"the model failed on this volume ({type(exc).__name__}: {exc})"
            return pb.InferenceResponse(error=pb.TritonError(message, pb.TritonError.INTERNAL))

    def finalize(self) -> None:
        del self._detector
