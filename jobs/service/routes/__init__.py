"""The service's routes, a router per area (FastAPI's "bigger applications" layout):
`tokens` (who am I), `campaigns` (list, status), `reports`, `recall`, `ops` (probes, the
metrics scrape, the ops health) and `docs` (Swagger UI and ReDoc from the package's own
assets). What a route declares (roles, campaign lookup, slots) is in jobs.service.deps."""

__all__: list[str] = []
