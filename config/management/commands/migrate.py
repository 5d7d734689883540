"""``manage.py migrate``, connected as the owner of the tables (``DATABASE_MIGRATION_URL``; the
``consentry_owner`` role in the embedded mode) instead of the application role the service uses.

Django's own ``migrate`` with one change: for the duration of the command, the connection it
migrates uses the owner's credentials (user, password, host, port, options) on the same database
name, so the test suite's database is migrated by the owner as well. At the end,
``config/grants.py`` (``post_migrate``) grants the application role what it may do, and the
connection goes back to the application role. With no owner configured it is Django's command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.commands import migrate
from django.db import connections

OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


@contextmanager
def as_owner(using: str = "default") -> Iterator[None]:
    """Connect ``using`` as the tables' owner until the block ends (a no-op without one)."""
    owner: dict[str, Any] | None = getattr(settings, "DATABASE_OWNER", None)
    connection = connections[using]
    if not owner or connection.in_atomic_block:
        # Inside a transaction the connection cannot be swapped; whoever holds it decides.
        yield
        return
    saved = {key: connection.settings_dict.get(key) for key in OWNER_KEYS}
    connection.close()
    connection.settings_dict.update({key: owner.get(key, saved[key]) for key in OWNER_KEYS})
    connection.settings_dict["OPTIONS"] = dict(owner.get("OPTIONS") or {})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


class Command(migrate.Command):
    help = migrate.Command.help + " Connects as the tables' owner (DATABASE_MIGRATION_URL)."

    def handle(self, *args: Any, **options: Any) -> None:
        with as_owner(options["database"]):
            super().handle(*args, **options)
