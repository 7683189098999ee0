"""The served detector: the pipeline Triton runs (resampling, lung mask, candidates, the
network, measurement), its inputs' checks, and the in-process backend."""

__all__: list[str] = []
