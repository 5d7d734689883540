"""The embedded broker: kombu's SQLAlchemy transport on Consentry's own PostgreSQL, with leases.

kombu hands every transport option of this transport to SQLAlchemy's ``create_engine``, so its
polling interval cannot be set as an option; this subclass takes it from
``CELERY_BROKER_POLLING_INTERVAL`` (seconds, default 0.2) instead. ``config.celery`` registers
it under the ``sqla`` scheme.

kombu's own transport has no visibility timeout: a delivered message is marked invisible and
stays so, and the messages a worker held (prefetched or running) when it was killed are never
delivered again. This channel leases them instead (docs/deployment.md, "Leases"):

- delivering a message marks its row leased (``visible = false``, ``version = -1``) and stamps
  ``timestamp`` with the time of delivery (UTC, as the relay's prune reads it);
- while the consumer holds it, the channel renews the lease (re-stamps ``timestamp``) every
  quarter of ``CELERY_BROKER_LEASE`` seconds (default 60);
- acknowledging a message deletes its row; rejecting it with requeue (Celery's
  ``reject_on_worker_lost``) or a warm shutdown makes the same row visible again, no copy;
- every consuming channel makes visible again the leased rows of its queues not renewed for
  ``CELERY_BROKER_LEASE`` seconds: their consumer died. Deciding is idempotent, so a message
  redelivered after a lease expired (a consumer frozen for that long) decides nothing twice.

Database errors and a closed result (``ResourceClosedError``) are connection errors: Celery's
consumer then reconnects, with backoff, instead of the worker exiting.
"""

from __future__ import annotations

import os
import threading
import time
from json import loads
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from config.embedded import BROKER_SEQUENCES, BROKER_TABLES

LEASED = -1
"""``kombu_message.version`` of a row delivered and not yet acknowledged (kombu's own rows
have 1 when sent and 2 once delivered)."""


def lease_seconds() -> float:
    return float(os.environ.get("CELERY_BROKER_LEASE", "60"))


