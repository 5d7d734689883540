"""A task the broker tests send to a real worker (which imports this module with -I)."""

from __future__ import annotations

from pathlib import Path

from config.celery import app


@app.task(name="tests.touch", acks_late=True)
def touch(path: str, text: str) -> None:
    Path(path).write_text(text)
