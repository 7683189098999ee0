"""Connecting to Ray: embedded local, an existing cluster, or a submitted Ray Job."""

__all__: list[str] = []
