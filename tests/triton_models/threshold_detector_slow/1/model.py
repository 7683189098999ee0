"""TEST ONLY: threshold_detector, the fast contract-v1 model (models.detection.threshold)."""

from models.detection.threshold_triton import TritonPythonModel

__all__ = ["TritonPythonModel"]
