"""``PAIRFLOW_*`` environment variables: read them as a user would write them, refuse the ones that mean nothing.

Two rules the environment source of pydantic-settings does not give:

* A list of strings may be written ``BTC,ETH`` as well as JSON ``["BTC","ETH"]``;
  any other value that is not JSON is a one-line `ConfigError`, not a traceback.
* A variable under the prefix that names no setting fails, as an unknown key
  in the file does; ``PAIRFLOW_STORAGE_DSN`` (one underscore) would otherwise
  be ignored in silence while the user believes it applies.

>>> from pairflow.config import Settings
>>> unknown_variable_reason(Settings, ["storage", "dsn"]) is None
True
>>> print(unknown_variable_reason(Settings, ["storage_dsn"], "PAIRFLOW_"))
no config section 'storage_dsn'; did you mean PAIRFLOW_STORAGE__DSN? Sections and fields are separated by two underscores
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource

from pairflow.errors import ConfigError
from pairflow.redaction import REDACTED, is_secret_name

__all__ = ["CommaListEnvSource", "check_environment", "unknown_variable_reason"]

_DELIMITER = "__"


class CommaListEnvSource(EnvSettingsSource):
    """The environment source, accepting ``a,b,c`` for a list of strings and failing in one line on bad JSON."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError as error:
            if field is not None and _is_string_list(field.annotation):
                return [item.strip() for item in str(value).split(",")]
            shown = REDACTED if is_secret_name(field_name) else repr(value)
            raise ConfigError(
                f"environment value of {field_name} {shown} is not JSON ({error}); write e.g. '{{\"key\": 1}}'"
            ) from None


def check_environment(
    model: type[BaseModel], environ: Mapping[str, str], prefix: str, ignore: Collection[str] = ()
) -> None:
    """Raise a `ConfigError` for the first ``prefix*`` variable that names no field of ``model``.

    Names are compared case-insensitively, as the settings source reads them;
    variables in ``ignore`` (e.g. the config-file path) are not settings.
    """
    prefix, ignored = prefix.upper(), {name.upper() for name in ignore}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in ignored:
            continue
        reason = unknown_variable_reason(model, upper[len(prefix):].lower().split(_DELIMITER), prefix)
        if reason is not None:
            raise ConfigError(f"unknown environment variable {name}: {reason}")


def unknown_variable_reason(model: type[BaseModel], parts: list[str], prefix: str = "") -> str | None:
    """Why the path ``parts`` names no setting of ``model``, or None when it does (``prefix`` starts suggestions)."""
    current: type[BaseModel] = model
    for depth, part in enumerate(parts):
        fields = _fields(current)
        if part not in fields:
            what = "config section" if depth == 0 else f"setting in {'.'.join(parts[:depth])}"
            return f"no {what} {part!r}" + _hint(parts, depth, fields, prefix)
        annotation = fields[part].annotation
        nested = _model_in(annotation)
        if nested is None:
            rest = parts[depth + 1:]
            if rest and not _is_dict(annotation):
                return f"{'.'.join(parts[:depth + 1])} has no sub-setting {rest[0]!r}"
            return None
        current = nested
    return None


def _hint(parts: list[str], depth: int, fields: Mapping[str, FieldInfo], prefix: str) -> str:
    part = parts[depth]
    for name in sorted(fields, key=len, reverse=True):
        if part.startswith(name + "_"):
            fixed = [*parts[:depth], name, part[len(name) + 1:], *parts[depth + 1:]]
            suggestion = prefix + _DELIMITER.join(fixed).upper()
            return f"; did you mean {suggestion}? Sections and fields are separated by two underscores"
    return f" (known: {', '.join(sorted(fields))})"


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        fields[name.lower()] = info
        if info.alias:
            fields[info.alias.lower()] = info
    return fields


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def _is_dict(annotation: Any) -> bool:
    return annotation is dict or get_origin(annotation) is dict


def _is_string_list(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_string_list(arg) for arg in get_args(annotation))
    return get_origin(annotation) is list and get_args(annotation) == (str,)
