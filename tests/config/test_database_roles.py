"""The service connects as an application role that owns nothing: on the ledger's tables it may
INSERT and SELECT, and the privilege system refuses it UPDATE, DELETE and TRUNCATE before any
append-only trigger runs; it cannot switch the triggers off, take the owner's role, or change
the schema. The owner role, which ``migrate`` connects as, owns the tables."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from config import embedded
from config.checks import check_database_role
from config.grants import LEDGER_EXCEPTIONS, grants_apply
from governance.models import Decision
from ledger import services as ledger_services
from ledger.models import Entry
from tests.dbroles import app_connection, as_superuser
from tests.world import ISRC, rule

BASE_DIR = Path(__file__).resolve().parents[2]
LEDGER_TABLES = ["ledger_entry", "ledger_node", "ledger_checkpoint"]
# The three necessary exceptions to INSERT-and-SELECT-only (config/grants.py says why).
EXCEPTIONS = {("ledger_pending", "DELETE"), ("ledger_head", "UPDATE")}


@pytest.fixture
def as_app(django_db_setup: None, django_db_blocker: Any) -> Iterator[psycopg.Connection[Any]]:
    """A login of its own as the application role, to the migrated test database."""
    with django_db_blocker.unblock(), app_connection() as conn:
        yield conn


def refused(conn: psycopg.Connection[Any], statement: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        conn.execute(statement)
    return str(info.value)


@pytest.mark.parametrize("table", LEDGER_TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET idx = idx",
        "DELETE FROM {t}",
        "TRUNCATE {t}",
        "TRUNCATE {t} CASCADE",
    ],
)
def test_the_application_role_is_refused_changes_to_the_ledger_by_its_privileges(
    as_app: psycopg.Connection[Any], table: str, statement: str
) -> None:
    sql = statement.format(t=table).replace("idx = idx", _same_column(table))
    # "permission denied for table": the privilege system, not the trigger's "append-only".
    assert refused(as_app, sql) == f"permission denied for table {table}"


def _same_column(table: str) -> str:
    return {"ledger_checkpoint": "size = size"}.get(table, "idx = idx")


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_the_application_role_cannot_switch_the_triggers_off(
    as_app: psycopg.Connection[Any], table: str
) -> None:
    assert refused(as_app, f"ALTER TABLE {table} DISABLE TRIGGER USER") == (
        f"must be owner of table {table}"
    )
    assert refused(as_app, f"ALTER TABLE {table} DISABLE TRIGGER ALL") == (
        f"must be owner of table {table}"
    )
    assert refused(as_app, "SET session_replication_role = replica") == (
        'permission denied to set parameter "session_replication_role"'
    )


def test_the_application_role_cannot_change_the_schema_or_become_the_owner(
    as_app: psycopg.Connection[Any],
) -> None:
    assert "permission denied for schema public" in refused(
        as_app, "CREATE TABLE ledger_shadow (idx bigint)"
    )
    assert refused(as_app, "DROP TABLE ledger_entry") == "must be owner of table ledger_entry"
    assert refused(as_app, f"SET ROLE {embedded.OWNER_ROLE}") == (
        f'permission denied to set role "{embedded.OWNER_ROLE}"'
    )
    # Nor replace the trigger function with one that lets everything through.
    assert refused(as_app, "CREATE OR REPLACE FUNCTION ledger_forbid_change() RETURNS trigger "
                   "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$") == (
        "permission denied for schema public"
    )  # fmt: skip
    assert refused(as_app, "DELETE FROM django_migrations") == (
        "permission denied for table django_migrations"
    )


def test_the_application_role_may_insert_into_the_ledger(as_app: psycopg.Connection[Any]) -> None:
    # A row no sequencer will take: inserted and read back, then left (nothing may delete it).
    row = as_app.execute(
        "INSERT INTO ledger_pending (data, kind, created_at) VALUES ('{}'::bytea, 'probe', now()) "
        "RETURNING id"
    ).fetchone()
    assert row is not None
    as_app.execute("DELETE FROM ledger_pending WHERE id = %s", [row[0]])  # the sequencer's right


@pytest.mark.django_db
def test_only_the_named_exceptions_let_it_update_or_delete_a_ledger_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        assert cursor.fetchone() == (embedded.APP_ROLE, embedded.SUPERUSER)
        cursor.execute(
            "SELECT tablename, tableowner, has_table_privilege(%s, tablename, 'UPDATE'), "
            "has_table_privilege(%s, tablename, 'DELETE'), "
            "has_table_privilege(%s, tablename, 'TRUNCATE'), "
            "has_table_privilege(%s, tablename, 'INSERT'), "
            "has_table_privilege(%s, tablename, 'SELECT'), "
            "has_table_privilege(%s, tablename, 'MAINTAIN') "
            "FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
            [embedded.APP_ROLE] * 6,
        )
        rows = cursor.fetchall()
    assert {owner for _, owner, *_ in rows} == {embedded.OWNER_ROLE}, "migrate ran as the owner"
    ledger = {r[0]: r[2:] for r in rows if r[0].startswith("ledger_")}
    assert set(LEDGER_TABLES) <= set(ledger)
    for table, (update, delete, truncate, insert, select, maintain) in ledger.items():
        assert update == ((table, "UPDATE") in EXCEPTIONS), table
        assert delete == ((table, "DELETE") in EXCEPTIONS), table
        assert (truncate, insert, select, maintain) == (False, True, True, False), table
    assert not any(r[4] for r in rows), "TRUNCATE is granted on no table at all"
    governance = {r[0]: r[2:] for r in rows if r[0].startswith("governance_")}
    assert governance
    assert all(g[:2] == (True, True) for g in governance.values()), "ordinary DML on governance"
    assert len(LEDGER_EXCEPTIONS) == 3  # the two above, and ledger_key's valid_until column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_column_privilege(%s, 'ledger_key', 'valid_until', 'UPDATE'), "
            "has_column_privilege(%s, 'ledger_key', 'vkey', 'UPDATE'), "
            "has_function_privilege(%s, 'governance_space_index_create(bigint)', 'EXECUTE'), "
            "has_function_privilege(%s, 'governance_space_index_create(bigint)', 'EXECUTE')",
            [embedded.APP_ROLE] * 3 + ["pg_monitor"],
        )
        # Only the application role may call the owner's function that indexes a new space.
        assert cursor.fetchone() == (True, False, True, False)


@pytest.mark.django_db
def test_a_request_is_decided_and_sequenced_as_the_application_role(world) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (embedded.APP_ROLE,)
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    assert response.status_code == 200, response.json()
    decision = Decision.objects.get(pk=response.json()["id"])
    checkpoint = ledger_services.sequence_and_sign(now=timezone.now())
    assert checkpoint is not None
    assert checkpoint.size == Entry.objects.count() > 0
    assert Entry.objects.filter(kind="decision").count() == 1
    receipt = world["licensee"].client.get(f"/api/v1/decisions/{decision.pk}/receipt/")
    assert receipt.status_code == 200


@pytest.mark.django_db
def test_every_migrate_puts_back_the_grants_a_hand_changed(settings) -> None:  # type: ignore[no-untyped-def]
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute(f"GRANT UPDATE, TRUNCATE ON ledger_entry TO {embedded.APP_ROLE}")
        cursor.execute(f"REVOKE INSERT ON governance_party FROM {embedded.APP_ROLE}")
        grants_apply(using="default")
        cursor.execute(
            "SELECT has_table_privilege(%s, 'ledger_entry', 'UPDATE'), "
            "has_table_privilege(%s, 'ledger_entry', 'TRUNCATE'), "
            "has_table_privilege(%s, 'governance_party', 'INSERT')",
            [embedded.APP_ROLE] * 3,
        )
        assert cursor.fetchone() == (False, False, True)
    settings.DATABASE_APP_ROLE = ""
    assert grants_apply(using="default") == [], "no application role configured: nothing to do"


@pytest.mark.django_db
def test_the_check_warns_when_the_service_connects_as_a_superuser_or_the_owner(settings) -> None:  # type: ignore[no-untyped-def]
    assert check_database_role(databases=["default"]) == []
    settings.DATABASE_APP_ROLE = embedded.SUPERUSER
    assert [m.id for m in check_database_role(databases=["default"])] == ["consentry.W001"]
    settings.DATABASE_APP_ROLE = embedded.OWNER_ROLE
    (warning,) = check_database_role(databases=["default"])
    assert warning.id == "consentry.W002"
    assert "owns the ledger's tables" in warning.msg
    assert check_database_role(databases=None) == [], "a database check only when asked"


def test_the_embedded_start_makes_both_roles_and_makes_them_again_idempotently() -> None:
    endpoint = embedded.start()
    embedded.roles_create(endpoint)
    embedded.start()
    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        roles = dict(
            (name, attrs)
            for name, *attrs in conn.execute(
                "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, "
                "rolbypassrls FROM pg_roles WHERE rolname IN (%s, %s)",
                [embedded.OWNER_ROLE, embedded.APP_ROLE],
            ).fetchall()
        )
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", [embedded.APP_ROLE, embedded.OWNER_ROLE]
        ).fetchone()
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
            [embedded.DATABASE_NAME],
        ).fetchone()
    assert roles == {
        embedded.OWNER_ROLE: [True, False, True, False, False],
        embedded.APP_ROLE: [True, False, False, False, False],
    }
    assert member == (False,)
    assert owner == (embedded.OWNER_ROLE,)


def test_migrate_connects_as_the_owner_and_gives_the_connection_back(
    django_db_setup: None, django_db_blocker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[str] = []

    def whoami(**kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            seen.append(str((cursor.fetchone() or ("",))[0]))

    from django.db.models.signals import post_migrate

    post_migrate.connect(whoami, dispatch_uid="test.whoami")
    try:
        with django_db_blocker.unblock():
            call_command("migrate", verbosity=0)
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                after = cursor.fetchone()
    finally:
        post_migrate.disconnect(dispatch_uid="test.whoami")
    assert set(seen) == {embedded.OWNER_ROLE}
    assert after == (embedded.APP_ROLE,)


def test_a_fresh_database_is_migrated_by_the_owner_who_makes_the_brokers_tables_too() -> None:
    """``manage.py migrate`` on a new embedded database, as the launcher runs it: everything is
    owned by the owner, and the application role may use kombu's tables without creating them."""
    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    name = f"consentry_roles_{uuid.uuid4().hex[:8]}"
    embedded.create_database(endpoint, name)
    try:
        from django.conf import settings

        env = {**os.environ, "CONSENTRY_DATABASE_NAME": name, "LOG_LEVEL": "WARNING"}
        env["LEDGER_KEY_FILE"] = str(settings.LEDGER_KEY_FILE)  # a fresh clone has no var/keys
        env.pop("CELERY_BROKER_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True
        )
        with psycopg.connect(endpoint.conninfo(name), autocommit=True) as conn:
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            broker = conn.execute(
                "SELECT has_table_privilege(%s, 'kombu_message', 'SELECT, INSERT, UPDATE, DELETE'),"
                " has_table_privilege(%s, 'kombu_message', 'TRUNCATE')",
                [embedded.APP_ROLE] * 2,
            ).fetchone()
    finally:
        with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert owners == [(embedded.OWNER_ROLE,)]
    assert broker == (True, False)


def test_processes_starting_at_once_create_the_roles_one_at_a_time() -> None:
    # given the suite's cluster, and six starters at once (as pytest-xdist's workers each call
    # embedded.start(), which creates or alters the roles): before the lock, their ALTER ROLEs
    # of the same catalog rows failed with "tuple concurrently updated"
    import threading

    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    failures: list[BaseException] = []

    def start() -> None:
        try:
            for _ in range(3):
                embedded.roles_create(endpoint)
        except Exception as exc:  # collected: the assertion names them
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every one of them succeeded
    assert failures == []
