"""Ray connection, the local Triton server's life cycle, the Triton client pool."""
