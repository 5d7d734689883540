"""What the application role may do in the database, re-applied at the end of every ``migrate``.

The service connects as the application role (``DATABASE_URL``; ``consentry_app`` in the
embedded mode); ``migrate`` connects as the owner (``DATABASE_MIGRATION_URL``), which owns every
table. After each ``migrate`` (Django's ``post_migrate`` signal), as the owner, in one
transaction:

1. revoke everything the application role holds on the schema's tables and sequences, so a
   grant that is no longer wanted does not survive;
2. grant SELECT, INSERT, UPDATE and DELETE on every table, and USAGE on every sequence;
3. take UPDATE and DELETE back from every ledger table (``ledger_*``, whatever its age): the
   ledger is INSERT and SELECT only, except for the three things the sequencer and the key
   rotation must do, granted by name (``LEDGER_EXCEPTIONS``);
4. take INSERT, UPDATE and DELETE back from ``django_migrations``: only ``migrate`` writes it;
5. default privileges: a table the owner creates outside ``migrate`` (kombu's, for one) gets
   SELECT and INSERT only until the next ``migrate``, never UPDATE or DELETE by default.

Also granted: EXECUTE on the owner's functions in ``OWNER_FUNCTIONS`` (each does one piece of
DDL the service needs, and nothing else), and on PostgreSQL 17 and later MAINTAIN (ANALYZE) on
the tables outside the ledger.

Never granted, so refused to the application role: TRUNCATE, REFERENCES, TRIGGER, CREATE on the
schema (PostgreSQL 15 and later grant it to nobody by default), and ownership, without which
``ALTER TABLE ... DISABLE TRIGGER`` and ``DROP`` are refused; ``session_replication_role`` needs a
superuser. So the append-only triggers (ledger migration 0002) are a second wall, not the only one.

A new table in any app gets its grants at the ``migrate`` that creates it, with no migration of
its own; a new ``ledger_*`` table is append-only unless it is added to ``LEDGER_EXCEPTIONS``.
Nothing happens when no separate application role is configured (``DATABASE_APP_ROLE`` empty):
then ``consentry.W002`` says the service connects as the tables' owner.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections, transaction
from psycopg import sql

LEDGER_PREFIX = "ledger\\_%"
# What the application role needs beyond INSERT and SELECT on the ledger, and why:
LEDGER_EXCEPTIONS = (
    # The sequencer drains the queue of pending entries into the log.
    "GRANT DELETE ON ledger_pending TO {role}",
    # The sequencer moves the head with a compare-and-swap; a trigger lets it only grow.
    "GRANT UPDATE ON ledger_head TO {role}",
    # A key rotation ends the old key's validity (``valid_until``), no other column.
    "GRANT UPDATE (valid_until) ON ledger_key TO {role}",
)
# The owner's SECURITY DEFINER functions the application role may call: each does one piece of
# DDL the service needs (governance migration 0006: a new embedding space's index).
OWNER_FUNCTIONS = ("governance_space_index_create(bigint)",)
# Column privileges are not covered by REVOKE ... ON ALL TABLES; these are revoked by name.
COLUMN_GRANTS = ("REVOKE UPDATE (valid_until) ON ledger_key FROM {role}",)


def app_role() -> str:
    """The role the service connects as, when one apart from the owner is configured."""
    return str(getattr(settings, "DATABASE_APP_ROLE", "") or "")


def grants_statements(
    *,
    role: str,
    ledger_tables: list[str],
    tables: list[str],
    functions: list[str] = [],  # noqa: B006 - never mutated
    maintain: bool = False,
) -> list[str]:
    """The SQL of steps 1-5 for ``role``, given the schema's tables (all, and the ledger's),
    the owner's functions present, and whether the server has the MAINTAIN privilege (17+)."""
    ident = sql.Identifier(role).as_string()
    named = [t.format(role=ident) for t in (*COLUMN_GRANTS, *LEDGER_EXCEPTIONS)]
    revoke_columns, exceptions = (
        [s for s in named[: len(COLUMN_GRANTS)] if _table_of(s) in tables],
        [s for s in named[len(COLUMN_GRANTS) :] if _table_of(s) in tables],
    )
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {ident}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ident}",  # step 1
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ident}",
        *revoke_columns,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ident}",  # 2
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ident}",
        *(  # step 3
            f"REVOKE UPDATE, DELETE ON {sql.Identifier(t).as_string()} FROM {ident}"
            for t in ledger_tables
        ),
        *exceptions,
        *(f"GRANT EXECUTE ON FUNCTION {f} TO {ident}" for f in functions),
    ]
    if maintain:
        # ANALYZE after a large import (governance/importing/run.py); never on the ledger.
        statements.append(f"GRANT MAINTAIN ON ALL TABLES IN SCHEMA public TO {ident}")
        statements += [
            f"REVOKE MAINTAIN ON {sql.Identifier(t).as_string()} FROM {ident}"
            for t in ledger_tables
        ]
    if "django_migrations" in tables:  # step 4
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {ident}")
    statements += [  # step 5
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {ident}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO {ident}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {ident}",
    ]
    return statements


