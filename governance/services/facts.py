"""What deciding needs to know: the works an item names or matches (by identifier, by
similarity on pgvector, or by its audio's fingerprint: ``governance.services.fingerprints``),
and the registry's facts about them (shares, credited artists, the
holders' postures and rule versions in force, the consent matrix), as the pure evaluator reads
them (``governance.evaluation``).

Every check and every chunk of a request loads these, in three round trips: the references
(``selectors.works_by_reference``, one query per scheme), then two hand-written multi-statement
queries over the models' tables (works, their shares — a recording's include the publishing
shares of the composition it embodies, ``evaluation.FLOWS`` — and credits; parties, rule
versions and the matrix); an item with vectors adds a search per space, one with audio its
vote query (and, when something matched, the query naming the matched contents' works).
Built through the ORM, those reads cost several times the database's
work. Column names come from the models, so a renamed column cannot drift.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from governance import evaluation, ordering, selectors
from governance.exceptions import NotFound
from governance.models import (
    ConsentMatrixVersion,
    ConsentRule,
    ConsentRuleVersion,
    Credit,
    EmbeddingSpace,
    Party,
    RequestItem,
    RightsShare,
    UseRequest,
    Work,
)
from governance.services.compositions import composition_matches
from governance.services.fingerprints import (
    ContentSpec,
    fingerprint_matches,
    fingerprint_model_version,
)
from governance.services.texts import is_text_entry, text_resolution

TOP_K = 10
EF_SEARCH = 100
"""hnsw.ef_search for matching: recall@10 0.98 at 1,000,000 vectors (docs/matching.md)."""


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def space_index_sql(space: EmbeddingSpace) -> str:
    """The partial HNSW index of one space (cosine), on the column cast to its dimension: made by
    the owner's function (governance migration 0006), since the service's role owns no table."""
    return f"SELECT governance_space_index_create({int(space.pk)})"


def match_vector(
    *, space: EmbeddingSpace, vector: Sequence[float], k: int = TOP_K
) -> list[tuple[str, float]]:
    """The top ``k`` works by cosine similarity in ``space`` (HNSW), as (work id, score),
    keeping those at or above the space's threshold."""
    # The dimension and the space id are integers from our own table, written into the SQL:
    # the partial index is used only when the planner sees the space id as a constant.
    d, space_id = int(space.dimension), int(space.pk)
    literal = "[" + ",".join(repr(float(v)) for v in vector) + "]"
    # SET LOCAL lasts until the end of the transaction, so there must be one.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
        cursor.execute(
            f"SELECT work_id, 1 - (embedding::vector({d}) <=> %s::vector({d})) AS score"  # noqa: S608 - integers
            f" FROM governance_workembedding WHERE space_id = {space_id}"
            f" ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT %s",
            [literal, literal, k],
        )
        rows = cursor.fetchall()
    return [(str(w), float(s)) for w, s in rows if float(s) >= space.threshold]


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceMatch:
    """An artist recognised by voice in an item's audio (the ``voice`` space): what voice
    matching hands to deciding, as ``Resolved.artists`` takes it (:meth:`artist_facts`). The
    artist is then decided on their likeness, as an artist a prompt names is."""

    artist_id: str
    score: float
    threshold: float
    model_version: str
    model: str = ""
    span: tuple[float, float] | None = None
    """Where, in the item's audio, the window of speech that matched lies (seconds)."""

    def artist_facts(self) -> evaluation.ArtistFacts:
        detail: tuple[tuple[str, Any], ...] = (("model", self.model),) if self.model else ()
        detail += (("model_version", self.model_version),)
        if self.span is not None:
            detail += (("query_start_seconds", self.span[0]), ("query_end_seconds", self.span[1]))
        match = evaluation.Match(
            "voice", round(float(self.score), 6), float(self.threshold), detail
        )
        return evaluation.ArtistFacts(str(self.artist_id), (match,))


@dataclass
class Resolved:
    """What an item names or matches. An identifier under which nothing is registered is an
    answer, not an error: no works, and ``unregistered`` names it (the item is ``no_match``)."""

    works: list[tuple[str, str | None, tuple[evaluation.Match, ...]]]  # (id, identified_by, m)
    error: str = ""
    unregistered: str | None = None
    code: str = ""
    """With ``error``: the code of content that could not be read (``content.too_short``), an
    ``error`` item of its own; without, the error is the request's (a 400 for a check)."""
    artists: list[evaluation.ArtistFacts] = field(default_factory=list)
    """The artists the item matched (a prompt naming them: ``governance.services.texts``),
    each decided on its likeness."""
    rights_use: dict[str, str] = field(default_factory=dict)
    """Work id → the use whose matrix row gives its required rights, when not the request's:
    ``lyrics`` for a work matched by its lyrics (``evaluation.WorkFacts.rights_use``)."""
    searched: dict[str, Any] | None = None
    """For text: what was searched (space, model, parts, the nearest name or work and its
    score), which the trace keeps whether or not anything matched."""


