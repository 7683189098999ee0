"""One request to one Triton server: the contract checks before sending, the volume
through system shared memory (servers on this host) or plain gRPC, and the NODULES output
checked before it is believed."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from cluster.triton.config import TritonClientConfig
from cluster.triton.errors import Failure, classify_status
from cluster.triton.errors import status_code_of as _status_code_of
from cluster.triton.pool import MAX_MESSAGE, Server
from cluster.triton.shm import ShmSetupError
from kernel.contract import INPUT_SPACING, INPUT_VOLUME, OUTPUT_NODULES
from kernel.errors import BadInput, PermanentError

__all__ = ["check_input", "check_output", "infer_on", "resolve_version"]

_log = logging.getLogger("cluster")


def resolve_version(server: Server, config: TritonClientConfig) -> str:
    """The pinned version if it is ready, else the highest version the server reports."""
    name, timeout = config.model_name, config.probe_timeout_s
    if config.model_version:
        if not server.client.is_model_ready(
            name, config.model_version, client_timeout=timeout
        ):
            raise InferenceServerException(
                f"model {name} version {config.model_version} is not ready",
                status="StatusCode.UNAVAILABLE",
            )
        return config.model_version
    meta = server.client.get_model_metadata(name, client_timeout=timeout)
    versions = [v for v in meta.versions if v.isdigit()]
    if not versions:
        raise InferenceServerException(
            f"model {name} reports no version", status="StatusCode.UNAVAILABLE"
        )
    return str(max(versions, key=int))


def infer_on(
    server: Server,
    config: TritonClientConfig,
    volume: npt.NDArray[np.int16],
    spacing: npt.NDArray[np.float32],
    version: str,
) -> npt.NDArray[np.float32]:
    vol_in = grpcclient.InferInput(INPUT_VOLUME, list(volume.shape), "INT16")
    spc_in = grpcclient.InferInput(INPUT_SPACING, [3], "FP32")
    spc_in.set_data_from_numpy(spacing)
    outputs = [grpcclient.InferRequestedOutput(OUTPUT_NODULES)]
    kwargs: dict[str, Any] = {
        "model_name": config.model_name,
        "model_version": version,
        "outputs": outputs,
        "client_timeout": config.timeout_s,
        "timeout": int(config.timeout_s * 1e6),
    }
    if server.use_shm:
        try:
            with server.pool(config.probe_timeout_s).lease(volume.nbytes) as region:
                vol_in.set_shared_memory(region.name, region.write(volume))
                result = server.client.infer(inputs=[vol_in, spc_in], **kwargs)
            return check_output(result.as_numpy(OUTPUT_NODULES), volume.shape)
        except ShmSetupError as exc:
            cause = exc.__cause__
            if (
                isinstance(cause, InferenceServerException)
                and classify_status(_status_code_of(cause)) is Failure.RETRYABLE
            ):
                raise cause from None  # the server is down or busy, not unable to share
            if config.shared_memory == "on":
                raise PermanentError(
                    f"shared memory with Triton at {server.url} failed ({exc}: {cause}); "
                    "run the client on the server's host, or set shared_memory to auto/off"
                ) from None
            _log.warning(
                "shared memory unusable with %s (%s); using plain gRPC", server.url, cause
            )
            server.use_shm = False
            server.drop_pool(grace_s=0)
            vol_in = grpcclient.InferInput(INPUT_VOLUME, list(volume.shape), "INT16")
    if volume.nbytes >= MAX_MESSAGE:
        raise BadInput(
            f"volume of {volume.nbytes} bytes exceeds the 2 GiB gRPC limit; crop it or "
            "run the client on the server's host (shared memory)"
        )
    vol_in.set_data_from_numpy(volume)
    result = server.client.infer(inputs=[vol_in, spc_in], **kwargs)
    return check_output(result.as_numpy(OUTPUT_NODULES), volume.shape)


def check_input(
    volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float32]]:
    """Contract checks done before sending anything (the model checks the rest)."""
    arr = np.asarray(volume)
    if arr.dtype != np.int16:
        raise BadInput(f"VOLUME dtype is {arr.dtype}; the model takes int16 Hounsfield units")
    if arr.ndim != 3 or 0 in arr.shape:
        raise BadInput(f"VOLUME shape is {list(arr.shape)}; expected a non-empty [D, H, W] volume")
    spc = np.asarray(spacing, dtype=np.float64)
    if spc.shape != (3,) or not all(math.isfinite(v) and v > 0 for v in spc):
        raise BadInput(
            f"SPACING is {list(np.asarray(spacing).reshape(-1))}; expected three finite "
            "positive (z, y, x) millimetres"
        )
    return np.ascontiguousarray(arr), spc.astype(np.float32)


def check_output(rows: Any, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """NODULES validated: [N, 7] finite float32, known types, probabilities in [0, 1]."""
    if rows is None:
        raise PermanentError("Triton returned no NODULES output; the model breaks contract v1")
    arr = np.asarray(rows)
    if arr.dtype != np.float32 or arr.ndim != 2 or arr.shape[1] != 7:
        raise PermanentError(
            f"NODULES is {arr.dtype} {list(arr.shape)}; contract v1 expects float32 [N, 7]"
        )
    if arr.size and (
        not np.isfinite(arr).all()
        or not np.isin(arr[:, 5], (0.0, 1.0, 2.0)).all()
        or (arr[:, 6] < 0).any()
        or (arr[:, 6] > 1).any()
        or (arr[:, :3] < -1).any()
        or (arr[:, :3] > np.asarray(shape, dtype=np.float32)).any()
    ):
        raise PermanentError(
            "NODULES holds NaN, an unknown type, a probability outside [0, 1] or a centre "
            "outside the volume; invalid model output, quarantine the study"
        )
    return arr
