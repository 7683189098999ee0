"""Shared fixtures. Integration fixtures that start real servers live in tests/servers/."""

# Real-server fixtures, one module per server (add yours to this list).
pytest_plugins = [
    "tests.servers.prometheus",
    "tests.servers.postgres",
    "tests.servers.triton",
    "tests.servers.orthanc",
    "tests.foreign_cohort",
    "tests.cohorts",  # small_cohort, defect_cohort: synthetic cohorts, written once, cached
]


def pytest_configure(config: object) -> None:
    """One state folder for the session (saved specs, the default pseudonym key), never the
    user's own ~/.local/state/lungscreen; subprocesses inherit it."""
    import os
    import tempfile

    os.environ.setdefault("LUNGSCREEN_STATE_DIR", tempfile.mkdtemp(prefix="lungscreen-state-"))
