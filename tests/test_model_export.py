"""The exported network (TorchScript, ONNX) gives eager torch's outputs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from models.detection.detector import load_detector
from models.tooling.export import INPUT_NAME, OUTPUT_NAME, export_network


@pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")
def test_torchscript_and_onnx_match_eager_torch(tmp_path):
    net = load_detector(device="cpu").net
    result = export_network(net, tmp_path)
    assert result.torchscript.stat().st_size > 10_000
    assert result.onnx.stat().st_size > 10_000
    assert result.torchscript_max_abs_diff < 1e-4
    assert result.onnx_max_abs_diff < 1e-4
    # a batch size the export never saw: the batch axis is dynamic
    x = torch.rand(7, 1, 32, 32, 32) * 2.8 - 1.0
    with torch.no_grad():
        ref = net.eval()(x).numpy()
    sess = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    out = sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    assert out.shape == (7, 4)
    assert np.abs(out - ref).max() < 1e-4
    scripted = torch.jit.load(str(result.torchscript))
    assert np.abs(scripted(x).detach().numpy() - ref).max() < 1e-4
