from __future__ import annotations

import pytest
import yaml
from django.test import Client

from tests import brokers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_heartbeat(settings):  # type: ignore[no-untyped-def]
    """Each test judges the worker afresh, and waits little for one that is not there."""
    from api.health import worker_heartbeat

    settings.WORKER_HEARTBEAT_TIMEOUT = 2.0
    worker_heartbeat.checked_at = -1e9
    yield
    worker_heartbeat.checked_at = -1e9


def test_healthz_answers_while_the_process_serves() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_broker_key_and_worker_are_usable(  # type: ignore[no-untyped-def]
    settings, redis_url: str, monkeypatch
) -> None:
    import threading

    from django.db import connection

    from config.celery import app, heartbeat

    def worker_runs(name: str, args: list[str], **options: object) -> None:
        """A worker's part, in a thread with its own connection (a real worker's round trip
        is in tests/config/test_launch.py)."""
        assert name == "config.heartbeat"
        assert options["queue"] == settings.CELERY_HEARTBEAT_QUEUE

        def run() -> None:
            heartbeat(*args)
            connection.close()

        threading.Thread(target=run).start()

    monkeypatch.setattr(app, "send_task", worker_runs)
    with brokers.using(redis_url):
        response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert {name: c["ok"] for name, c in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "signing_key": True,
        "worker": True,
    }


def test_readyz_is_503_naming_a_worker_that_takes_no_work(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    """The broker answers but no worker runs the heartbeat (none consumes its queue here)."""
    settings.CELERY_HEARTBEAT_QUEUE = "heartbeat-nobody-consumes"
    with brokers.using(redis_url):  # the heartbeat goes to Redis, where nobody consumes it
        response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is True
    assert checks["database"]["ok"] is True
    assert checks["worker"]["ok"] is False
    assert "the worker takes no work" in checks["worker"]["error"]


def test_readyz_is_503_naming_an_unusable_signing_key(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.LEDGER_KEY_FILE = tmp_path / "missing.pem"
    response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["signing_key"]["ok"] is False
    assert "missing.pem does not exist" in checks["signing_key"]["error"]


def test_readyz_is_503_naming_an_unreachable_broker(settings) -> None:  # type: ignore[no-untyped-def]
    with brokers.using("redis://127.0.0.1:1/0"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_the_openapi_schema_is_valid_and_describes_the_api() -> None:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/parties/" in schema["paths"]
    assert "/api/v1/tokens/" in schema["paths"]
    assert "ApiToken" in schema["components"]["securitySchemes"]


def test_the_docs_page_loads_its_assets_locally() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_spectacular_validates_the_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert (tmp_path / "s.yaml").stat().st_size > 1000
