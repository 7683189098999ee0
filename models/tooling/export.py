"""Exporting the network to TorchScript and ONNX, and checking both against eager torch.

The exported graph is the patch classifier ([N, 1, 32, 32, 32] -> [N, 4]) with a dynamic
batch axis: that is the part Triton's dynamic batching (or a GPU) speeds up. The stages
around it (resample, mask, candidates, measurement) stay in the python backend.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.detection.patches import PATCH_VOXELS

__all__ = ["ExportResult", "export_network", "max_abs_difference"]

INPUT_NAME = "PATCHES"
OUTPUT_NAME = "LOGITS"


@dataclass(frozen=True)
class ExportResult:
    """Where the exports went and how far each is from eager torch on random patches."""

    torchscript: Path
    onnx: Path
    torchscript_max_abs_diff: float
    onnx_max_abs_diff: float


@contextlib.contextmanager
def _torchscript_is_deliberate() -> Iterator[None]:
    """torch 2.9+ deprecates torch.jit (and the TorchScript-based ONNX exporter); Triton's
    pytorch backend still loads TorchScript, so the warning is expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _example(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    size = PATCH_VOXELS
    return torch.rand(n, 1, size, size, size, generator=g) * 2.8 - 1.0


def max_abs_difference(net: nn.Module, torchscript: Path, onnx_path: Path,
                       n: int = 5) -> tuple[float, float]:
    """Largest |export - eager| over `n` random patches, for TorchScript and ONNX."""
    import onnxruntime as ort  # onnxruntime: the check only

    net = net.eval()
    x = _example(n, seed=1)
    with torch.no_grad(), _torchscript_is_deliberate():
        ref = net(x).numpy()
        ts = torch.jit.load(str(torchscript))(x).numpy()  # type: ignore[no-untyped-call]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ox = sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    return float(np.abs(ts - ref).max()), float(np.abs(ox - ref).max())


def export_network(net: nn.Module, out_dir: Path) -> ExportResult:
    """Write `nodule_net.ts.pt` (TorchScript) and `nodule_net.onnx` to `out_dir`, checked."""
    net = net.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    ts_path = out_dir / "nodule_net.ts.pt"
    onnx_path = out_dir / "nodule_net.onnx"
    x = _example(2)
    with torch.no_grad(), _torchscript_is_deliberate():
        torch.jit.trace(net, x).save(str(ts_path))  # type: ignore[no-untyped-call]
    with _torchscript_is_deliberate():  # the TorchScript-based exporter needs no onnxscript
        torch.onnx.export(
            net, (x,), str(onnx_path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAME: {0: "n"}}, opset_version=17,
            dynamo=False,
        )
    ts_diff, onnx_diff = max_abs_difference(net, ts_path, onnx_path)
    return ExportResult(ts_path, onnx_path, ts_diff, onnx_diff)
