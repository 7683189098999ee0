"""One module per `lungscreen` subcommand; each exposes `register(subparsers)`."""

__all__: list[str] = []
