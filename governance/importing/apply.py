"""Upsert import records into the catalog, a chunk at a time, with their ledger entries.

Works are found by identifier (ISRC for recordings, ISWC for compositions), shares by
(work, holder, right, territories, validity), releases by UPC. What is new is created, what
differs is updated (its version goes up), what is the same is left alone: importing a file
twice changes nothing and appends nothing. Each change appends its ledger entry in the same
transaction as the change (the caller's).

Access is the API's (``governance.services.catalog`` and ``.shares``): the importing party
registers new works and releases; it changes an existing work only if it registered it; it adds
shares only to works it registered (a party that holds a right of another's work files a claim); a
``likeness`` share only for an artist credited on the work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q
from django.db.models.base import ModelState

from governance import ledgering, ordering
from governance.bulk import copy_insert
from governance.importing import digests
from governance.importing.records import (
    CreditRecord,
    HolderRecord,
    ImportRecord,
    Problem,
    ReleaseRecord,
    ShareRecord,
    content_digest,
)
from governance.models import (
    Credit,
    Party,
    PartyKind,
    Release,
    ReleaseTrack,
    RightsShare,
    Work,
)
from governance.rights import ShareTerms, find_overshoot

WORK_FIELDS = ("title", "display_artist", "composition_id", "duration_ms", "language",
               "release_date", "p_line", "p_year", "languages", "genre",
               "parental_warning", "ai_declaration", "ai_parts", "ai_declared_in",
               "declared_iswc")  # fmt: skip
RELEASE_FIELDS = ("catalog_number", "label_name", "c_line")
NOT_HOLDERS = (PartyKind.LICENSEE, PartyKind.AUDITOR)


@dataclass
class Report:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of this process: ``read`` (the file into records) and ``apply``."""

    def reject(self, where: str, reason: str) -> None:
        self.problems.append(Problem(where, reason))


_M = TypeVar("_M", bound=models.Model)
_FIELDS: dict[type[models.Model], list[Any]] = {}


def _new(model: type[_M], **values: Any) -> _M:
    """``model(**values)`` for a new row, ``values`` by attribute name (``work_id``): each other
    field gets its default as in ``Model.__init__``, but without its per-field work (related
    descriptors, signals: none are connected to these models), 3 to 5 times quicker; an import
    builds 300,000 of them."""
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = list(model._meta.concrete_fields)
    obj = model.__new__(model)
    obj._state = ModelState()
    attrs = obj.__dict__
    for f in fields:
        if f.attname not in values:
            attrs[f.attname] = f.get_default()
    attrs.update(values)
    return obj


def _terms(s: RightsShare, share: Decimal | None = None) -> ShareTerms:
    percent = s.share if share is None else share
    codes = frozenset(s.territories)
    return ShareTerms(
        str(s.pk), str(s.holder_id), percent, s.territory_mode, codes, s.valid_from, s.valid_until
    )


def _share_key(
    holder_id: Any, right: str, mode: str, codes: Any, start: Any, end: Any
) -> tuple[Any, ...]:
    return (str(holder_id), right, mode, tuple(sorted(codes)), start, end)


_IDS = ("isni", "ipi", "dpid")


def _ids(item: Party | HolderRecord) -> dict[str, str]:
    return {k: v for k in _IDS if (v := getattr(item, k) or "")}


def _contradicts(party: Party, ids: dict[str, str]) -> bool:
    """The party has an identifier of a scheme the feed gives, and it is another one."""
    known = _ids(party)
    return any(known.get(k) not in (None, v) for k, v in ids.items())


