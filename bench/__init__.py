"""Benchmarks: each stage's timings and the end-to-end throughput, medians of runs.

Every suite is a `bench.suites.Suite`, listed in `bench.suites.SUITES`; `lungscreen bench`
runs them. Benchmarks sit above the runtime packages: nothing in kernel, models, cluster,
monitoring or jobs imports them.
"""

__all__: list[str] = []
