"""DDEX MWN musical works notifications (:mod:`governance.ddex.mwn` reads them) as import
records (docs/catalog-works.md).

Each MusicalWork the reader kept (it rejects a work whole when any of its own data is invalid)
becomes a composition (ISWC, title, the language of its lyrics) credited to its writers (with
their IPI name numbers); each of its publishing RightShares becomes a ``publishing`` share held
by the party its RightsController is (by DPID, ISNI or IPI, else its name; an unclaimed party
when it is no registered party, exactly as an ERN rights controller:
``governance.importing.apply``), with the RightsTypes as ``controller_roles`` and the
RightShareType as ``controller_type``; the SoundRecordings that reference it are linked to it
(``governance.importing.links``). A file that is not a readable MWN message raises
:class:`~governance.importing.records.UnreadableFile`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal

from governance import identifiers, validators
from governance.ddex import DdexError, DdexParty
from governance.ddex.model import WORLDWIDE
from governance.ddex.mwn import MwnShare, MwnWork, parse_mwn
from governance.importing.records import (
    CreditRecord,
    HolderRecord,
    ImportRecord,
    Problem,
    ShareRecord,
    UnreadableFile,
)

COMPOSER_ROLES = frozenset({"Composer", "Arranger", "SubArranger"})
"""Writer roles credited as ``composer``; every other writer (Lyricist, ComposerLyricist,
Author, Adapter, Translator...) is credited as ``songwriter``."""
THOUSANDTH = Decimal("0.001")


def _where(xpath: str, line: int) -> str:
    return f"{xpath} (line {line})" if line else xpath


def _holder(party: DdexParty) -> HolderRecord:
    return HolderRecord(party.name[:200], party.isni or "", party.ipi or "",
                        (party.dpid or "").strip()[:32])  # fmt: skip


def _credits(work: MwnWork) -> tuple[CreditRecord, ...]:
    credits = []
    for party, roles in work.writers:
        role = "composer" if roles and set(roles) <= COMPOSER_ROLES else "songwriter"
        credits.append(CreditRecord(party.name[:300], role, party.isni or "", party.ipi or ""))
    return tuple(dict.fromkeys(credits))


def _shares(work: MwnWork) -> list[ShareRecord]:
    """One share per holder and terms: a holder's RightShares with the same territories and
    validity add up. Percentages are kept to three decimals, rounded down (MWN allows six)."""
    summed: dict[tuple[object, ...], tuple[MwnShare, Decimal]] = {}
    for share in work.shares:
        key = (share.party, share.territories, share.excluded, share.valid_from,
               share.valid_until)  # fmt: skip
        first, total = summed.get(key, (share, Decimal(0)))
        summed[key] = (first, total + share.percent)
    records = []
    for share, total in summed.values():
        percent = total.quantize(THOUSANDTH, rounding=ROUND_DOWN)
        if percent <= 0:
            continue
        if WORLDWIDE in share.territories:
            codes = [f"-{t}" for t in share.excluded]
        else:
            codes = list(share.territories)
        terms = validators.share_fields(
            "publishing", percent, codes, share.valid_from, share.valid_until
        )
        records.append(ShareRecord(
            where=share.where, right=terms.right, share=terms.share, holder=share.party.name,
            territory_mode=terms.territory_mode, territories=terms.territories,
            valid_from=terms.valid_from, valid_until=terms.valid_until,
            named=_holder(share.party),
            controller_roles=tuple(r[:60] for r in share.rights_types),
            controller_type=share.share_type[:60],
        ))  # fmt: skip
    return records


def _language(work: MwnWork) -> str:
    for value in work.languages:
        try:
            return identifiers.normalize_language(value.split("-")[0])
        except ValueError:
            continue
    return ""


def read_mwn(data: bytes) -> Iterator[ImportRecord | Problem]:
    """Records and problems, in document order. Raises :class:`UnreadableFile` when the file is
    not a readable MWN message at all (not well-formed XML, a document type declaration,
    another root element or namespace)."""
    try:
        message = parse_mwn(data)
    except DdexError as exc:
        raise UnreadableFile(_where("/", exc.line), str(exc)) from None
    for problem in message.problems:
        yield Problem(_where(problem.xpath, problem.line), problem.reason)
    for work in message.works:
        where = _where(work.xpath, work.line)
        try:
            title = validators.work_title(work.title)
            shares = _shares(work)
        except ValueError as exc:  # a FieldError names the field in the API's terms
            yield Problem(where, f"MusicalWork {work.reference} rejected: {exc}")
            continue
        credits = _credits(work)
        record = ImportRecord(
            where=where, kind="composition", title=title[:500],
            display_artist=", ".join(c.name for c in credits)[:500], iswc=work.iswc,
            language=_language(work), credits=credits, recording_isrcs=work.recording_isrcs,
        )  # fmt: skip
        record.shares.extend(shares)
        yield record
