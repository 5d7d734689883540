"""Insert many new rows of a model with PostgreSQL's COPY: the import's hot path.

Django's ``bulk_create`` builds one large INSERT per batch, and building it (the SQL text and
one parameter per value) costs more than the database's work for catalogs of 100,000 rows.
COPY streams the rows instead. Field values are prepared as ``bulk_create`` would (``pre_save``
fills ``auto_now`` fields, ``get_db_prep_save`` adapts them); an auto-incremented primary key
is left to the database, unless every object has one already (taken from the sequence by the
caller). Constraints and triggers apply as for any insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def copy_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    if not objects:
        return
    with_pk = all(o.pk is not None for o in objects)
    fields = [
        f for f in model._meta.concrete_fields
        if with_pk or not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]  # fmt: skip
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        # Plain values go as they are (psycopg adapts str, int, UUID, Decimal, dates and lists);
        # the fields that need Django's preparation (auto_now, JSON, ...) get it.
        plain = (models.CharField, models.TextField, models.IntegerField, models.UUIDField,
                 models.DecimalField, models.ForeignKey, models.BooleanField)  # fmt: skip
        getters = [
            (True, f)
            if isinstance(f, plain) or (isinstance(f, models.DateField) and not _auto(f))
            else (False, f)
            for f in fields
        ]
        for obj in objects:
            row: list[Any] = [
                getattr(obj, f.attname)
                if direct
                else f.get_db_prep_save(f.pre_save(obj, add=True), connection)
                for direct, f in getters
            ]
            copy.write_row(row)


def ids_reserve(model: type[models.Model], n: int) -> list[int]:
    """``n`` values of the auto-incremented primary key's sequence, for rows inserted later."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _auto(field: models.Field[Any, Any]) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
