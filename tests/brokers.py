"""The test session's Celery broker: never the instance's own.

With the embedded broker the instance's jobs live in the ``consentry`` database's kombu tables
(config/broker.py, ``CELERY_BROKER_URL``), where ``make run``'s worker would take the jobs a
test put there (on commit, through the outbox), for requests its database does not hold. So
tests/conftest.py points the session's Celery app elsewhere with :func:`use`, before any job
is sent:

- until the test database exists, at kombu's in-memory transport (``memory://``);
- then at kombu's SQLAlchemy transport on the test database itself (its kombu tables made by
  the owner role, as the instance's are): the same transport as the instance's, in a database
  of the session's own, emptied when the session starts and dropped when it ends.

Tests that need a real broker with a worker (the real Redis, ``redis_url``) switch to it with
:func:`using` for their duration, or hand it to the worker they start.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import sqlalchemy
from kombu import pools as kombu_pools
from kombu.transport import sqlalchemy as kombu_sqlalchemy

INSTANCE_BROKER_URL = ""
"""The broker the settings name, that is the instance's (recorded before the session's own
replaces it)."""


INSTANCE_DATABASE = ""
"""The instance's database (the test database's name replaces it once one is made)."""

IN_MEMORY = "memory://"


def record_instance_broker() -> None:
    global INSTANCE_BROKER_URL, INSTANCE_DATABASE
    from django.conf import settings

    INSTANCE_BROKER_URL = str(settings.CELERY_BROKER_URL)
    INSTANCE_DATABASE = str(settings.DATABASES["default"]["NAME"])


def use(url: str) -> None:
    """Send the session's jobs to the broker at ``url`` from now on: the settings, the Celery
    app's configuration and its connection pools (which keep the broker they were made for,
    whatever the configuration says later)."""
    from django.conf import settings

    from config.celery import app

    assert url != INSTANCE_BROKER_URL, "the tests never use the instance's broker"
    before = str(settings.CELERY_BROKER_URL)
    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url
    pool = app._pool
    app._pool = None  # as Celery does after a fork: the pools are made again on first use
    app.amqp._producer_pool = None
    if pool is not None:
        pool.force_close_all()
    # kombu keeps producer pools per connection in a registry of its own, which would hand back
    # the closed pool of a broker switched away from and back to ("Acquire on closed pool").
    kombu_pools.reset()
    if before.startswith("sqla+") and before != url:
        # kombu keeps one engine per database for the process: its connections would keep
        # the test database from being dropped at the end of the session.
        cached = kombu_sqlalchemy.Channel._engines.pop(before.removeprefix("sqla+"), None)
        if cached is not None:
            cached[0].dispose()


@contextmanager
def using(url: str) -> Iterator[None]:
    """The session's jobs go to ``url`` for the block, and to the session's broker again
    after it."""
    from django.conf import settings

    before = str(settings.CELERY_BROKER_URL)
    use(url)
    try:
        yield
    finally:
        use(before)


def session_broker_url() -> str:
    """kombu's SQLAlchemy transport on the test database, as the role the tests run as (the
    embedded cluster's test database gets kombu's tables made by the owner role first); kombu's
    in-memory transport in a session that made no test database (none of its tests uses one)."""
    from django.db import connection
    from sqlalchemy.engine import URL

    from config import embedded

    db = connection.settings_dict
    name = str(db["NAME"])
    if name == INSTANCE_DATABASE:
        return IN_MEMORY
    endpoint = embedded.running_endpoint()
    if "DATABASE_URL" not in os.environ and endpoint is not None:
        embedded.broker_tables_create(endpoint, name)
        return "sqla+" + endpoint.sqlalchemy_url(name, user=embedded.APP_ROLE)
    url = URL.create(
        "postgresql+psycopg",
        username=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=int(db["PORT"]) if db.get("PORT") else None,
        database=name,
    )
    return "sqla+" + url.render_as_string(hide_password=False)


def _queues() -> list[str]:
    from django.conf import settings

    return [q.name for q in settings.CELERY_TASK_QUEUES]


def _decoded(payload: str | bytes) -> tuple[str, list[Any]]:
    message = json.loads(payload)
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]
    return str(message["headers"]["task"]), list(args)


def messages(url: str) -> list[tuple[str, list[Any]]]:
    """The jobs (task name, arguments) waiting in the broker at ``url``, oldest first: kombu's
    SQLAlchemy transport (every queue) or Redis (the settings' queues)."""
    if url.startswith("sqla+"):
        engine = sqlalchemy.create_engine(url.removeprefix("sqla+"))
        try:
            with engine.connect() as conn:
                if conn.execute(sqlalchemy.text("SELECT to_regclass('kombu_message')")).scalar():
                    rows = conn.execute(
                        sqlalchemy.text("SELECT payload FROM kombu_message ORDER BY id")
                    )
                    return [_decoded(payload) for (payload,) in rows]
                return []
        finally:
            engine.dispose()
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(url)
        try:
            return [_decoded(p) for q in _queues() for p in reversed(client.lrange(q, 0, -1))]
        finally:
            client.close()
    raise ValueError(f"cannot read the messages of {url.split(':', 1)[0]}:// brokers")


def purge(url: str) -> None:
    """Delete every message of the broker at ``url`` (never the instance's)."""
    assert url != INSTANCE_BROKER_URL, "the tests never purge the instance's broker"
    if url.startswith("sqla+"):
        engine = sqlalchemy.create_engine(url.removeprefix("sqla+"))
        try:
            with engine.begin() as conn:
                if conn.execute(sqlalchemy.text("SELECT to_regclass('kombu_message')")).scalar():
                    conn.execute(sqlalchemy.text("DELETE FROM kombu_message"))
        finally:
            engine.dispose()
    elif url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(url)
        try:
            client.delete(*_queues())
        finally:
            client.close()


def diagnose(request_id: str) -> str:
    """Where the session's jobs go and what each broker holds: for a failed broker test."""
    from django.conf import settings

    from config.celery import app
    from governance.models import Outbox

    lines = [
        f"settings.CELERY_BROKER_URL={settings.CELERY_BROKER_URL}",
        f"app.conf.broker_url={app.conf.broker_url}",
        f"connection_for_write={app.connection_for_write().as_uri()}",
        f"producer pool connection={getattr(app.amqp._producer_pool, 'connection', None)!r}",
        "outbox rows: " + repr(list(Outbox.objects.filter(args__contains=[request_id]).values())),
    ]
    for url in {str(settings.CELERY_BROKER_URL), str(app.conf.broker_url)}:
        if url.startswith("sqla+"):
            engine = sqlalchemy.create_engine(url.removeprefix("sqla+"))
            try:
                with engine.connect() as conn:
                    rows = conn.execute(
                        sqlalchemy.text(
                            "SELECT q.name, m.visible, m.version, m.payload FROM kombu_message m"
                            " JOIN kombu_queue q ON q.id = m.queue_id ORDER BY m.id"
                        )
                    )
                    lines += [
                        f"sqla {n} visible={v} version={ver} {_decoded(p)}" for n, v, ver, p in rows
                    ]
            finally:
                engine.dispose()
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    try:
        for key in client.keys("*"):
            kind = client.type(key).decode()
            size = client.llen(key) if kind == "list" else None
            lines.append(f"redis key {key!r} {kind} {size}")
            if kind == "list":
                lines += [f"  {_decoded(p)}" for p in client.lrange(key, 0, -1)]
    finally:
        client.close()
    return "\n".join(lines)