@dataclass
class WorkRow:
    work_id: str
    title: str
    composition_id: str | None
    shares: list[evaluation.Share]
    artist_ids: list[str]
    ai_declaration: str = ""


def _table(model: type[Any]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _col(model: type[Any], field: str) -> str:
    return str(connection.ops.quote_name(model._meta.get_field(field).column))


@functools.cache
def _sql_work_facts() -> str:
    """Four statements: the works' locks, shared (:mod:`governance.ordering`); the works; their
    shares, with the publishing shares of the compositions they embody as shares of the
    recordings (``evaluation.FLOWS``: the last column names the composition); their credited
    main and featured artists."""
    w, s, c = Work, RightsShare, Credit
    fields = ("holder", "right", "share", "territory_mode", "territories", "valid_from",
              "valid_until")  # fmt: skip
    own = ", ".join(f"s.{_col(s, f)}" for f in ("work", *fields))
    inherited = ", ".join([f"w.{_col(w, 'id')}", *(f"s.{_col(s, f)}" for f in fields)])
    flows = ", ".join(f"'{r}'" for r in evaluation.FLOWS)
    return (
        f"{ordering.LOCK_SHARED_SQL};"  # noqa: S608 - names from the models
        f" SELECT {_col(w, 'id')}, {_col(w, 'title')}, {_col(w, 'composition')},"
        f" {_col(w, 'ai_declaration')}"
        f" FROM {_table(w)} WHERE {_col(w, 'id')} = ANY(%(works)s::uuid[]);"
        f" SELECT {own}, NULL::uuid FROM {_table(s)} s"
        f" WHERE s.{_col(s, 'work')} = ANY(%(works)s::uuid[])"
        f" UNION ALL SELECT {inherited}, s.{_col(s, 'work')} FROM {_table(w)} w"
        f" JOIN {_table(s)} s ON s.{_col(s, 'work')} = w.{_col(w, 'composition')}"
        f" WHERE w.{_col(w, 'id')} = ANY(%(works)s::uuid[]) AND s.{_col(s, 'right')} IN ({flows})"
        f" ORDER BY 1, 3, 2;"
        f" SELECT {_col(c, 'work')}, {_col(c, 'party')} FROM {_table(c)}"
        f" WHERE {_col(c, 'work')} = ANY(%(works)s::uuid[]) AND {_col(c, 'party')} IS NOT NULL"
        f" AND {_col(c, 'role')} IN ('main_artist', 'featured')"
        f" ORDER BY {_col(c, 'work')}, {_col(c, 'position')}"
    )


_VERSION_FIELDS = [f for f in ConsentRuleVersion._meta.concrete_fields]


@functools.cache
def _sql_holder_facts() -> str:
    p, v, r, m = Party, ConsentRuleVersion, ConsentRule, ConsentMatrixVersion
    quote = connection.ops.quote_name
    version_columns = ", ".join(f"v.{quote(f.column)}" for f in _VERSION_FIELDS)
    party_id, owner = _col(p, "id"), f"r.{_col(r, 'owner')}"
    parties = (
        f"SELECT {party_id}, {_col(p, 'name')}, {_col(p, 'kind')}, {_col(p, 'default_posture')}"  # noqa: S608 - names from the models
        f" FROM {_table(p)} WHERE {party_id} = ANY(%(holders)s::uuid[])"
    )
    versions = (
        f"SELECT {version_columns}, {owner} FROM {_table(v)} v"  # noqa: S608 - names from the models
        f" JOIN {_table(r)} r ON r.{_col(r, 'id')} = v.{_col(v, 'rule')}"
        f" WHERE {owner} = ANY(%(holders)s::uuid[])"
        f" AND v.{_col(v, 'effective_from')} <= clock_timestamp()"
        f" AND v.{_col(v, 'effective_until')} IS NULL"
        f" ORDER BY v.{_col(v, 'rule')}, v.{_col(v, 'version')}"
    )
    matrix = (
        f"SELECT {_col(m, 'version')}, {_col(m, 'matrix')} FROM {_table(m)}"  # noqa: S608 - names from the models
        f" WHERE {_col(m, 'effective_from')} <= clock_timestamp()"
        f" ORDER BY {_col(m, 'version')} DESC LIMIT 1"
    )
    # First the holders' and the matrix's locks, shared, and the clock once they are held: the
    # decision's time (governance.ordering).
    return f"{ordering.LOCK_SHARED_SQL}; {parties}; {versions}; {matrix}"


def _result_sets(sql: str, params: dict[str, Any], count: int) -> list[list[tuple[Any, ...]]]:
    """Run ``count`` statements in one round trip; their rows, in order."""
    out = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for n in range(count):
            if n:
                cursor.nextset()
            out.append(cursor.fetchall())
    return out


class Context:
    """What deciding a batch of items needs, loaded in a few queries: one request's chunk, or a
    batch of synchronous checks (whose items belong to several requests). ``resolved[n]`` is
    what ``items[n]`` names or matches.

    The facts are read under shared locks on the works, the compositions they embody, their
    holders and the matrix (:mod:`governance.ordering`), one statement per set, held until the
    transaction ends; ``now`` is the database's clock once they are held, the time of the
    decisions made from them: every change of those facts is before it (committed, and before
    the decisions in the log) or after the decisions commit."""

    def __init__(self, items: Sequence[RequestItem]):
        with_vectors = any("vector" in e for item in items for e in item.vectors)
        self.spaces = {s.name: s for s in EmbeddingSpace.objects.all()} if with_vectors else {}
        self.references = selectors.works_by_reference(i.reference for i in items if i.reference)
        self.resolved = [self._resolve(item) for item in items]
        work_ids = sorted({w for r in self.resolved for w, _, _ in r.works})
        locked = {ordering.work_key(w) for w in work_ids}
        self.works = self._work_facts(work_ids, locked)
        compositions = {
            ordering.work_key(w.composition_id)
            for w in self.works.values()
            if w.composition_id is not None
        }
        if compositions - locked:  # their shares were read unlocked: again, under their locks
            locked |= compositions
            self.works = self._work_facts(work_ids, locked)
        holders = {s.holder_id for w in self.works.values() for s in w.shares}
        holders |= {a for w in self.works.values() for a in w.artist_ids}
        holders |= {a.artist_id for r in self.resolved for a in r.artists}
        keys = [ordering.MATRIX, *(ordering.holder_key(h) for h in holders)]
        clock, parties, versions, matrices = _result_sets(
            _sql_holder_facts(), {"holders": sorted(holders), "keys": sorted(keys)}, 4
        )
        self.now: dt.datetime = clock[0][0]
        if not matrices:
            raise NotFound("No consent matrix was in force then.")
        version, matrix = matrices[0]
        matrix = json.loads(matrix) if isinstance(matrix, str) else matrix
        names = [f.attname for f in _VERSION_FIELDS]
        rules = []
        converters = [
            (n, f.from_db_value)
            for n, f in enumerate(_VERSION_FIELDS)
            if hasattr(f, "from_db_value")
        ]  # the JSON fields' (the rest come from psycopg as the model holds them)
        for row in versions:
            values = list(row[:-1])
            for n, convert in converters:
                values[n] = convert(values[n], None, connection)
            rule_version = ConsentRuleVersion.from_db(None, names, values)
            rules.append(selectors.rule_content(rule_version, owner_id=row[-1]))
        self.facts = evaluation.Facts(
            matrix_version=version,
            matrix={u: tuple(r) for u, r in matrix.items()},
            holders={
                str(pk): evaluation.Holder(str(pk), name, kind, posture)
                for pk, name, kind, posture in parties
            },
            rules=tuple(rules),
        )

    def _resolve(self, item: RequestItem) -> Resolved:
        if item.reference:
            found = self.references.get(item.reference, [])
            if not found:
                return Resolved([], unregistered=item.reference)
            return Resolved([(w, item.reference, ()) for w in found])
        if item.vectors and is_text_entry(item.vectors[0]):
            text = text_resolution(item.vectors[0])
            return Resolved(
                list(text.works), artists=text.artists, searched=text.searched,
                rights_use={w: "lyrics" for w, _, _ in text.works},
            )  # fmt: skip
        if item.vectors and (
            content := ContentSpec.from_stored(item.vectors[0], sha256=item.content_sha256)
        ):
            return _resolve_content(content)
        best: dict[str, list[evaluation.Match]] = defaultdict(list)
        for entry in item.vectors:
            space = self.spaces.get(entry["space"])
            if space is None:
                return Resolved([], error=f"embedding space {entry['space']!r} was removed")
            for work_id, score in match_vector(space=space, vector=entry["vector"]):
                best[work_id].append(evaluation.Match(space.name, round(score, 6), space.threshold))
        return Resolved([(w, None, tuple(m)) for w, m in sorted(best.items())])

    @staticmethod
    def _work_facts(work_ids: list[str], keys: set[str]) -> dict[str, WorkRow]:
        if not work_ids:
            return {}
        _, works, shares, credits = _result_sets(
            _sql_work_facts(), {"works": work_ids, "keys": sorted(keys)}, 4
        )
        rows = {
            str(pk): WorkRow(str(pk), title, None if comp is None else str(comp), [], [], ai)
            for pk, title, comp, ai in works
        }
        for work_id, holder, right, share, mode, territories, start, until, comp in shares:
            rows[str(work_id)].shares.append(
                evaluation.Share(
                    str(holder),
                    right,
                    Decimal(share),
                    mode,
                    frozenset(territories),
                    start,
                    until,
                    composition=None if comp is None else str(comp),
                )
            )
        for work_id, party_id in credits:
            if str(party_id) not in rows[str(work_id)].artist_ids:
                rows[str(work_id)].artist_ids.append(str(party_id))
        return rows

    def work_facts(self, resolved: Resolved) -> list[evaluation.WorkFacts]:
        out = []
        for work_id, identified_by, matches in resolved.works:
            row = self.works[work_id]
            out.append(
                evaluation.WorkFacts(
                    work_id=work_id,
                    title=row.title,
                    shares=tuple(row.shares),
                    artist_ids=tuple(row.artist_ids),
                    matches=matches,
                    identified_by=identified_by,
                    composition_id=row.composition_id,
                    rights_use=resolved.rights_use.get(work_id),
                    ai_declaration=row.ai_declaration,
                )
            )
        return out


def _resolve_content(content: ContentSpec) -> Resolved:
    """What an item's audio matches (best first), or why it could not be read."""
    if content.error:
        # Audio too short to fingerprint is still long enough for a voice: an artist whose
        # voice it carries is an answer; nobody's voice, and the item is the error it was.
        if content.error == "too_short" and (artists := _voices(content)):
            return Resolved([], artists=artists)
        return Resolved([], error=content.detail, code=f"content.{content.error}")
    if content.model_version != fingerprint_model_version():
        # stored before the model changed: its fingerprint no longer compares with the works'
        reason = f"fingerprint model version {content.model_version} is no longer served"
        return Resolved([], error=reason)
    # A work matched in both spaces keeps both matches (the trace orders them by space). The
    # fingerprint's works come first, best first, then the composition's others, best first:
    # a recording found as itself before one found as a version of its composition.
    matched: dict[str, list[evaluation.Match]] = {}
    for work, match in fingerprint_matches(content):
        matched.setdefault(work, []).append(match)
    for work, match in composition_matches(
        content.composition, version=content.composition_version
    ):
        matched.setdefault(work, []).append(match)
    return Resolved([(w, None, tuple(m)) for w, m in matched.items()], artists=_voices(content))


def _voices(content: ContentSpec) -> list[evaluation.ArtistFacts]:
    """The artists whose voice the item's audio carries (the ``voice`` space), best first:
    each is then decided on their likeness. Audio kept with another model version's voice
    vectors (or none: no speech, a client's fingerprint) matches no voice."""
    from governance.content import voice
    from governance.services.voices import voice_matches

    if not content.voice or content.voice_version != voice.VERSION:
        return []
    vectors = [list(v) for v, _ in content.voice]
    return [
        VoiceMatch(m.artist, m.score, m.threshold, m.model_version, m.model,
                   span=content.voice[m.window][1]).artist_facts()
        for m in voice_matches(vectors)
    ]  # fmt: skip


def question_of(request: UseRequest) -> evaluation.Question:
    """The question a request asks, about its whole period of use (``evaluation.periods``)."""
    at, until = evaluation.question_period(
        start=request.period_start, end=request.period_end, asked=request.created_at
    )
    return evaluation.Question(
        use=request.use,
        licensee_id=str(request.licensee_id),
        territories=tuple(request.territories),
        at=at,
        commercial=request.commercial,
        until=until,
    )
