"""``pairflow config``: show the effective configuration or validate a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.syntax import Syntax

from app.options import ConfigOption, examples
from pairflow.config import Settings, load_settings
from pairflow.redaction import REDACTED, redact_url_passwords

__all__ = ["register", "settings_to_toml"]

config_app = typer.Typer(
    help="Inspect and validate pairflow configuration." + examples("pairflow config show", "pairflow config check pairflow.toml"),
    no_args_is_help=True,
)


def settings_to_toml(settings: Settings) -> str:
    """Render settings as TOML with every secret replaced by "<redacted>" and unset values left out."""
    return tomli_w.dumps(_to_toml_values(settings))


def _to_toml_values(model: BaseModel) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if value is not None:
            result[field.alias or name] = _to_toml_value(value)
    return result


def _to_toml_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _to_toml_values(value)
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, str):
        return redact_url_passwords(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_to_toml_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_toml_value(item) for key, item in value.items() if item is not None}
    return value


@config_app.command("show")
def show(config: ConfigOption = None) -> None:
    """Print the effective configuration (file + PAIRFLOW_* env overrides) as TOML, secrets redacted.

    \b
    Examples:
      pairflow config show --config pairflow.toml
    """
    settings = load_settings(config)
    text = settings_to_toml(settings)
    console = Console()
    if console.is_terminal:
        console.print(Syntax(text, "toml", theme="ansi_dark", background_color="default"))
    else:
        typer.echo(text, nl=False)


@config_app.command("check")
def check(path: Annotated[Path, typer.Argument(help="TOML config file to validate.")]) -> None:
    """Validate a config file (with current PAIRFLOW_* env overrides); exit 2 with one line on error.

    \b
    Examples:
      pairflow config check pairflow.toml
    """
    load_settings(path)
    typer.echo(f"{path}: ok")


def register(app: typer.Typer) -> None:
    """Add the ``config`` sub-command group to the root CLI."""
    app.add_typer(config_app, name="config")
