"""Liveness and readiness.

``/healthz`` answers 200 while the process serves. ``/readyz`` answers 200 only when the three
things a request needs are usable — the database (reachable, migrations applied), the broker
(a connection opens), the ledger signing key (loads and signs) and a worker (it takes work: a
heartbeat task sent now is run within ``WORKER_HEARTBEAT_TIMEOUT`` seconds) — and 503
otherwise, naming each failing component.

The heartbeat is a round trip: this process listens on a PostgreSQL notification channel,
sends ``config.heartbeat`` with a fresh nonce to the heartbeat queue (which every worker
consumes beside the default one), and waits for a pool process to notify that nonce, or to
notify that it started any other task (a busy worker's heartbeat waits behind its chunks;
starting them proves it takes work). A worker
whose main process lives while its pool hangs fails it, where a broker-level ping would not.
Each process reuses the last answer for ``WORKER_HEARTBEAT_CACHE`` seconds, so a probe every
second sends at most one task every few seconds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ledger.keys import KeyFileError, load_signing_key


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migrations not applied")


def check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        # Opening a channel proves more than a socket: for the filesystem transport it checks
        # the queue folder, for Redis and AMQP the session.
        conn.default_channel  # noqa: B018


class WorkerHeartbeat:
    """The last heartbeat's answer, shared by the threads of one API process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = -1e9
        self.error: str | None = None

    def check(self) -> None:
        with self.lock:  # one round trip at a time; the others reuse its answer
            if time.monotonic() - self.checked_at > settings.WORKER_HEARTBEAT_CACHE:
                self.error = self.round_trip(settings.WORKER_HEARTBEAT_TIMEOUT)
                self.checked_at = time.monotonic()
            if self.error:
                raise RuntimeError(self.error)

    @staticmethod
    def round_trip(timeout: float) -> str | None:
        """None when a worker ran a heartbeat within ``timeout`` seconds, else why not."""
        import psycopg

        from config.celery import HEARTBEAT_CHANNEL, TASK_STARTED, app

        nonce = uuid.uuid4().hex
        params = connection.get_connection_params()
        # A connection of its own: LISTEN must not outlive this check on a pooled connection.
        with psycopg.connect(**params, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {HEARTBEAT_CHANNEL}")
            t0 = time.monotonic()
            app.send_task(
                "config.heartbeat",
                args=[nonce],
                queue=settings.CELERY_HEARTBEAT_QUEUE,
                expires=timeout,  # a worker that comes back later drops it unrun
            )
            for notify in conn.notifies(timeout=timeout):
                if notify.payload in (nonce, TASK_STARTED):
                    return None
                if time.monotonic() - t0 > timeout:
                    break
        return (
            f"no worker ran a heartbeat task within {timeout:g} s: the worker takes no work"
            " (stopped, or its pool is hung)"
        )


worker_heartbeat = WorkerHeartbeat()


def check_worker() -> None:
    worker_heartbeat.check()


def check_signing_key() -> None:
    try:
        key = load_signing_key(settings.LEDGER_KEY_FILE)
    except KeyFileError as exc:
        raise RuntimeError(str(exc)) from None
    probe = b"consentry readiness probe"
    key.public_key().verify(key.sign(probe), probe)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "signing_key": check_signing_key,
    "worker": check_worker,
}


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        t0 = time.perf_counter()
        try:
            check()
        except Exception as exc:
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return all(r["ok"] for r in results.values()), results
