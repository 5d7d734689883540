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

_SHARES = """coalesce((SELECT string_agg(s.id::text || ':' || s.version::text, ',' ORDER BY s.id)
    FROM governance_rightsshare s WHERE s.work_id = w.id), '')"""
_RELEASES = """coalesce((SELECT string_agg(t.release_id::text, ',' ORDER BY t.release_id)
    FROM governance_releasetrack t WHERE t.work_id = w.id), '')"""
STAMP = f"md5(w.version::text || '/' || {_SHARES} || '/' || {_RELEASES})"
"""The state of work ``w`` that a digest vouches for (SQL). UUIDs order as their text does."""

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


def seen(version: int, shares: Iterable[tuple[Any, int]]) -> str:
    """The start of a work's :data:`STAMP` from what an import saw and wrote: its version and
    its shares' (id, version). Not read back at the end: a share another writer changed in the
    meantime would be vouched for, and the next re-import would skip what it must restore."""
    held = sorted((str(pk), v) for pk, v in shares)
    return f"{version}/" + ",".join(f"{pk}:{v}" for pk, v in held)


def store(party: Party, rows: Sequence[tuple[Any, str, str, int, str]]) -> None:
    """Write (work id, digest, element digest, shares, :func:`seen`) for works as the import
    saw and left them, in the caller's transaction (rolled back with it). The releases a work
    is on are read here: an import only ever adds tracks, so one added meanwhile changes
    nothing a re-import would do."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO governance_importdigest (work_id, party_id, digest, element, shares,"  # noqa: S608 - constants
            f" stamp) SELECT w.id, %s, u.digest, u.element, u.shares,"
            f" md5(u.seen || '/' || {_RELEASES})"
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::text[])"
            " AS u(work_id, digest, element, shares, seen)"
            " JOIN governance_work w ON w.id = u.work_id"
            " ON CONFLICT (work_id) DO UPDATE SET party_id = EXCLUDED.party_id,"
            " digest = EXCLUDED.digest, element = EXCLUDED.element, shares = EXCLUDED.shares,"
            " stamp = EXCLUDED.stamp",
            [party.pk, *columns],
        )
