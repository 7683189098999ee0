"""The screening campaign, one subpackage per stage of the data flow: spec, ingest, store,
run, report; plus recall (the authority's re-identification) and status."""

__all__: list[str] = []
