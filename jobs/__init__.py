"""The screening campaign, one subpackage per stage of the data flow: spec, ingest, store,
run, report; plus recall (the authority's re-identification) and status.

Importing the package registers the built-in source kinds (jobs.ingest.sources.builtin_kinds), so
a spec validated anywhere knows them."""

from jobs.ingest.sources import builtin_kinds as _kinds  # noqa: F401  (registers the source kinds)

__all__: list[str] = []
