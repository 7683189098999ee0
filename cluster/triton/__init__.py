"""Triton: the local server's life cycle, the client backend, its errors and shared memory."""

__all__: list[str] = []
