"""System checks that fail fast, naming the environment variable, when the configuration cannot
work. Stable ids: look them up in docs/configuration.md ("What stops the service").

- consentry.E001 SECRET_KEY unset outside embedded mode
- consentry.E002 DATABASE_URL unset and the embedded PostgreSQL is not running
- consentry.E003 CELERY_BROKER_URL names a transport Consentry does not support
- consentry.E004 LEDGER_KEY_FILE missing, unreadable, too open, or not an Ed25519 PKCS#8 key
- consentry.E005 ALLOWED_HOSTS empty while DEBUG is off
- consentry.W001 the service connects to PostgreSQL as a superuser (database check)
- consentry.W002 the service connects as the owner of the ledger's tables, or a member of the
  owner's role (database check)
- consentry.W003 libmpg123 (Debian's libmpg123-0) does not load: MP3s are decoded by FFmpeg,
  into the same samples, with a sixth more CPU

The database checks run where Django runs database checks: ``check --database default`` (the
launcher's step 3) and ``migrate``. They judge the role the service connects as
(``DATABASE_APP_ROLE``, else the connection's own user), whoever the check itself connects as.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from governance.content import mpg123

SUPPORTED_BROKERS = (
    "redis://",
    "rediss://",
    "amqp://",
    "amqps://",
    "pyamqp://",
    "filesystem://",
    "sqla+postgresql",
)


@register()
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from config import embedded

    errors: list[Error] = []
    if settings.SECRET_KEY_MISSING:
        errors.append(
            Error(
                "SECRET_KEY is not set.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE); only the embedded mode "
                "(DATABASE_URL unset) generates one into var/secret_key.",
                id="consentry.E001",
            )
        )
    if settings.EMBEDDED_DATABASE and embedded.running_endpoint() is None:
        errors.append(
            Error(
                f"DATABASE_URL is not set and the embedded PostgreSQL in {embedded.pgdata_dir()} "
                "is not running.",
                hint="Start it with `python -m config.embedded start` (make run does), "
                "or set DATABASE_URL.",
                id="consentry.E002",
            )
        )
    if not settings.CELERY_BROKER_URL.startswith(SUPPORTED_BROKERS):
        errors.append(
            Error(
                "CELERY_BROKER_URL has an unsupported scheme: "
                f"{settings.CELERY_BROKER_URL.split(':')[0]!r}.",
                hint="Use redis://, rediss://, amqp:// or leave it unset for the embedded broker.",
                id="consentry.E003",
            )
        )
    from ledger.keys import KeyFileError, load_signing_key

    try:
        load_signing_key(settings.LEDGER_KEY_FILE)
    except KeyFileError as exc:
        errors.append(
            Error(
                f"LEDGER_KEY_FILE: {exc}",
                hint="Create a key with `python manage.py ledger_keygen` (make run does), "
                "or point LEDGER_KEY_FILE at an Ed25519 PKCS#8 PEM file of mode 0600.",
                id="consentry.E004",
            )
        )
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        errors.append(
            Error(
                "ALLOWED_HOSTS is empty while DEBUG is off: every request would be refused.",
                hint="Set ALLOWED_HOSTS to the host names the API is served under.",
                id="consentry.E005",
            )
        )
    return errors


@register()
def check_mp3_decoder(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """consentry.W003: MP3s are decoded by libmpg123 (``governance.content.mpg123``); without
    it, by FFmpeg: the same samples, with 15-20 % more CPU a file."""
    if mpg123.available():
        return []
    return [
        Warning(
            "libmpg123 does not load: MP3s are decoded by FFmpeg instead.",
            hint="Install Debian's libmpg123-0 (make run and make test do): MP3s decode with "
            "15-20 % less CPU.",
            id="consentry.W003",
        )
    ]


@register(Tags.database)
def check_database_role(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """consentry.W001 and W002: the service's role must be neither a superuser nor the owner of
    the tables, or the append-only ledger rests on triggers that role may switch off."""
    from django.db import DatabaseError, connections

    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT r.rolname, r.rolsuper, t.tableowner, "
                "t.tableowner IS NOT NULL AND pg_has_role(r.oid, t.tableowner, 'USAGE') "
                "FROM pg_roles r LEFT JOIN pg_tables t "
                "ON t.schemaname = current_schema() AND t.tablename = 'ledger_entry' "
                "WHERE r.rolname = COALESCE(NULLIF(%s, ''), current_user)",
                [str(getattr(settings, "DATABASE_APP_ROLE", "") or "")],
            )
            row = cursor.fetchone()
    except DatabaseError:
        return []  # consentry.E002, or the connection's own error, says why
    if row is None:
        return []
    role, superuser, owner, owns = row
    found: list[CheckMessage] = []
    if superuser:
        found.append(
            Warning(
                f"The service connects to PostgreSQL as {role!r}, a superuser: it can switch "
                "off the ledger's append-only triggers and rewrite its history.",
                hint="Connect the service (DATABASE_URL) as an application role that is not a "
                "superuser, and migrate with the owner (DATABASE_MIGRATION_URL); see "
                "docs/deployment.md.",
                id="consentry.W001",
            )
        )
    if owns and not superuser:  # a superuser has the owner's rights too; W001 says it
        found.append(
            Warning(
                f"The service connects to PostgreSQL as {role!r}, which owns the ledger's tables "
                f"(owner {owner!r}): it can disable their triggers, truncate or drop them.",
                hint="Give the tables to an owner role used only by `migrate` "
                "(DATABASE_MIGRATION_URL) and connect the service (DATABASE_URL) as an "
                "application role; see docs/deployment.md.",
                id="consentry.W002",
            )
        )
    return found
