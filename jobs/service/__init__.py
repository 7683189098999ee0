"""The service (`lungscreen serve`): an HTTP API over the library in which every route names
the roles it serves and every request is checked and audited; how `serve` starts it (the
bind and private-file checks, uvicorn's limits) and its single sign-on settings."""

from jobs.service.app import create_app
from jobs.service.config import ServiceConfig
from jobs.service.limits import uvicorn_options
from jobs.service.oidc_config import OidcConfig, parse_role_map
from jobs.service.startup import check_bind, check_private_files, private_files

__all__ = ["OidcConfig", "ServiceConfig", "check_bind", "check_private_files", "create_app",
           "parse_role_map", "private_files", "uvicorn_options"]
