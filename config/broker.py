"""The embedded broker: kombu's SQLAlchemy transport on Consentry's own PostgreSQL.

kombu hands every transport option of this transport to SQLAlchemy's ``create_engine``, so its
polling interval cannot be set as an option; this subclass takes it from
``CELERY_BROKER_POLLING_INTERVAL`` (seconds, default 0.2) instead. ``config.celery`` registers
it under the ``sqla`` scheme.
"""

from __future__ import annotations

import os

from kombu.transport import sqlalchemy


class SQLAlchemyTransport(sqlalchemy.Transport):
    polling_interval = float(os.environ.get("CELERY_BROKER_POLLING_INTERVAL", "0.2"))
