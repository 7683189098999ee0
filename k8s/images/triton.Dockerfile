# Triton Inference Server with lungscreen's model repository (GPU variant config).
# Triton 2.51 = NGC release 24.10, the same server version as the bundled local one.
# Build from the repo root:  docker build -f k8s/images/triton.Dockerfile -t lungscreen-triton .
#
# The NGC image's Python is 3.10 and its python-backend stub is built for it; lungscreen
# needs Python >= 3.11. So: install Python 3.11 into a venv that comes first on PATH (the
# stub finds its interpreter through `python3` on PATH), and swap in the Triton 2.51 stub
# built for 3.11 that the nvidia-pytriton wheel carries. The python backend then imports
# lungscreen's model code and torch from that venv.
# In k8s the model repository is served from a volume (PVC) mounted at /models; the image
# also carries a copy at /models so it runs stand-alone
# (`docker run --gpus all ... tritonserver --model-repository=/models`).
FROM nvcr.io/nvidia/tritonserver:24.10-py3
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv libpython3.11 \
 && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/lungscreen/venv
ENV PATH=/opt/lungscreen/venv/bin:$PATH
RUN pip install --no-cache-dir "torch>=2.4,<2.15" --index-url https://download.pytorch.org/whl/cu124
WORKDIR /opt/lungscreen/src
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY models ./models
COPY cluster ./cluster
COPY monitoring ./monitoring
RUN pip install --no-cache-dir ".[triton]" \
 && site=$(python -c "import os, pytriton; print(os.path.dirname(pytriton.__file__))") \
 && cp "$site/tritonserver/python_backend_stubs/3.11/triton_python_backend_stub" \
       /opt/tritonserver/backends/python/triton_python_backend_stub \
 && python -c "import models.detection.triton_model"
COPY models/repository_gpu /models
# the image's own non-root user (uid 1000)
USER 1000
ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh"]
CMD ["tritonserver", "--model-repository=/models"]
