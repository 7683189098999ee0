"""Shared fixtures. Integration fixtures that start real servers live in tests/servers/."""
