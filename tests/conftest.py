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
