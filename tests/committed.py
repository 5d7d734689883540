"""Tests through real threads, connections and commits: :func:`on_own_connection` runs code on
a connection of its own (its writes commit and every connection sees them), and the
``committed`` fixture (registered in tests/conftest.py) deletes afterwards every row such code
committed."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.apps import apps
from django.db import connection, transaction

from ledger.models import PendingEntry

_T = TypeVar("_T")


def on_own_connection(fn: Callable[[], _T]) -> _T:
    """Run ``fn`` on a thread of its own: Django gives it its own connection, outside the test's
    transaction, so what it writes is committed and seen by every other connection."""
    out: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised on the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return out[0]


def all_at_once(fn: Callable[[], _T], *, threads: int) -> list[_T | BaseException]:
    """Run ``fn`` on ``threads`` threads, each on its own connection, released together by a
    barrier; each one's result or exception."""
    barrier = threading.Barrier(threads)
    out: list[_T | BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(30)
            result: _T | BaseException = fn()
        except BaseException as exc:  # reported, not raised: the caller asserts on them all
            result = exc
        finally:
            connection.close()
        with lock:
            out.append(result)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(120)
    return out


def while_editing(
    edit: Callable[[], object], workers: list[Callable[[threading.Event], object]], *,
    timeout: float,
) -> list[BaseException]:  # fmt: skip
    """Run ``edit`` on one thread and each of ``workers`` on its own, each thread on its own
    connection, released together by a barrier. A worker is given the event that is set while
    ``edit`` runs (it loops until it is cleared); the event is cleared when ``edit`` returns
    or any thread fails. Every thread's exception, for the caller to assert on."""
    errors: list[BaseException] = []
    editing = threading.Event()
    editing.set()
    start = threading.Barrier(len(workers) + 1)

    def run(body: Callable[[], object]) -> threading.Thread:
        def thread() -> None:
            try:
                start.wait(30)
                body()
            except BaseException as exc:  # reported, not raised: the caller asserts on them
                errors.append(exc)
                editing.clear()
            finally:
                connection.close()

        return threading.Thread(target=thread)

    def editor() -> None:
        try:
            edit()
        finally:
            editing.clear()

    threads = [run(editor), *(run(functools.partial(w, editing)) for w in workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


@pytest.fixture
def committed() -> Iterator[None]:
    """Afterwards, the database as it was: every row the test committed (on other threads'
    connections, see :func:`on_own_connection`) is deleted. Django's ``transaction=True``
    teardown would TRUNCATE every table instead, which the append-only ledger tables refuse and
    which would also drop the rows the migrations seeded (the consent matrix)."""
    models = [m for m in apps.get_models(include_auto_created=True)
              if m._meta.app_label != "ledger" or m is PendingEntry]  # fmt: skip

    def snapshot() -> dict[Any, set[Any]]:
        return {m: set(m._base_manager.values_list("pk", flat=True)) for m in models}

    def restore(before: dict[Any, set[Any]]) -> None:
        # Django's foreign keys on PostgreSQL are DEFERRABLE INITIALLY DEFERRED: inside one
        # transaction the rows can go in any order.
        with transaction.atomic():
            for m in models:
                m._base_manager.exclude(pk__in=list(before[m]))._raw_delete(connection.alias)

    before = on_own_connection(snapshot)
    try:
        yield
    finally:
        on_own_connection(lambda: restore(before))
