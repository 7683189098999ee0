"""One module per `lungscreen` subcommand; each exposes `register(subparsers)`."""
