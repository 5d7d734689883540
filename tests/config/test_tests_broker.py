"""The test suite sends its Celery jobs to a broker of its own, never to the instance's: a job a
test committed must not wait in the instance's broker for ``make run``'s worker, about a
request its database does not hold. And such a job, should one reach a worker, is logged and
dropped."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from structlog.testing import capture_logs

from config.celery import app
from governance import tasks
from governance.models import UseRequest
from governance.services import outbox
from tests import brokers
from tests.world import ISRC, submit


@pytest.mark.django_db
def test_the_session_broker_is_not_the_instances() -> None:
    assert brokers.INSTANCE_BROKER_URL
    assert settings.CELERY_BROKER_URL != brokers.INSTANCE_BROKER_URL
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    with app.connection_for_write() as connection:
        assert connection.as_uri(include_password=True) != brokers.INSTANCE_BROKER_URL


@pytest.mark.django_db
def test_a_submitted_request_leaves_the_instance_broker_as_it_was(  # type: ignore[no-untyped-def]
    world, django_capture_on_commit_callbacks
) -> None:
    before = brokers.messages(brokers.INSTANCE_BROKER_URL)
    with django_capture_on_commit_callbacks(execute=True):
        body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    # A send the broker refused stays in the outbox for the relay (logged): its next pass.
    outbox.outbox_dispatch()
    sent = brokers.messages(settings.CELERY_BROKER_URL)
    try:
        assert ("governance.decide_request", [body["id"]]) in sent, brokers.diagnose(body["id"])
        assert brokers.messages(brokers.INSTANCE_BROKER_URL) == before
    finally:
        brokers.purge(settings.CELERY_BROKER_URL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "args"), [(tasks.decide_request, []), (tasks.decide_chunk, [0, 10])]
)
def test_a_decide_job_for_a_request_this_database_does_not_hold_is_logged_and_dropped(
    task: object, args: list[int]
) -> None:
    missing = str(uuid.uuid4())
    with capture_logs() as logs:
        task.apply(args=[missing, *args]).get()  # type: ignore[attr-defined]
    assert [e["request"] for e in logs if e["event"] == "decide_for_unknown_request"] == [missing]
    assert not any(e["log_level"] in ("error", "critical") for e in logs), logs
    assert not UseRequest.objects.exists()
