"""Project configuration: settings, the Celery app, URLs and the embedded-mode helpers."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
