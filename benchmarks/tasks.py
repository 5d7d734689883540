"""A task for the broker benchmark only; the benchmark's worker imports this module (-I)."""

from __future__ import annotations

import os

from config.celery import app


@app.task(name="benchmarks.record")
def record(path: str, i: int) -> None:
    """Append one line per completed task, so the benchmark can count completions."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{i}\n".encode())
    finally:
        os.close(fd)
