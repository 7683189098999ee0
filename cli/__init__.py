"""The `lungscreen` command: parses arguments, calls one library function, prints.

`cli.main` builds the parser from one module per subcommand under `cli.commands`.
"""

__all__: list[str] = []