class Applier:
    """Applies chunks for one importing party; caches parties across chunks.

    A feed's holder (:class:`HolderRecord`: a DDEX rights controller) is, in this order:
    1. the importing party, when an identifier (DPID, ISNI, IPI) matches its own, or its name
       does and no identifier contradicts it;
    2. a party that joined (not an unclaimed one), by DPID, ISNI or IPI, then by name alone when
       exactly one holder party has it and no identifier contradicts;
    3. an unclaimed party that this importing party's feeds named before (by identifier, else by
       name), or the party that has since claimed it;
    4. else a new unclaimed party named by this importing party (ledgered as a ``party``).
    Another label's unclaimed parties are never reused, and no existing party is ever changed:
    a feed can neither take over a party nor attach shares to one another label named."""

    def __init__(self, *, party: Party, now: dt.datetime, report: Report) -> None:
        self.party = party
        self.now = now
        self.report = report
        self._parties_by_id: dict[str, Party] = {}
        self._parties_by_name: dict[str, list[Party]] = defaultdict(list)
        self._joined_by: dict[str, dict[str, Party]] = {k: {} for k in _IDS}
        self._named_by_id: dict[str, dict[str, Party]] = {k: {} for k in _IDS}
        self._named_by_name: dict[str, Party] = {}
        self._named_ids: set[Any] = set()
        self._found: dict[HolderRecord, Party] = {}
        self._new_parties: list[Party] = []
        self._faulty: set[int] = set()  # id() of the records of this chunk with a rejection.
        self._held: dict[Any, list[tuple[Any, int]]] = {}  # Work id -> its shares' (id, version).
        for p in Party.objects.filter(Q(named_by__isnull=True) | Q(named_by=party)):
            if p.named_by_id is None:
                self._parties_by_id[str(p.pk)] = p
                self._parties_by_name[p.name.casefold()].append(p)
                for k, v in _ids(p).items():
                    self._joined_by[k][v] = p
            else:
                self._remember_named(p)

    # -- parties ---------------------------------------------------------------------------

    def _named_before(self, named: HolderRecord, ids: dict[str, str]) -> Party | None:
        found = next((self._named_by_id[k][v] for k, v in ids.items()
                      if v in self._named_by_id[k]), None)  # fmt: skip
        if found is None and (same := self._named_by_name.get(named.name.casefold())):
            found = None if _contradicts(same, ids) else same
        return found

    def _remember_named(self, p: Party) -> None:
        self._named_ids.add(p.pk)
        for k, v in _ids(p).items():
            self._named_by_id[k].setdefault(v, p)
        self._named_by_name.setdefault(p.name.casefold(), p)

    def _holder(self, share: ShareRecord) -> Party:
        if share.named is not None:
            return self._named_holder(share.named)
        if not share.holder:
            return self.party
        by_id = self._parties_by_id.get(share.holder)
        if by_id is not None:
            return by_id
        found = [p for p in self._parties_by_name.get(share.holder.casefold(), [])
                 if p.kind not in NOT_HOLDERS]  # fmt: skip
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError(f"holder {share.holder!r} names several parties; give its id")
        raise ValueError(f"holder {share.holder!r} is not a registered party")

    def _named_holder(self, named: HolderRecord) -> Party:
        # A feed names its few controllers on every recording: each is found once (a later
        # search would find the same party, the one this found or named).
        if (found := self._found.get(named)) is None:
            found = self._found[named] = self._find_holder(named)
        return found

    def _find_holder(self, named: HolderRecord) -> Party:
        ids = _ids(named)
        own = _ids(self.party)
        # Step 1: the importing party itself.
        if any(own.get(k) == v for k, v in ids.items()) or (
            named.name.casefold() == self.party.name.casefold()
            and not _contradicts(self.party, ids)
        ):
            return self.party
        # Step 2: a party that joined, by identifier, then by name.
        for k, v in ids.items():
            joined = self._joined_by[k].get(v)
            if joined is not None and joined.kind not in NOT_HOLDERS:
                return joined
        found = [p for p in self._parties_by_name.get(named.name.casefold(), [])
                 if p.kind not in NOT_HOLDERS and not _contradicts(p, ids)]  # fmt: skip
        if len(found) == 1:
            return found[0]
        # Step 3: one this party's feeds named before (or the party that claimed it).
        before = self._named_before(named, ids)
        if before is None:
            # Step 4 follows, unless another import of this party's feeds named it since this
            # one started (the name's lock, taken in ``apply``, is held: it is committed).
            since = list(Party.objects.filter(named_by=self.party).exclude(pk__in=self._named_ids))
            for p in since:
                self._remember_named(p)
            before = self._named_before(named, ids) if since else None
        if before is not None:
            if before.claimed_by_id is not None:
                claimant = self._parties_by_id.get(str(before.claimed_by_id))
                return claimant or Party.objects.get(pk=before.claimed_by_id)
            return before
        # Step 4: a new unclaimed party, named by this importing party.
        name = named.name or " ".join(f"{k.upper()} {v}" for k, v in ids.items())
        party = Party(
            id=uuid.uuid4(), kind=PartyKind.LABEL, name=name[:200], isni=named.isni or None,
            ipi=named.ipi or None, dpid=named.dpid or None, named_by=self.party,
        )  # fmt: skip
        party.save(force_insert=True)
        self._remember_named(party)
        self._new_parties.append(party)
        self.report.counts["parties_named"] += 1
        return party

    def _artist_id(self, name: str) -> str | None:
        """A credited artist is linked only to an artist party that joined, never to a name a
        feed gave to an unclaimed party."""
        artists = [p for p in self._parties_by_name.get(name.casefold(), [])
                   if p.kind == PartyKind.ARTIST]  # fmt: skip
        return str(artists[0].pk) if len(artists) == 1 else None

    def _credits(self, work: Work, credits: Sequence[CreditRecord]) -> list[Credit]:
        return [
            _new(Credit, work_id=work.pk, position=n, name=c.name, role=c.role, isni=c.isni,
                 ipi=c.ipi, party_id=self._artist_id(c.name)
                 if c.role in ("main_artist", "featured") else None)
            for n, c in enumerate(credits)
        ]  # fmt: skip

    # -- one chunk -------------------------------------------------------------------------

    def apply(self, records: Sequence[ImportRecord]) -> None:
        entries: list[tuple[str, dict[str, Any]]] = []
        # Before looking which are registered: a registration of one of them in flight (the
        # API's, another import's) commits first, and this chunk finds it.
        ordering.registering(
            [f"{scheme}:{code}" for r in records for scheme, code in (("isrc", r.isrc),
             ("iswc", r.iswc), ("iswc", r.declared_iswc)) if code]
            # The recordings a works message links (governance.importing.links).
            + [f"isrc:{code}" for r in records for code in r.recording_isrcs]
            + [f"upc:{spec.upc}" for r in records for spec in r.releases]
            # The parties this chunk may name: two imports of one label's feeds name each once.
            + [f"named:{self.party.pk}:{s.named.name.casefold()}" for r in records
               for s in r.shares if s.named is not None]
        )  # fmt: skip
        records = self._changed(records)
        works = self._works(records, entries)
        self._shares(records, works, entries)
        self._releases(records, works, entries)
        ledgering.append_many(entries, now=self.now)
        # What was stored whole, as it is now: the next import of the same content skips it.
        digests.store(self.party, [
            (work.pk, r.digest, r.element, len(r.shares),
             digests.seen(work.version, self._held.get(work.pk, ()))) for r in records
            if (work := works.get(id(r))) is not None and id(r) not in self._faulty
            and work.registrant_id == self.party.pk
        ])  # fmt: skip
        self._faulty.clear()
        self._held.clear()

    def _changed(self, records: Sequence[ImportRecord]) -> list[ImportRecord]:
        """The records whose work is not as this party's last import of the same content left
        it (by digest: the work's rows are not loaded for the others), counted as unchanged."""
        for r in records:
            r.digest = r.digest or content_digest(r)
        stored = digests.stored(self.party, [r.key for r in records])
        changed = []
        for r in records:
            if (found := stored.get(r.key)) is not None and found[0] == r.digest:
                self.report.counts["works_unchanged"] += 1
                self.report.counts["shares_unchanged"] += found[2]
            else:
                changed.append(r)
        return changed

    def _works(
        self, records: Sequence[ImportRecord], entries: list[tuple[str, dict[str, Any]]]
    ) -> dict[int, Work]:
        """Create or update the records' works; the work of each accepted record by id()."""
        isrcs = [r.isrc for r in records if r.isrc]
        iswcs = [r.iswc for r in records if r.iswc]
        wanted = {i for r in records for i in (r.composition_iswc, r.declared_iswc) if i}
        existing = {
            ("isrc", w.isrc) if w.isrc else ("iswc", w.iswc): w
            for w in Work.objects.filter(Q(isrc__in=isrcs) | Q(iswc__in=iswcs))
        }
        compositions = dict(
            Work.objects.filter(iswc__in=wanted, kind="composition").values_list("iswc", "pk")
        )
        old_credits: dict[Any, list[CreditRecord]] = defaultdict(list)
        for c in Credit.objects.filter(work__in=list(existing.values())).order_by("position"):
            old_credits[c.work_id].append(CreditRecord(c.name, c.role, c.isni, c.ipi))
        created: list[Work] = []
        changed: list[Work] = []
        accepted: dict[int, Work] = {}
        credit_rows: list[Credit] = []
        for record in records:
            composition = None
            if record.composition_iswc:
                composition = compositions.get(record.composition_iswc)
                if composition is None:
                    why = "is not registered (import it first, or in this file)"
                    self.report.reject(record.where, f"composition {record.composition_iswc} {why}")
                    continue
            elif not record.composition_stated:
                # A feed's declared ISWC links the recording once the composition is registered;
                # otherwise the link it has stays (docs/catalog-works.md).
                known = existing.get(record.key)
                composition = (
                    compositions.get(record.declared_iswc) if record.declared_iswc else None
                )
                composition = composition or (known.composition_id if known else None)
            values = {
                "title": record.title, "display_artist": record.display_artist,
                "composition_id": composition, "duration_ms": record.duration_ms,
                "language": record.language, "release_date": record.release_date,
                "p_line": record.p_line, "p_year": record.p_year,
                "languages": list(record.languages), "genre": record.genre,
                "parental_warning": record.parental_warning,
                "ai_declaration": record.ai_declaration, "ai_parts": list(record.ai_parts),
                "ai_declared_in": list(record.ai_declared_in),
                "declared_iswc": record.declared_iswc,
            }  # fmt: skip
            work = existing.get(record.key)
            if work is None:
                work = _new(Work, id=uuid.uuid4(), kind=record.kind, isrc=record.isrc,
                            iswc=record.iswc, registrant_id=self.party.pk, **values)  # fmt: skip
                created.append(work)
                credit_rows += self._credits(work, record.credits)
                if record.kind == "composition" and record.iswc:
                    compositions[record.iswc] = work.pk
            else:
                if work.kind != record.kind:
                    self.report.reject(record.where, f"{record.key[0].upper()} {record.key[1]} "
                                       f"is registered as a {work.kind}")  # fmt: skip
                    continue
                same = all(getattr(work, k) == v for k, v in values.items())
                if not same or old_credits[work.pk] != list(record.credits):
                    if work.registrant_id != self.party.pk:
                        scheme, code = record.key
                        why = "is registered by another party"
                        self.report.reject(record.where, f"{scheme.upper()} {code} {why}")
                        continue
                    for k, v in values.items():
                        setattr(work, k, v)
                    work.version += 1
                    work.updated_at = self.now
                    changed.append(work)
                    credit_rows += self._credits(work, record.credits)
                else:
                    self.report.counts["works_unchanged"] += 1
            accepted[id(record)] = work
        copy_insert(Work, created)
        if changed:
            Work.objects.bulk_update(changed, [*WORK_FIELDS, "version", "updated_at"])
            Credit.objects.filter(work__in=changed).delete()
        copy_insert(Credit, credit_rows)
        by_work: dict[Any, list[Credit]] = defaultdict(list)
        for c in credit_rows:
            by_work[c.work_id].append(c)
        for work in [*created, *changed]:
            entries.append(("work", ledgering.work_payload(work, by_work[work.pk])))
        self.report.counts["works_created"] += len(created)
        self.report.counts["works_updated"] += len(changed)
        return accepted

    def _shares(
        self,
        records: Sequence[ImportRecord],
        works: dict[int, Work],
        entries: list[tuple[str, dict[str, Any]]],
    ) -> None:
        targets = {w.pk: w for w in works.values()}
        current: dict[tuple[Any, str], list[RightsShare]] = defaultdict(list)
        for s in RightsShare.objects.filter(work__in=list(targets)):
            current[(s.work_id, s.right)].append(s)
        credited = set(
            Credit.objects.filter(work__in=list(targets), party__isnull=False)
            .values_list("work_id", "party_id")
        )  # fmt: skip
        new: list[RightsShare] = []
        updated: list[RightsShare] = []
        for record in records:
            work = works.get(id(record))
            if work is None:
                continue
            for share in record.shares:
                if work.registrant_id != self.party.pk:
                    # Before the holder is looked up: no party is named for another's work.
                    why = "shares of another party's work are registered by that party"
                    self.report.reject(share.where, f"{why} (file a claim)")
                    self._faulty.add(id(record))
                    continue
                try:
                    holder = self._holder(share)
                except ValueError as exc:
                    self.report.reject(share.where, str(exc))
                    self._faulty.add(id(record))
                    continue
                problem = self._share_problem(work, holder, share, credited)
                if problem:
                    self.report.reject(share.where, problem)
                    self._faulty.add(id(record))
                    continue
                group = current[(work.pk, share.right)]
                key = _share_key(holder.pk, share.right, share.territory_mode, share.territories,
                                 share.valid_from, share.valid_until)  # fmt: skip
                match = next((s for s in group if _share_key(
                    s.holder_id, s.right, s.territory_mode, s.territories, s.valid_from,
                    s.valid_until) == key), None)  # fmt: skip
                roles, kind = list(share.controller_roles), share.controller_type
                if match is not None and (
                    match.share,
                    match.controller_roles,
                    match.controller_type,
                ) == (share.share, roles, kind):
                    self.report.counts["shares_unchanged"] += 1
                    continue
                row = match or _new(
                    RightsShare, id=uuid.uuid4(), work_id=work.pk, holder_id=holder.pk,
                    right=share.right, share=share.share, territory_mode=share.territory_mode,
                    territories=sorted(share.territories), valid_from=share.valid_from,
                    valid_until=share.valid_until, created_by_id=self.party.pk,
                    controller_roles=roles, controller_type=kind,
                )  # fmt: skip
                # Shares are checked one by one, in file order: the row that would push the
                # total past 100 % is the one rejected.
                others = [s for s in group if s is not match]
                overshoot = find_overshoot([_terms(s) for s in others] + [
                    _terms(row, share=share.share)])  # fmt: skip
                if overshoot is not None:
                    self.report.reject(share.where, f"{share.right} shares of {work.title!r} "
                                       f"would exceed 100 %: {overshoot.describe()}")  # fmt: skip
                    self._faulty.add(id(record))
                    continue
                if match is None:
                    group.append(row)
                    new.append(row)
                else:
                    match.share, match.version = share.share, match.version + 1
                    match.controller_roles, match.controller_type = roles, kind
                    match.updated_at = self.now
                    if match not in updated and match not in new:
                        updated.append(match)
        for (work_id, _), group in current.items():
            self._held.setdefault(work_id, []).extend((s.pk, s.version) for s in group)
        copy_insert(RightsShare, new)
        if updated:
            RightsShare.objects.bulk_update(
                updated, ["share", "controller_roles", "controller_type", "version", "updated_at"]
            )
        # A party a feed named is in the ledger before the shares it holds.
        entries += [("party", ledgering.party_payload(p)) for p in self._new_parties]
        self._new_parties.clear()
        for row in [*new, *updated]:
            entries.append(("rights_share", ledgering.share_payload(row)))
        self.report.counts["shares_created"] += len(new)
        self.report.counts["shares_updated"] += len(updated)

    def _share_problem(
        self, work: Work, holder: Party, share: ShareRecord, credited: set[tuple[Any, Any]]
    ) -> str | None:
        if holder.kind in NOT_HOLDERS:
            return f"a {holder.kind} cannot hold rights"
        if share.right == "likeness" and holder.kind != PartyKind.ARTIST:
            return "only the artist whose likeness it is can hold a likeness right"
        if share.right == "likeness" and (work.pk, holder.pk) not in credited:
            return "a likeness share is held only by an artist credited on the work"
        if work.registrant_id != self.party.pk:
            return "shares of another party's work are registered by that party (file a claim)"
        return None

    def _releases(
        self,
        records: Sequence[ImportRecord],
        works: dict[int, Work],
        entries: list[tuple[str, dict[str, Any]]],
    ) -> None:
        wanted: dict[str, tuple[ReleaseRecord, list[Work], str]] = {}
        on: dict[str, list[int]] = defaultdict(list)
        for record in records:
            work = works.get(id(record))
            if work is None:
                continue
            for spec in record.releases:
                entry = wanted.setdefault(spec.upc, (spec, [], record.where))
                on[spec.upc].append(id(record))
                if work not in entry[1]:
                    entry[1].append(work)
        if not wanted:
            return
        existing = {r.upc: r for r in Release.objects.filter(upc__in=list(wanted))}
        tracks: dict[Any, list[Any]] = defaultdict(list)
        for t in ReleaseTrack.objects.filter(release__in=list(existing.values())).order_by(
            "position"
        ):
            tracks[t.release_id].append(t.work_id)
        new_tracks: list[ReleaseTrack] = []
        for upc, (spec, release_works, where) in wanted.items():
            release = existing.get(upc)
            details = {k: getattr(spec, k) for k in RELEASE_FIELDS}
            if release is None:
                release = Release.objects.create(
                    upc=upc, title=spec.title, display_artist=spec.display_artist,
                    release_date=spec.release_date, registrant=self.party, **details,
                )  # fmt: skip
                self.report.counts["releases_created"] += 1
            elif release.registrant_id != self.party.pk:
                self.report.reject(where, f"UPC {upc} is registered by another party")
                self._faulty.update(on[upc])
                continue
            have = tracks[release.pk]
            added = [w.pk for w in release_works if w.pk not in have]
            changed = any(getattr(release, k) != v for k, v in details.items())
            if not added and not changed:
                continue
            if have:
                for k, v in details.items():
                    setattr(release, k, v)
                release.version += 1
                release.save(update_fields=[*RELEASE_FIELDS, "version", "updated_at"])
                self.report.counts["releases_updated"] += 1
            new_tracks += [ReleaseTrack(release=release, work_id=w, position=len(have) + n)
                           for n, w in enumerate(added)]  # fmt: skip
            have += added
            entries.append(("release", ledgering.release_payload(release, have)))
        ReleaseTrack.objects.bulk_create(new_tracks)
