"""`python -m orchestration` is the `tessera` command."""

from .cli import app

app(prog_name="tessera")
