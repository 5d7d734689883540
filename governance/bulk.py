"""Insert many new rows of a model with PostgreSQL's COPY: the import's hot path.

Django's ``bulk_create`` builds one large INSERT per batch, and building it (the SQL text and
one parameter per value) costs more than the database's work for catalogs of 100,000 rows.
COPY streams the rows instead. Field values are prepared as ``bulk_create`` would (``pre_save``
fills ``auto_now`` fields, ``get_db_prep_save`` adapts them); an auto-incremented primary key
is left to the database, unless every object has one already (taken from the sequence by the
caller). Constraints and triggers apply as for any insert.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.utils import timezone

INSERT_MAX = 256
"""Up to this many rows in all, :func:`rows_insert` sends one string of INSERT statements (one
round trip) instead of a COPY per table (two round trips each): a synchronous check's five
rows (docs/benchmarks.md, "Checks: CPU per check"). A chunk of a manifest, or an import, is
still copied, which is cheaper for many rows."""


@dataclass(frozen=True)
class Rows:
    """Rows for one table, each a sequence of values in ``columns``' order."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


def model_rows(model: type[models.Model], objects: Sequence[models.Model]) -> Rows:
    """``objects``' rows for their table, their values prepared as ``bulk_create`` would."""
    with_pk = bool(objects) and all(o.pk is not None for o in objects)
    fields = [
        f for f in model._meta.concrete_fields
        if with_pk or not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]  # fmt: skip
    # Plain values go as they are (psycopg adapts str, int, UUID, Decimal, dates and lists); the
    # fields that need Django's preparation (auto_now, JSON, ...) get it.
    plain = (models.CharField, models.TextField, models.IntegerField, models.UUIDField,
             models.DecimalField, models.ForeignKey, models.BooleanField)  # fmt: skip
    texts = (models.CharField, models.TextField, models.IntegerField)
    # auto_now / auto_now_add: what ``pre_save`` sets, once for all the rows (psycopg adapts an
    # aware datetime as Django's PostgreSQL backend would pass it).
    now = timezone.now()
    for f in fields:
        if isinstance(f, models.DateTimeField) and _auto(f):
            for obj in objects:
                setattr(obj, f.attname, now)
    set_now = (models.DateTimeField,)
    getters = [
        (True, f)
        if isinstance(f, plain)
        or (isinstance(f, ArrayField) and isinstance(f.base_field, texts))
        or (isinstance(f, models.DateField) and (not _auto(f) or isinstance(f, set_now)))
        else (False, f)
        for f in fields
    ]
    rows = [
        [
            getattr(obj, f.attname)
            if direct
            else f.get_db_prep_save(f.pre_save(obj, add=True), connection)
            for direct, f in getters
        ]
        for obj in objects
    ]
    return Rows(model._meta.db_table, tuple(f.column for f in fields), rows)


def copy_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Insert ``objects`` with one COPY."""
    if objects:
        _copy(model_rows(model, objects))


def rows_insert(tables: Sequence[Rows]) -> None:
    """Insert the rows of several tables, in this order, in the caller's transaction: with
    one string of INSERT statements when they are few (:data:`INSERT_MAX`), else a COPY each."""
    tables = [t for t in tables if t.rows]
    if sum(len(t.rows) for t in tables) > INSERT_MAX:
        for t in tables:
            _copy(t)
        return
    if not tables:
        return
    statements, params = [], []
    for t in tables:
        row = "(" + ", ".join(["%s"] * len(t.columns)) + ")"
        statements.append(
            f"INSERT INTO {_names(t)} VALUES {', '.join([row] * len(t.rows))}"  # noqa: S608 - names from the models
        )
        params += [value for values in t.rows for value in values]
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements), params)


def _names(t: Rows) -> str:
    return _quoted(t.table, t.columns)


@functools.cache
def _quoted(table: str, columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    return f"{quote(table)} ({', '.join(quote(c) for c in columns)})"


def _copy(t: Rows) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {_names(t)} FROM STDIN") as copy,
    ):
        for values in t.rows:
            copy.write_row(values)


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
