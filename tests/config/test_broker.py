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


@pytest.mark.django_db  # the session's broker is in the test database
def test_a_queue_another_process_declared_meanwhile_is_read_not_a_crash() -> None:
    """kombu creates a queue's row under a lock of its own process only: when another process
    inserts it between this one's look and its insert, the insert fails on the unique name
    (seen: a worker starting while an API process sent its readiness heartbeat stopped with
    "Unrecoverable error: IntegrityError"). The channel reads the other's row instead."""
    import uuid
    from unittest import mock

    from django.conf import settings
    from sqlalchemy import false

    queue = f"test-declare-{uuid.uuid4().hex[:8]}"
    with (
        Connection(settings.CELERY_BROKER_URL) as other,
        Connection(settings.CELERY_BROKER_URL) as connection,
    ):
        mine = connection.default_channel
        theirs = other.default_channel
        assert isinstance(mine, LeasingChannel)
        created = theirs._get_or_create(queue)  # the other process's row, committed
        real, looks = mine.session.query, []

        def before_theirs(*entities: object) -> object:
            # this process's two looks (kombu's, before and under its lock) came before the
            # other's commit: they find nothing
            looks.append(entities)
            query = real(*entities)
            return query.filter(false()) if len(looks) <= 2 else query

        with mock.patch.object(mine.session, "query", side_effect=before_theirs):
            found = mine._get_or_create(queue)
        assert (found.id, found.name) == (created.id, queue)
        assert len(looks) == 3  # it looked again after the failed insert