def _table_of(statement: str) -> str:
    """The table a ``GRANT ... ON <table> TO`` or ``REVOKE ... ON <table> FROM`` names."""
    return statement.split(" ON ", 1)[1].split()[0]


def grants_apply(*, using: str = "default", role: str | None = None) -> list[str]:
    """Steps 1-5 on the database behind ``using``, as whoever it connects as (the owner, under
    ``migrate``). Returns the statements run; none when no application role is configured."""
    role = app_role() if role is None else role
    connection = connections[using]
    if not role or role == _owner_name(using):
        return []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [str(r[0]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE %s ORDER BY tablename",
            [LEDGER_PREFIX],
        )
        ledger_tables = [str(r[0]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT f FROM unnest(%s::text[]) f WHERE to_regprocedure(f) IS NOT NULL",
            [list(OWNER_FUNCTIONS)],
        )
        functions = [str(r[0]) for r in cursor.fetchall()]
        cursor.execute("SELECT current_setting('server_version_num')::int >= 170000")
        maintain = bool((cursor.fetchone() or (False,))[0])
        statements = grants_statements(
            role=role,
            ledger_tables=ledger_tables,
            tables=tables,
            functions=functions,
            maintain=maintain,
        )
        for statement in statements:
            cursor.execute(statement)
    return statements


def _owner_name(using: str) -> str:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user")
        row = cursor.fetchone()
    return str(row[0]) if row else ""


def on_post_migrate(sender: Any, *, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` is sent once per app; the grants are applied once, for the last one."""
    from django.apps import apps

    last = [a for a in apps.get_app_configs() if a.models_module is not None][-1]
    if sender is last:
        grants_apply(using=using)
        broker_tables_apply(using=using)


def broker_tables_apply(*, using: str = "default") -> None:
    """Make kombu's tables as the owner when the broker is kombu's SQLAlchemy transport on the
    database just migrated (CELERY_BROKER_URL unset): the application role cannot create them.
    The test suite makes its test database's own (tests/brokers.py)."""
    from config import embedded
    from config.broker import broker_tables_create

    if not settings.EMBEDDED_BROKER or not app_role():
        return
    if settings.EMBEDDED_DATABASE:
        name = str(connections[using].settings_dict["NAME"])
        endpoint = embedded.running_endpoint()
        if endpoint is not None and name == settings.EMBEDDED_DATABASE_NAME:
            embedded.broker_tables_create(endpoint, name)  # quick when they are there
        return
    owner_url = str(getattr(settings, "DATABASE_MIGRATION_URL", "") or "")
    if owner_url:
        broker_tables_create(owner_url=embedded.sqlalchemy_url_of(owner_url), app_role=app_role())
