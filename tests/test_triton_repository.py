"""The Triton model repositories honour model contract v1; CPU and GPU variants agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from kernel.contract import INPUT_SPACING, INPUT_VOLUME, MODEL_NAME, OUTPUT_NODULES

MODELS = Path(__file__).resolve().parent.parent / "models"
CPU = MODELS / "repository" / MODEL_NAME
GPU = MODELS / "repository_gpu" / MODEL_NAME


def _config(folder: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse((folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


@pytest.mark.parametrize("folder", [CPU, GPU], ids=["cpu", "gpu"])
def test_config_is_contract_v1(folder: Path) -> None:
    cfg = _config(folder)
    dt = model_config_pb2.DataType
    assert cfg.name == MODEL_NAME and cfg.backend == "python"
    assert cfg.max_batch_size == 0
    assert [(i.name, i.data_type, list(i.dims)) for i in cfg.input] == [
        (INPUT_VOLUME, dt.TYPE_INT16, [-1, -1, -1]),
        (INPUT_SPACING, dt.TYPE_FP32, [3]),
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in cfg.output] == [
        (OUTPUT_NODULES, dt.TYPE_FP32, [-1, 7])
    ]
    policy = cfg.dynamic_batching.default_queue_policy
    assert policy.max_queue_size > 0, "an unbounded queue lets overload pile up volumes"
    assert policy.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
    assert policy.allow_timeout_override
    assert [p.name for p in (folder / "1").iterdir() if p.suffix == ".py"] == ["model.py"]


def test_cpu_and_gpu_variants_differ_only_in_placement_and_queue() -> None:
    cpu, gpu = _config(CPU), _config(GPU)
    kinds = model_config_pb2.ModelInstanceGroup.Kind
    assert [g.kind for g in cpu.instance_group] == [kinds.KIND_CPU]
    assert [g.kind for g in gpu.instance_group] == [kinds.KIND_GPU]
    for cfg in (cpu, gpu):
        cfg.ClearField("instance_group")
        cfg.dynamic_batching.default_queue_policy.ClearField("max_queue_size")
        cfg.dynamic_batching.default_queue_policy.ClearField("default_timeout_microseconds")
    assert cpu == gpu
    assert (CPU / "1" / "model.py").read_text() == (GPU / "1" / "model.py").read_text()


def test_served_model_is_the_package_code() -> None:
    shim = (CPU / "1" / "model.py").read_text()
    assert "from models.detection.triton_model import TritonPythonModel" in shim


def test_cpu_instances_share_the_cores() -> None:
    from google.protobuf import json_format

    from models.detection.triton_model import cpu_threads

    as_json = json_format.MessageToDict(_config(CPU), preserving_proto_field_name=True)
    count = sum(g.get("count", 1) for g in as_json["instance_group"])
    assert count >= 2
    assert cpu_threads(as_json, cores=16) == 16 // count
    assert cpu_threads(as_json, cores=1) == 1
    as_json["parameters"] = {"cpu_threads": {"string_value": "3"}}
    assert cpu_threads(as_json, cores=16) == 3
    assert cpu_threads({}, cores=4) == 4
