"""The service (`lungscreen serve`): an HTTP API over the library in which every route names
the roles it serves and every request is checked and audited."""

from jobs.service.app import create_app
from jobs.service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
