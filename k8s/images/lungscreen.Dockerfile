# The lungscreen image: Ray head, Ray workers and the campaign driver (KubeRay runs
# `ray start` in it; the RayJob runs `lungscreen campaign run ...`). Follows the
# rayproject/ray conventions: user `ray` (uid 1000, gid 100), Python in /home/ray/anaconda3.
# Build from the repo root:  docker build -f k8s/images/lungscreen.Dockerfile -t lungscreen .
# GPU variant: --build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu --build-arg TORCH_INDEX=cu124
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311-cpu
FROM ${RAY_IMAGE}
ARG TORCH_INDEX=cpu
USER ray
WORKDIR /home/ray/lungscreen
# torch first, from the matching wheel index, so pip never pulls a CUDA build by accident
RUN pip install --no-cache-dir "torch>=2.4,<2.15" --index-url "https://download.pytorch.org/whl/${TORCH_INDEX}"
COPY --chown=ray:users pyproject.toml README.md ./
COPY --chown=ray:users jobs ./jobs
COPY --chown=ray:users models ./models
COPY --chown=ray:users cluster ./cluster
COPY --chown=ray:users monitoring ./monitoring
RUN pip install --no-cache-dir ".[postgres]" && lungscreen --help >/dev/null
ENV LUNGSCREEN_DATA=/tmp/lungscreen-data
# KubeRay overrides the command to start Ray; run by hand the image is the CLI.
ENTRYPOINT ["lungscreen"]
CMD ["--help"]
