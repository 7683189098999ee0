"""lung_nodule_detector version 1: the code lives in the lungscreen package
(models.detection.triton_model).

The Python that runs Triton's python-backend stub must have lungscreen installed
(`pip install lungscreen`, or the editable install of a checkout).
"""

try:
    from models.detection.triton_model import TritonPythonModel
except ImportError as exc:  # pragma: no cover - only inside a misconfigured Triton
    raise ImportError(
        "lung_nodule_detector needs the lungscreen package in the Python that runs Triton's "
        "python backend stub; install it there (pip install lungscreen)"
    ) from exc

__all__ = ["TritonPythonModel"]
