"""Run the venue commands without the root CLI: ``python -m venue serve ...``."""

import typer

from venue.cli import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":
    app(prog_name="python -m venue")
