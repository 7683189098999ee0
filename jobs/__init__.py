"""The screening campaign: sources, ingest, selection, privacy, planning, execution, store,
aggregation, reports and the CLI."""
