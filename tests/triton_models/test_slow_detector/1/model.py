"""TEST ONLY: a contract-v1 model that sleeps `sleep_s` seconds per request, finds nothing."""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.sleep_s = float(params.get("sleep_s", {}).get("string_value", "2.0"))

    def execute(self, requests):
        responses = []
        for _ in requests:
            time.sleep(self.sleep_s)
            rows = np.zeros((0, 7), dtype=np.float32)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("NODULES", rows)]))
        return responses
