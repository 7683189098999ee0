"""Metric definitions and exporter, Prometheus config, alert rules, dashboards, live status.

Campaign state comes in through `collector.ProgressSource`, a narrow read interface that the
results store implements (jobs.run.store_progress); nothing here imports the campaign."""

__all__: list[str] = []
