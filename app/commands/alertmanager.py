"""``pairflow alertmanager config``: the Alertmanager configuration with its secrets filled in from files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pairflow.alertmanager import render_alertmanager_config

__all__ = ["register"]

alertmanager_app = typer.Typer(help="Alertmanager configuration for pairflow's alerts.", no_args_is_help=True)


@alertmanager_app.command("config")
def config_command(
    secrets_dir: Annotated[
        Path, typer.Option("--secrets-dir", help="Directory with one file per secret named in the template.")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Write here (mode 600) instead of stdout.")] = None,
) -> None:
    """Render infra/alertmanager/alertmanager.yml, replacing each secret:NAME by the content of SECRETS_DIR/NAME."""
    text = render_alertmanager_config(secrets_dir)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(text)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``pairflow alertmanager`` to the CLI."""
    app.add_typer(alertmanager_app, name="alertmanager")
