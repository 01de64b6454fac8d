"""``python -m drain_cli``: the ``drain`` command (drain_cli.main imported once, as a module)."""

from drain_cli.main import cli

cli()
