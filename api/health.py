"""Liveness and readiness.

``/healthz`` answers 200 while the process serves. ``/readyz`` answers 200 only when the three
things a request needs are usable — the database (reachable, migrations applied), the broker
(a connection opens) and the ledger signing key (loads and signs) — and 503 otherwise, naming
each failing component.
"""

from __future__ import annotations

import time
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
