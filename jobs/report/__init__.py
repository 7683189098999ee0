"""Reports: aggregation per group, small-cell suppression, and the renderers."""

__all__: list[str] = []
