"""The service (`lungscreen serve`): an HTTP API over the library in which every route names
the roles it serves and every request is checked and audited."""

from jobs.service.app import ServiceConfig, create_app

__all__ = ["ServiceConfig", "create_app"]
