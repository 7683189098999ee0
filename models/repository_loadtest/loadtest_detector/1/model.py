"""loadtest_detector version 1: the code lives in the lungscreen package
(models.detection.loadtest_triton).

The checkout this repository sits in is put first on the stub's path: Triton's python stub
ignores PYTHONPATH, and a load test must serve the code it is measuring (a worktree's, not
whichever checkout the environment's editable install points at).
"""

import sys
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parents[4])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from models.detection.loadtest_triton import TritonPythonModel  # noqa: E402

__all__ = ["TritonPythonModel"]
