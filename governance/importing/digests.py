"""The digests of what a party's imports stored (:class:`~governance.models.ImportDigest`):
read the ones still valid, write the new ones. Raw SQL: a re-import of 100,000 works reads
100,000 (digest, identifier) pairs, and builds no model object.

A digest is valid while its ``stamp`` is the work's: the work's version, its shares' ids and
versions, and the releases it is on. Any change of these since, by an import or the API (a
share updated, removed or added, a claim accepted, the work edited), makes it stale, and the
work is imported the long way (which writes a new digest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from governance.models import Party

STAMP = """md5(w.version::text || '/' || coalesce((
    SELECT string_agg(s.id::text || ':' || s.version::text, ',' ORDER BY s.id)
    FROM governance_rightsshare s WHERE s.work_id = w.id), '') || '/' || coalesce((
    SELECT string_agg(t.release_id::text, ',' ORDER BY t.release_id)
    FROM governance_releasetrack t WHERE t.work_id = w.id), ''))"""
"""The state of work ``w`` that a digest vouches for (SQL)."""

Stored = dict[tuple[str, str], tuple[str, str, int]]
"""(``isrc``/``iswc``, code) -> (digest, element digest, shares)."""


def stored(party: Party, keys: Iterable[tuple[str, str]] | None = None) -> Stored:
    """The valid digests of ``party``'s imports: of the works with ``keys``, or all of them.
    Only of works ``party`` registered: another party's import of the same file is checked
    the long way (and told what it may not do)."""
    where, params = "", list[Any]([party.pk, party.pk])
    if keys is not None:
        keys = list(keys)
        where = " AND (w.isrc = ANY(%s) OR w.iswc = ANY(%s))"
        params += [[c for s, c in keys if s == "isrc"], [c for s, c in keys if s == "iswc"]]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.isrc, w.iswc, d.digest, d.element, d.shares"  # noqa: S608 - constants
            " FROM governance_importdigest d JOIN governance_work w ON w.id = d.work_id"
            f" WHERE d.party_id = %s AND w.registrant_id = %s{where} AND d.stamp = {STAMP}",
            params,
        )
        return {
            (("isrc", isrc) if isrc else ("iswc", iswc)): (digest, element, shares)
            for isrc, iswc, digest, element, shares in cursor.fetchall()
        }


def store(party: Party, rows: Sequence[tuple[Any, str, str, int]]) -> None:
    """Write (work id, digest, element digest, shares) for works as they are now, in the
    caller's transaction (rolled back with it)."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO governance_importdigest (work_id, party_id, digest, element, shares,"  # noqa: S608 - constants
            f" stamp) SELECT w.id, %s, u.digest, u.element, u.shares, {STAMP}"
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[])"
            " AS u(work_id, digest, element, shares)"
            " JOIN governance_work w ON w.id = u.work_id"
            " ON CONFLICT (work_id) DO UPDATE SET party_id = EXCLUDED.party_id,"
            " digest = EXCLUDED.digest, element = EXCLUDED.element, shares = EXCLUDED.shares,"
            " stamp = EXCLUDED.stamp",
            [party.pk, *columns],
        )
