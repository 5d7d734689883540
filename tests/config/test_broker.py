"""The embedded broker's transport (config/broker.py): what Celery treats as a lost connection
(to reconnect, not to crash the worker). Its leases are exercised end to end by
tests/governance/test_worker_crash.py."""

from __future__ import annotations

import pytest
from kombu import Connection
from sqlalchemy import exc

import config.celery  # noqa: F401 - registers the ``sqla`` scheme as config.broker's transport
from config.broker import LeasingChannel, SQLAlchemyTransport


def test_a_closed_result_or_a_lost_database_is_a_connection_error_not_a_crash() -> None:
    connection = Connection("sqla+postgresql+psycopg://consentry_app@/consentry")  # not opened
    assert isinstance(connection.transport, SQLAlchemyTransport)
    assert connection.transport.Channel is LeasingChannel
    for error in (exc.ResourceClosedError, exc.OperationalError, exc.InterfaceError):
        assert issubclass(error, connection.connection_errors), error


@pytest.mark.django_db  # the session's broker is in the test database
def test_the_channel_serves_a_consumer_and_an_acknowledging_thread_at_once() -> None:
    """A worker acknowledges from billiard's result-handler thread while its consumer polls and
    renews leases: the channel's one SQLAlchemy session must not be used by both at once (it
    raised IllegalStateChangeError and lost the acknowledgement)."""
    import threading
    import uuid

    from django.conf import settings
    from kombu import Connection

    queue = f"test-concurrency-{uuid.uuid4().hex[:8]}"
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.default_channel
        assert isinstance(channel, LeasingChannel)
        errors: list[BaseException] = []
        tags: list[str] = []
        done = threading.Event()

        def consume() -> None:
            try:
                for n in range(300):
                    message = channel.prepare_message(f"m{n}")
                    message["properties"]["delivery_tag"] = f"{queue}-{n}"
                    channel._put(queue, message)
                    message = channel._get(queue)
                    tags.append(message["properties"]["delivery_tag"])
                    channel._last_renewal = 0.0
                    channel.leases_tend()
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        def acknowledge() -> None:
            try:
                while not done.is_set() or tags:
                    if tags:
                        channel.basic_ack(tags.pop(0))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=consume), threading.Thread(target=acknowledge)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        try:
            assert errors == []
            assert channel._size(queue) == 0  # every message acknowledged, none left behind
        finally:
            channel._purge(queue)
