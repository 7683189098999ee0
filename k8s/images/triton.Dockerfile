# Triton Inference Server with lungscreen's model repository (GPU variant config).
# Triton 2.51 = NGC release 24.10, the same server version as the bundled local one.
# Build from the repo root:  docker build -f k8s/images/triton.Dockerfile -t lungscreen-triton .
# In k8s the repository is served from a volume (PVC) mounted at /models; this image also
# carries a copy at /models so it runs stand-alone (`docker run --gpus all ... tritonserver
# --model-repository=/models`). The python backend imports lungscreen's model code, so the
# package and torch are installed into the image's Python.
FROM nvcr.io/nvidia/tritonserver:24.10-py3
RUN pip install --no-cache-dir "torch>=2.4,<2.15" --index-url https://download.pytorch.org/whl/cu124
WORKDIR /opt/lungscreen
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY models ./models
COPY cluster ./cluster
COPY monitoring ./monitoring
RUN pip install --no-cache-dir --no-deps . && pip install --no-cache-dir numpy scipy pydicom pyyaml pydantic
COPY models/repository_gpu /models
RUN useradd --uid 1000 --create-home triton-user 2>/dev/null || true
USER 1000
ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh"]
CMD ["tritonserver", "--model-repository=/models"]
