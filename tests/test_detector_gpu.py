"""The detector on a GPU gives what it gives on the CPU (runs only where CUDA is present).

Every stage but the measurement (scipy, on the CPU, from small cubes) is torch, so on a GPU
node the same code runs on the device. The same comparison, made once by a one-off script on
a lent NVIDIA H200 (torch 2.11+cu130, phantoms 500001-500003, version 2.1's weights), gave
identical rows and probabilities within 1e-7; this test itself has not yet run on a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.detection.detector import load_detector
from synth.phantom import make_phantom

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("seed", [2, 11])
def test_the_detector_on_cuda_matches_the_cpu(seed):
    ph = make_phantom(seed, "small")
    cpu = load_detector(device="cpu").detect(ph.hu, ph.spacing, threshold=0.5)
    gpu_det = load_detector(device="cuda")
    gpu = gpu_det.detect(ph.hu, ph.spacing, threshold=0.5)
    assert gpu_det.device.type == "cuda"
    assert len(cpu) and gpu.shape == cpu.shape
    assert np.allclose(gpu[:, :3], cpu[:, :3], atol=0.1)  # centres, voxels
    assert np.allclose(gpu[:, 3:5], cpu[:, 3:5], atol=0.1)  # sizes, mm
    assert (gpu[:, 5] == cpu[:, 5]).all()  # types
    assert np.allclose(gpu[:, 6], cpu[:, 6], atol=1e-3)  # probabilities
