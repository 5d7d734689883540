"""DDEX ERN NewReleaseMessages (:mod:`governance.ddex` reads them) as import records.

Each SoundRecording the reader kept (it rejects a recording whole when any of its own data is
invalid: docs/catalog-ddex.md) becomes a recording (ISRC, title, display artist, duration,
languages, P-line and its year, genre, parental warning, AI declaration, credits); each of its
rights controllers (role RightsController, or none given) becomes a ``master`` share in the
controller's territories, held by the party the controller is (by DPID, ISNI or IPI, else its
name; an unclaimed party when it is no registered party: ``governance.importing.apply``), with
the controller's roles and type; each Release with a valid UPC/EAN (ICPN) groups its recordings,
with its catalog number, label name and C-line. Problems are reported with the element's XPath
and line; a file that is not a readable message at all raises
:class:`~governance.importing.records.UnreadableFile`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from governance import ddex, identifiers, validators
from governance.ddex.digest import parse_ern_digested
from governance.importing.records import (
    DIGEST_SCHEME,
    CreditRecord,
    HolderRecord,
    ImportRecord,
    Problem,
    ReleaseRecord,
    ShareRecord,
    Unchanged,
    UnreadableFile,
)

OWNER_ROLE = "RightsController"
"""Controllers with this role (or none) hold the right; a RoyaltyAdministrator or LocalPayee
administers or collects and holds no share."""
CONTRIBUTOR_ROLES = {
    "featuredartist": "featured",
    "composer": "composer",
    "lyricist": "songwriter",
    "songwriter": "songwriter",
    "composerlyricist": "songwriter",
    "author": "songwriter",
    "producer": "producer",
}


DIGEST_SALT = DIGEST_SCHEME + ":" + ",".join(
    f.name for cls in (ddex.DdexRecording, ddex.DdexRelease, ddex.DdexRightsController,
                       ddex.DdexParty) for f in dataclasses.fields(cls)
)  # fmt: skip
"""What a recording's digest is salted with: a field added to what is read or stored makes
every stored digest stale, so the next import reads every element again."""


def _where(xpath: str, line: int) -> str:
    return f"{xpath} (line {line})" if line else xpath


def _lenient(normalize: object, value: str | None) -> str:
    """A party identifier if valid, else nothing (a credit does not fail a recording)."""
    if not value:
        return ""
    try:
        return str(normalize(value))  # type: ignore[operator]
    except ValueError:
        return ""


def _credits(recording: ddex.DdexRecording) -> tuple[CreditRecord, ...]:
    credits = [
        CreditRecord(p.name[:300], "main_artist", _lenient(identifiers.normalize_isni, p.isni),
                     _lenient(identifiers.normalize_ipi, p.ipi))
        for p in recording.artists
    ]  # fmt: skip
    for party, role in recording.contributors:
        ours = CONTRIBUTOR_ROLES.get(role.replace(" ", "").casefold())
        if ours:
            isni = _lenient(identifiers.normalize_isni, party.isni)
            ipi = _lenient(identifiers.normalize_ipi, party.ipi)
            credits.append(CreditRecord(party.name[:300], ours, isni, ipi))
    return tuple(dict.fromkeys(credits))


def _holder(party: ddex.DdexParty) -> HolderRecord:
    return HolderRecord(
        party.name[:200], _lenient(identifiers.normalize_isni, party.isni),
        _lenient(identifiers.normalize_ipi, party.ipi), (party.dpid or "").strip()[:32],
    )  # fmt: skip


def _shares(recording: ddex.DdexRecording, where: str) -> list[ShareRecord]:
    controllers = [c for c in recording.rights_controllers if not c.roles or OWNER_ROLE in c.roles]
    shares = []
    for n, controller in enumerate(controllers, 1):
        percent = controller.share_percent
        if percent is None:
            if len(controllers) > 1:
                continue  # an unknown share among several: nothing to register
            percent = Decimal(100)  # DDEX presumes the sole controller holds it all
        if ddex.WORLDWIDE in controller.territories:
            codes = [f"-{t}" for t in controller.excluded_territories]
        else:
            codes = list(controller.territories)
        terms = validators.share_fields("master", percent, codes)
        shares.append(ShareRecord(
            where=f"{where} rights controller {n}", right=terms.right, share=terms.share,
            holder=controller.party.name, territory_mode=terms.territory_mode,
            territories=terms.territories, named=_holder(controller.party),
            controller_roles=tuple(r[:60] for r in controller.roles),
            controller_type=(controller.controller_type or "")[:60],
        ))  # fmt: skip
    return shares


def read_ddex(
    data: bytes,
    *,
    party_name: str = "",
    known: Mapping[str, tuple[str, str]] | None = None,
    on_read: Callable[[int, int], None] | None = None,
) -> Iterator[ImportRecord | Problem | Unchanged]:
    """Records and problems, in document order. Raises :class:`UnreadableFile` when the file is
    not a readable NewReleaseMessage at all (not well-formed XML, invalid UTF-8, a document type
    declaration, a text node over libxml2's 10 MB limit, another root element or namespace).
    ``party_name`` is no longer read (the applier knows the importing party by its name and
    identifiers); it stays for callers. ``known`` maps the element digests this party imported
    last to (digest, ISRC): those elements are not read, and come last as :class:`Unchanged`
    when they still are (:mod:`governance.ddex.digest`); each record has its digest.
    ``on_read`` is called with (bytes read, size) as the message is read."""
    try:
        digested = parse_ern_digested(data, known=known, salt=DIGEST_SALT, on_read=on_read)
    except ddex.DdexError as exc:
        raise UnreadableFile(_where("/", exc.line), str(exc)) from None
    message = digested.message
    for problem in message.problems:
        yield Problem(_where(problem.xpath, problem.line), problem.reason)
    releases: dict[str, list[ReleaseRecord]] = {}
    for release in message.releases:
        if not release.upc:
            continue
        try:
            upc = identifiers.normalize_upc(release.upc)
        except ValueError as exc:
            yield Problem(_where(release.xpath, release.line), f"ICPN rejected (the release is "
                          f"not registered; its recordings are): {exc}")  # fmt: skip
            continue
        spec = ReleaseRecord(
            upc, release.title[:500], release.display_artist[:500], release.release_date,
            (release.catalog_number or "")[:100], (release.label_name or "")[:300],
            (release.c_line or "")[:300],
        )  # fmt: skip
        for isrc in release.recording_isrcs:
            releases.setdefault(isrc, []).append(spec)
    for recording in message.recordings:
        where = _where(recording.xpath, recording.line)
        try:
            title = validators.work_title(recording.title)
            recording_isrc = recording.isrc  # The reader normalised it (ISO 3901).
            duration_ms = validators.duration_ms(recording.duration_ms)
            languages = tuple(dict.fromkeys(validators.language(v) for v in recording.languages))
            shares = _shares(recording, where)
        except ValueError as exc:  # a FieldError names the field in the API's terms
            yield Problem(where, str(exc))
            continue
        on = releases.get(recording.isrc, [])
        record = ImportRecord(
            where=where, kind="recording", title=title,
            display_artist=recording.display_artist[:500], isrc=recording_isrc,
            duration_ms=duration_ms, language=languages[0] if languages else "",
            release_date=min((r.release_date for r in on if r.release_date), default=None),
            p_line=(recording.p_line or "")[:300], p_year=recording.p_year, languages=languages,
            genre=(recording.genre or "")[:100],
            parental_warning=(recording.parental_warning or "")[:40], credits=_credits(recording),
            ai_declaration=recording.ai_declaration or "", ai_parts=recording.ai_parts,
            ai_declared_in=recording.ai_declared_in,
            declared_iswc=recording.iswc or "", composition_stated=False,
        )  # fmt: skip
        record.shares.extend(shares)
        record.releases.extend(on)
        record.digest, record.element = digested.digests.get(recording.resource_reference, ("", ""))
        yield record
    for isrc, digest in digested.unchanged:
        yield Unchanged(("isrc", isrc), digest)
