"""Who the test suite connects as.

The suite logs in to the embedded PostgreSQL as the superuser and takes a role for what it does
(``SET ROLE``, Django's ``assume_role`` option): the owner role creates and migrates the test
database, as ``migrate`` does in service, and every test then runs as the application role, with
exactly the service's privileges. A test that plays the attacker who holds the superuser (the
tamper tests) says so with ``as_superuser()``; ``app_connection()`` is a separate login as the
application role, for tests about what that role is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection, connections, transaction

from config import embedded


def assume(role: str) -> None:
    """Every connection opened from now on takes ``role`` (the open ones are closed)."""
    for conn in connections.all(initialized_only=True):
        conn.close()
    options = connections["default"].settings_dict.setdefault("OPTIONS", {})
    options["assume_role"] = role


@contextmanager
def as_superuser() -> Iterator[None]:
    """Run the block as the superuser the suite logged in as, in the test's own transaction
    (a savepoint: if the block fails, the role goes back with it)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET ROLE NONE")
        yield
        cursor.execute(f'SET ROLE "{embedded.APP_ROLE}"')


def app_connection() -> psycopg.Connection[tuple[object, ...]]:
    """A login of its own, as the application role, to the test database (autocommit)."""
    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "the suite runs on the embedded PostgreSQL"
    name = str(connection.settings_dict["NAME"])
    return psycopg.connect(endpoint.conninfo(name, user=embedded.APP_ROLE), autocommit=True)
