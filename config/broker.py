"""The embedded broker: kombu's SQLAlchemy transport on Consentry's own PostgreSQL.

kombu hands every transport option of this transport to SQLAlchemy's ``create_engine``, so its
polling interval cannot be set as an option; this subclass takes it from
``CELERY_BROKER_POLLING_INTERVAL`` (seconds, default 0.2) instead. ``config.celery`` registers
it under the ``sqla`` scheme.
"""

from __future__ import annotations

import os

from kombu.transport import sqlalchemy

from config.embedded import BROKER_SEQUENCES, BROKER_TABLES


class SQLAlchemyTransport(sqlalchemy.Transport):
    polling_interval = float(os.environ.get("CELERY_BROKER_POLLING_INTERVAL", "0.2"))


def broker_tables_create(*, owner_url: str, app_role: str) -> None:
    """Make kombu's tables as the owner, and let ``app_role`` use them (DML, no DDL).

    kombu creates its tables at its first use, as whoever connects; the application role may not
    create tables, so the owner does it first, through kombu's own models (``owner_url`` is a
    SQLAlchemy URL; ``CREATE TABLE`` only for what is missing).
    """
    from kombu import Connection
    from psycopg import sql
    from sqlalchemy import Engine, text

    with Connection("sqla+" + owner_url) as connection:
        channel = connection.default_channel
        if not isinstance(channel, sqlalchemy.Channel):
            raise TypeError(f"not kombu's SQLAlchemy transport: {owner_url.split(':')[0]}")
        session = channel.session  # kombu's metadata.create_all runs here
        try:
            statements = [
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {}, {} TO {}").format(
                    *map(sql.Identifier, BROKER_TABLES), sql.Identifier(app_role)
                ),
                sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {}, {} TO {}").format(
                    *map(sql.Identifier, BROKER_SEQUENCES), sql.Identifier(app_role)
                ),
            ]
            for statement in statements:
                session.execute(text(statement.as_string()))
            session.commit()
        finally:
            bind = session.get_bind()
            session.close()
            if isinstance(bind, Engine):
                bind.dispose()  # kombu caches the engine; this process keeps no owner connection