class LeasingChannel(sqlalchemy.Channel):
    """kombu's SQLAlchemy channel with leased deliveries (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One SQLAlchemy session serves the channel, and a Celery worker uses the channel from
        # more than one thread (the consumer polls and renews leases while billiard's result
        # handler acknowledges): every use of the session holds this lock, or a commit can
        # start inside another ("IllegalStateChangeError") and an acknowledgement be lost.
        self._session_lock = threading.RLock()
        self.lease = lease_seconds()
        self._held: dict[str, int] = {}  # delivery tag -> kombu_message.id
        self._last_renewal = 0.0

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        with self._session_lock:
            return self._get_locked(queue)

    # kombu's SQLAlchemy channel and its virtual base disagree on _put's signature: kombu's own.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        with self._session_lock:
            super()._put(queue, payload, **kwargs)

    def _purge(self, queue: str) -> Any:
        with self._session_lock:
            return super()._purge(queue)

    def _size(self, queue: str) -> Any:
        with self._session_lock:
            return super()._size(queue)

    def _get_locked(self, queue: str) -> Any:
        queue_id = self._queue_id(queue)
        try:
            row = self.session.execute(
                text(
                    "UPDATE kombu_message SET visible = false, version = :leased,"
                    " timestamp = (now() AT TIME ZONE 'UTC') WHERE id = ("
                    " SELECT id FROM kombu_message"
                    " WHERE queue_id = :queue AND visible ORDER BY timestamp, id"
                    " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, payload"
                ),
                {"queue": queue_id, "leased": LEASED},
            ).first()
        finally:
            self.session.commit()
        if row is None:
            raise Empty()
        payload: dict[str, Any] = loads(bytes_to_str(row.payload))
        self._held[payload["properties"]["delivery_tag"]] = int(row.id)
        return payload

    def _get_or_create(self, queue: str) -> Any:
        """kombu's, but two processes declaring a new queue at once (an API process's
        readiness heartbeat and a starting worker, say) make one's insert fail on the name's
        unique key, where kombu's lock is only its own process's: that one reads the other's
        row instead of stopping the worker with an IntegrityError."""
        with self._session_lock:
            try:
                return super()._get_or_create(queue)  # type: ignore[misc]
            except sa_exc.IntegrityError:
                self.session.rollback()
                found = self.session.query(self.queue_cls).filter(self.queue_cls.name == queue)
                row = found.first()
                if row is None:
                    raise
                return row

    def _queue_id(self, queue: str) -> int:
        with self._session_lock:
            return int(self._get_or_create(queue).id)

    def _execute(self, statement: str, params: dict[str, Any]) -> int:
        with self._session_lock:
            try:
                result = self.session.execute(text(statement), params)
                self.session.commit()
            except Exception:
                self.session.rollback()
                raise
            return int(getattr(result, "rowcount", 0) or 0)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        with self._session_lock:
            self._ack_locked(delivery_tag, multiple)

    def _ack_locked(self, delivery_tag: str, multiple: bool) -> None:
        row = self._held.pop(delivery_tag, None)
        if row is not None:
            self._execute("DELETE FROM kombu_message WHERE id = :id", {"id": row})
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        # With requeue, the QoS calls _restore (below), which shows the row again.
        super().basic_reject(delivery_tag, requeue=requeue)
        row = self._held.pop(delivery_tag, None)
        if row is not None:  # not requeued: done with it
            self._execute("DELETE FROM kombu_message WHERE id = :id", {"id": row})

    def _restore(self, message: Any) -> None:
        """Redeliver: show the same row again (kombu's own would insert a copy)."""
        row = self._held.pop(message.delivery_tag, None)
        if row is None:
            super()._restore(message)
            return
        self._execute(
            "UPDATE kombu_message SET visible = true, version = 1 WHERE id = :id",
            {"id": row},
        )

    def leases_tend(self) -> int:
        """Renew the leases of the messages this channel holds, and show again the rows of its
        queues whose lease expired; how many were shown again. At most every lease / 4 s."""
        with self._session_lock:
            return self._leases_tend_locked()

    def _leases_tend_locked(self) -> int:
        now = time.monotonic()
        if now - self._last_renewal < self.lease / 4:
            return 0
        self._last_renewal = now
        if self._held:
            self._execute(
                "UPDATE kombu_message SET timestamp = (now() AT TIME ZONE 'UTC')"
                " WHERE id = ANY(:ids)",
                {"ids": list(self._held.values())},
            )
        queues = [self._queue_id(q) for q in self._active_queues]
        if not queues:
            return 0
        return self._execute(
            "UPDATE kombu_message SET visible = true, version = 1"
            " WHERE version = :leased AND NOT visible AND queue_id = ANY(:queues)"
            " AND timestamp < (now() AT TIME ZONE 'UTC') - make_interval(secs => :lease)",
            {"leased": LEASED, "queues": queues, "lease": self.lease},
        )

    def drain_events(self, timeout: float | None = None, callback: Any = None) -> Any:
        if self._consumers:
            restored = self.leases_tend()
            if restored:
                import structlog

                structlog.get_logger("config.broker").warning(
                    "broker leases expired; messages delivered again", count=restored
                )
        return super().drain_events(timeout=timeout, callback=callback)


class SQLAlchemyTransport(sqlalchemy.Transport):
    Channel = LeasingChannel
    polling_interval = float(os.environ.get("CELERY_BROKER_POLLING_INTERVAL", "0.2"))
    # A database restart, a dropped connection or a spontaneous ResourceClosedError: reconnect.
    connection_errors: tuple[type[Exception], ...] = (  # type: ignore[assignment]
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.ResourceClosedError,
        sa_exc.PendingRollbackError,
        sa_exc.DisconnectionError,
    )
    channel_errors = (sa_exc.DBAPIError,)


def broker_tables_create(*, owner_url: str, app_role: str) -> None:
    """Make kombu's tables as the owner, and let ``app_role`` use them (DML, no DDL).

    kombu creates its tables at its first use, as whoever connects; the application role may not
    create tables, so the owner does it first, through kombu's own models (``owner_url`` is a
    SQLAlchemy URL; ``CREATE TABLE`` only for what is missing).
    """
    from kombu import Connection
    from psycopg import sql
    from sqlalchemy import Engine

    with Connection("sqla+" + owner_url) as connection:
        channel = connection.default_channel
        if not isinstance(channel, sqlalchemy.Channel):
            raise TypeError(f"not kombu's SQLAlchemy transport: {owner_url.split(':')[0]}")
        session = channel.session  # kombu's metadata.create_all runs here
        try:
            statements = [
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {}, {} TO {}").format(
                    *map(sql.Identifier, BROKER_TABLES), sql.Identifier(app_role)
                ),
                sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {}, {} TO {}").format(
                    *map(sql.Identifier, BROKER_SEQUENCES), sql.Identifier(app_role)
                ),
            ]
            for statement in statements:
                session.execute(text(statement.as_string()))
            session.commit()
        finally:
            bind = session.get_bind()
            session.close()
            if isinstance(bind, Engine):
                bind.dispose()  # kombu caches the engine; this process keeps no owner connection
