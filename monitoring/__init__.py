"""Metric definitions and exporter, Prometheus config, alert rules, dashboards."""
