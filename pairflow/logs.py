"""Structured logging: structlog JSON lines on stdout, secrets redacted, optional ClickHouse mirror.

Standard-library loggers (clickhouse-connect, uvicorn, ...) are routed through
the same processors, so every line on stdout has one shape; librdkafka's
(the ``librdkafka`` logger the Kafka clients are given) once per kind and
minute (`pairflow.log_repeats`).
"""

from __future__ import annotations

import hashlib
import atexit
import logging
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import msgspec
import structlog

from pairflow.clock import WALL_CLOCK
from pairflow.config import LoggingSettings, Settings
from pairflow.errors import StorageError
from pairflow.log_repeats import RepeatFilter
from pairflow.metrics import LOGS_MIRROR_DROPPED
from pairflow.redaction import REDACTED, is_secret_name, redact_url_passwords

__all__ = ["REDACTED", "ClickHouseMirror", "configure_logging", "get_logger", "redact_secrets"]

_mirror_guard = threading.local()


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if is_secret_name(str(key)) else _redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(item) for item in value)
    if isinstance(value, str):
        return redact_url_passwords(value)
    return value


def redact_secrets(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace values whose key names a secret (password, secret, key, token, private, ...) with "<redacted>".

    A structlog processor; nested dicts are redacted too, and so are passwords
    inside URLs in any string value (an error repr naming a DSN, say).
    """
    for key in list(event_dict):
        if is_secret_name(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


class ClickHouseMirror:
    """A structlog processor copying each record into the ``logs`` table through a BatchWriter.

    Records are never blocked on: when the writer is full the record still goes
    to stdout and ``pairflow_logs_mirror_dropped_total`` is incremented.
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if getattr(_mirror_guard, "active", False):
            return event_dict
        _mirror_guard.active = True
        try:
            now_ms = WALL_CLOCK.now_ms()
            fields = {
                k: v
                for k, v in event_dict.items()
                if k not in ("event", "level", "logger", "timestamp") and not k.startswith("_")
            }
            encoded_fields = msgspec.json.encode(fields, enc_hook=str).decode()
            message = str(event_dict.get("event", ""))
            level = str(event_dict.get("level", method_name))
            logger_name = str(event_dict.get("logger", ""))
            digest = hashlib.blake2b(
                f"{now_ms}|{logger_name}|{message}|{encoded_fields}|{time.perf_counter_ns()}".encode(), digest_size=12
            ).hexdigest()
            self.writer.add((now_ms, now_ms, digest, level, logger_name, message, encoded_fields))
        except (StorageError, TypeError, ValueError):
            LOGS_MIRROR_DROPPED.inc()
        finally:
            _mirror_guard.active = False
        return event_dict


# Client libraries that log every HTTP request at INFO; pollers would flood the log.
_PER_REQUEST_LOGGERS = ("httpx", "httpcore")


def configure_logging(settings: LoggingSettings, writer: Any = None, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library logging for this process.

    Parameters
    ----------
    settings
        Level, JSON or console output, and whether to mirror into ClickHouse.
    writer
        A `pairflow.storage.BatchWriter` on the ``logs`` table; records are
        mirrored into it when ``settings.to_clickhouse`` is true. The caller
        owns (and closes) the writer.
    stream
        Where lines go; default stdout.
    """
    level = logging.getLevelName(settings.level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    if settings.to_clickhouse and writer is not None:
        shared.append(ClickHouseMirror(writer))
    renderer = (
        structlog.processors.JSONRenderer() if settings.json_output else structlog.dev.ConsoleRenderer(colors=False)
    )

    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_pairflow", False):
            root.removeHandler(existing)
    handler._pairflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in _PER_REQUEST_LOGGERS:
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    librdkafka = logging.getLogger("librdkafka")
    if not any(isinstance(existing, RepeatFilter) for existing in librdkafka.filters):
        librdkafka.addFilter(RepeatFilter())


def start_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure logging for a command from its full settings; lines go to ``stream`` (default stdout).

    With ``logging.to_clickhouse`` the records are mirrored into the ``logs``
    table of ``settings.storage`` through a BatchWriter that is flushed and
    closed when the process exits. A command whose stdout is its report
    (``pairflow scan --format json``) passes stderr, so the report stays parseable.
    """
    writer = None
    if settings.logging.to_clickhouse:
        # Imported here: the storage package itself logs through this module.
        from pairflow.storage import BatchWriter, connect

        store = connect(settings.storage)
        store.init_schema()
        writer = BatchWriter(store, "logs", settings=settings.storage)
        atexit.register(store.close)
        atexit.register(writer.close)
    configure_logging(settings.logging, writer, stream)


def get_logger(name: str) -> Any:
    """Return a structlog logger named ``name`` (use the module's ``__name__``)."""
    return structlog.stdlib.get_logger(name)
