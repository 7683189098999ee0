"""The cluster: connecting to Ray (`cluster.ray`) and serving the model with Triton
(`cluster.triton`: the local server's life cycle, the client backend, shared memory)."""

__all__: list[str] = []
