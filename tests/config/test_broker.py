"""The embedded broker's transport (config/broker.py): what Celery treats as a lost connection
(to reconnect, not to crash the worker). Its leases are exercised end to end by
tests/governance/test_worker_crash.py."""

from __future__ import annotations

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
