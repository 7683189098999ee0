"""The fast test model (`threshold_detector`, models.detection.threshold) honours model
contract v1 exactly as the reference detector does: the same tensors in Triton's metadata,
the same refusals of bad input (over gRPC and in-process), NODULES float32 [N, 7] in input
voxels, deterministic answers; and its own promises: isolated spheres come back with their
sizes, the delay, and the poison mark failing one study."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import LocalTritonServer
from kernel.contract import MODEL_NAME, NODULE_COLUMNS, nodules_from_array
from kernel.errors import BadInput, LungsNotCovered, PermanentError
from models.detection.inprocess import InProcessBackend, inprocess_backend
from models.detection.threshold import (
    THRESHOLD_MODEL,
    ThresholdConfig,
    ThresholdDetector,
    mark_poison,
)
from synth.phantom import crop_z, make_phantom
from tests.model_volumes import BAD_INPUTS, Chest, Sphere, make_chest

PHANTOM_SEEDS = (3, 4)


def _metadata(server: LocalTritonServer, model: str) -> dict[str, object]:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        meta = client.get_model_metadata(model, as_json=True, client_timeout=10)
    finally:
        client.close()
    return {"inputs": meta["inputs"], "outputs": meta["outputs"]}


def _raw_infer(server: LocalTritonServer, model: str, volume: np.ndarray,
               spacing: list[float]) -> np.ndarray:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    sp = np.asarray(spacing, dtype=np.float32)
    try:
        vol = grpcclient.InferInput("VOLUME", list(volume.shape),
                                    "INT16" if volume.dtype == np.int16 else "FP32")
        vol.set_data_from_numpy(volume)
        spc = grpcclient.InferInput("SPACING", list(sp.shape), "FP32")
        spc.set_data_from_numpy(sp)
        rows = client.infer(model, [vol, spc], client_timeout=600).as_numpy("NODULES")
    finally:
        client.close()
    assert rows is not None
    return np.asarray(rows)


@pytest.mark.integration
@pytest.mark.slow
def test_both_models_publish_the_same_contract_tensors(
    triton_server: LocalTritonServer, contract_triton_server: LocalTritonServer
) -> None:
    assert _metadata(contract_triton_server, THRESHOLD_MODEL) == _metadata(triton_server,
                                                                           MODEL_NAME)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("model", [MODEL_NAME, THRESHOLD_MODEL])
def test_both_models_refuse_bad_input_alike_over_grpc(
    model: str, triton_server: LocalTritonServer, contract_triton_server: LocalTritonServer
) -> None:
    server = triton_server if model == MODEL_NAME else contract_triton_server
    for case, (volume, spacing, message) in BAD_INPUTS.items():
        with pytest.raises(InferenceServerException) as info:
            _raw_infer(server, model, volume, spacing)
        assert info.value.status() == "StatusCode.INVALID_ARGUMENT", (model, case)
        assert message.lower() in info.value.message().lower(), (model, case)


@pytest.mark.slow
@pytest.mark.parametrize("model", [MODEL_NAME, THRESHOLD_MODEL])
def test_both_models_refuse_bad_input_alike_in_process(model: str) -> None:
    backend = inprocess_backend(model)
    for case, (volume, spacing, message) in BAD_INPUTS.items():
        if case in ("float-volume", "two-spacings"):  # refused by Triton's own shape checks
            with pytest.raises(BadInput):
                backend.infer(volume, spacing)  # type: ignore[arg-type]
            continue
        expected = LungsNotCovered if "lungs" in message else BadInput
        with pytest.raises(expected) as info:
            backend.infer(volume, spacing)  # type: ignore[arg-type]
        assert message.lower() in str(info.value).lower(), (model, case)


@pytest.mark.integration
@pytest.mark.slow
def test_both_models_answer_float32_rows_of_seven_in_the_volume(
    triton_server: LocalTritonServer, contract_triton_server: LocalTritonServer
) -> None:
    # a small hand-built chest with one nodule both models find (a phantom costs the
    # reference detector three times as long; test_triton_model runs phantoms)
    chest = Chest(shape=(72, 128, 128), spacing=(2.5, 2.5, 2.5),
                  spheres=(Sphere((90.0, 150.0, 100.0), 12.0),))
    volume = make_chest(chest)
    for server, model in ((triton_server, MODEL_NAME), (contract_triton_server, THRESHOLD_MODEL)):
        rows = _raw_infer(server, model, volume, list(chest.spacing))
        assert rows.dtype == np.float32 and rows.ndim == 2, model
        assert rows.shape[1] == len(NODULE_COLUMNS) and rows.shape[0] >= 1, model
        inside = (rows[:, :3] >= 0).all() and (rows[:, :3] < volume.shape).all()
        assert inside, model
        nodules_from_array(rows)  # parses: types 0-2, every column present


@pytest.mark.integration
def test_the_served_threshold_model_equals_the_in_process_one(
    contract_triton_server: LocalTritonServer,
) -> None:
    backend = TritonBackend(TritonClientConfig(urls=(contract_triton_server.grpc_url,),
                                               model_name=THRESHOLD_MODEL))
    local = inprocess_backend(THRESHOLD_MODEL)
    try:
        for seed in PHANTOM_SEEDS:
            ph = make_phantom(seed, "small")
            # the same rows; SPACING travels as float32, so the last bits may differ
            np.testing.assert_allclose(backend.infer(ph.hu, ph.spacing),
                                       local.infer(ph.hu, ph.spacing), rtol=1e-6, atol=1e-5)
        marked = make_phantom(PHANTOM_SEEDS[0], "small").hu.copy()
        mark_poison(marked, 5)
        with pytest.raises(PermanentError, match="poison"):
            backend.infer(marked, (2.0, 1.4, 1.4))
    finally:
        backend.close()


def test_isolated_spheres_come_back_with_their_sizes_and_types() -> None:
    spheres = (Sphere((80.0, 150.0, 100.0), 12.0), Sphere((60.0, 160.0, 220.0), 8.0),
               Sphere((100.0, 140.0, 90.0), 10.0, hu=-550.0),
               Sphere((70.0, 170.0, 110.0), 14.0, hu=-550.0, core_diameter_mm=8.0))
    # the small profile's grid: 2 mm slices, 1.25 mm pixels
    chest = Chest(shape=(80, 256, 256), spacing=(2.0, 1.25, 1.25), spheres=spheres)
    rows = ThresholdDetector().detect(make_chest(chest), chest.spacing)
    found = nodules_from_array(rows)
    sp = np.asarray(chest.spacing)
    assert len(found) == len(spheres), found
    for sphere, kind in zip(spheres, (0, 0, 2, 1), strict=True):
        centre = np.asarray(sphere.centre_mm) / sp
        near = [n for n in found
                if np.linalg.norm((np.asarray([n.z, n.y, n.x]) - centre) * sp) < 3.0]
        assert len(near) == 1, (sphere, found)
        assert abs(near[0].diameter_mm - sphere.diameter_mm) <= 2.5, (sphere, near[0])
        assert int(near[0].type) == kind, (sphere, near[0])


def test_answers_are_deterministic_and_a_cut_series_is_not_covered() -> None:
    ph = make_phantom(PHANTOM_SEEDS[1], "small")
    detector = ThresholdDetector()
    np.testing.assert_array_equal(detector.detect(ph.hu, ph.spacing),
                                  detector.detect(ph.hu.copy(), ph.spacing))
    half = crop_z(ph, 0, ph.hu.shape[0] // 2)
    with pytest.raises(LungsNotCovered, match="lungs not covered"):
        detector.detect(half.hu, half.spacing)


def test_delay_and_poison_knobs() -> None:
    ph = make_phantom(PHANTOM_SEEDS[1], "small")
    slow = InProcessBackend(ThresholdDetector(ThresholdConfig(delay_s=0.3)))
    start = time.perf_counter()
    slow.infer(ph.hu, ph.spacing)
    assert time.perf_counter() - start >= 0.3
    marked = ph.hu.copy()
    mark_poison(marked, 7)
    with pytest.raises(PermanentError, match="poison"):
        inprocess_backend(THRESHOLD_MODEL).infer(marked, ph.spacing)
    harmless = ThresholdDetector(ThresholdConfig(poison=False)).detect(marked, ph.spacing)
    assert harmless.shape[1] == len(NODULE_COLUMNS)
    assert ThresholdConfig.from_parameters({"delay_s": "1.5", "poison": "false"}) == \
        ThresholdConfig(delay_s=1.5, poison=False)
    with pytest.raises(BadInput, match="unknown threshold_detector parameters"):
        inprocess_backend(THRESHOLD_MODEL, {"sleep": "1"})
    with pytest.raises(BadInput, match="cannot run in-process"):
        inprocess_backend("someone_elses_model")
