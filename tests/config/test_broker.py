"""A task sent through a real broker reaches a real Celery worker: Redis (production) and the
embedded default (kombu's SQLAlchemy transport on the embedded PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import embedded

BASE_DIR = Path(__file__).resolve().parents[2]


def _roundtrip(broker_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "CELERY_BROKER_URL": broker_url, "LOG_LEVEL": "WARNING"}
    if broker_url.startswith("sqla+"):
        env.pop("CELERY_BROKER_URL")  # the embedded default is what is under test
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-I", "tests.broker_tasks",
         "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        target = tmp_path / "done.txt"
        send = (
            "import django; django.setup()\n"
            "from config.celery import app\n"
            "assert app.conf.broker_url.startswith({!r}), app.conf.broker_url\n"
            "from tests.broker_tasks import touch\n"
            "touch.delay({!r}, 'delivered')\n"
        ).format(broker_url.split(":")[0], str(target))
        subprocess.run([sys.executable, "-c", send], cwd=BASE_DIR, env=env, check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not target.exists():
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.1)
        assert target.read_text() == "delivered"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.broker
def test_a_task_reaches_a_worker_through_redis(redis_url: str, tmp_path: Path) -> None:
    _roundtrip(redis_url, tmp_path)


def test_a_task_reaches_a_worker_through_the_embedded_broker(tmp_path: Path) -> None:
    if "DATABASE_URL" in os.environ or "CELERY_BROKER_URL" in os.environ:
        pytest.fail(
            "this test is about the embedded default: unset DATABASE_URL and CELERY_BROKER_URL"
        )
    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    _roundtrip("sqla+" + endpoint.sqlalchemy_url(), tmp_path)
