"""What each holder is owed (docs/lifecycle-statements.md): usage reports on allowed decisions,
split into per-holder lines when received, and each holder's statement of a period, committed
to the ledger when first read once the period has closed.

A report is split by the shares the decision found in force (its trace: each holder of each
right the use required, its percentage and the rule version that decided its answer), not by
the shares registered now: the lines cite that decision, rule version and share. The money is
owed to the holders whose deciding rule carries compensation terms (``compensation_ref``); a
decision with none (``allow``, or conditional on attribution alone) owes it to every holder it
consulted. The arithmetic (exact, one residual line) is :mod:`governance.compensation`.

Periods are calendar months. Reports take a month's lock shared and statements that commit it
exclusively (:func:`_period_lock`), so a report either reaches the month's statements or is
refused because the month has closed: never accepted after a statement was committed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from governance import compensation, ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from governance.models import (
    ConsentRuleVersion,
    Decision,
    Party,
    PartyKind,
    RightsShare,
    Statement,
    UsageLine,
    UsageReport,
)
from governance.services.requests import idempotency_lock
from ledger import canonical, commitments
from ledger import openings as ledger_openings
from ledger import selectors as ledger_selectors

REPORTABLE = ("allow", "conditional")
"""Outcomes (as settled) a licensee may report use under."""
HOLDER_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)
CREDITED_WEIGHT = Decimal(100)
"""The weight of a credited artist who holds likeness without a registered share."""
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])", re.ASCII)
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_RANGE = re.compile(rf"({_DAY})/({_DAY})", re.ASCII)


# --- Input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSpec:
    """A usage report's content, validated (:func:`report_spec`)."""

    decision_id: str
    period: str
    period_start: dt.date
    period_end: dt.date
    unit: str
    units: Decimal
    amount: Decimal | None
    currency: str
    territory: str

    def fingerprint(self) -> str:
        """What makes two reports the same report (an ``Idempotency-Key`` retry)."""
        return hashlib.sha256(canonical.encode_json({
            "decision": self.decision_id, "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(), "unit": self.unit,
            "units": str(self.units), "currency": self.currency, "territory": self.territory,
            "amount": None if self.amount is None else str(self.amount),
        })).hexdigest()  # fmt: skip


def month_of(text: Any) -> tuple[int, int]:
    """``(year, month)`` of a ``YYYY-MM`` period; ``ValueError`` saying why not."""
    match = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("must be a month, YYYY-MM")
    if not 1900 <= int(match[1]) <= 9000:
        raise ValueError("must be a month between 1900-01 and 9000-12")
    return int(match[1]), int(match[2])


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def period_of(text: Any) -> tuple[str, dt.date, dt.date]:
    """A report's period: ``YYYY-MM``, or ``YYYY-MM-DD/YYYY-MM-DD`` (both days included) within
    one month; ``(month, first day, last day)``."""
    if isinstance(text, str) and (match := _RANGE.fullmatch(text)):
        try:
            start, end = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        except ValueError:
            raise ValueError("names a day that does not exist") from None
        if start > end:
            raise ValueError("the range ends before it starts")
        if (start.year, start.month) != (end.year, end.month):
            raise ValueError("a range lies within one calendar month (report each month)")
        named = f"{start.year:04d}-{start.month:02d}"
        month_of(named)  # the same bounds as a month's
        return named, start, end
    try:
        year, month = month_of(text)
    except ValueError:
        raise ValueError(
            "must be a month (YYYY-MM) or a range of days (YYYY-MM-DD/YYYY-MM-DD)"
        ) from None
    first, last = month_bounds(year, month)
    return f"{year:04d}-{month:02d}", first, last


def report_spec(data: Mapping[str, Any]) -> ReportSpec:
    """Validate what a report says (the API's serializer has checked the types)."""
    try:
        period, start, end = period_of(data.get("period"))
    except ValueError as exc:
        raise InvalidInput.field("period", str(exc)) from None
    unit = data.get("unit")
    if unit not in compensation.UNITS:
        raise InvalidInput.field("unit", f"must be one of {list(compensation.UNITS)}")
    try:
        units = compensation.parse_decimal(data.get("units"), places=compensation.UNITS_PLACES)
    except ValueError as exc:
        raise InvalidInput.field("units", str(exc)) from None
    currency = str(data.get("currency") or "")
    if currency:
        try:
            compensation.currency_places(currency)
        except ValueError as exc:
            raise InvalidInput.field("currency", str(exc)) from None
    amount = None
    if data.get("amount") is not None:
        try:
            amount = compensation.parse_decimal(data["amount"], places=4)
        except ValueError as exc:
            raise InvalidInput.field("amount", str(exc)) from None
    territory = str(data.get("territory") or "")
    if territory and not re.fullmatch(r"[A-Z]{2}", territory):
        raise InvalidInput.field("territory", "must be an ISO 3166-1 alpha-2 code")
    return ReportSpec(
        decision_id=str(data["decision"]), period=period, period_start=start, period_end=end,
        unit=str(unit), units=units, amount=amount, currency=currency, territory=territory,
    )  # fmt: skip


# --- Periods --------------------------------------------------------------------------------


def closes_at(period: str) -> dt.datetime:
    """When a month's statements close: :setting:`STATEMENT_CLOSE_DAYS` days after it ends."""
    year, month = month_of(period)
    _, last = month_bounds(year, month)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return end + dt.timedelta(days=settings.STATEMENT_CLOSE_DAYS)


def _period_lock(period: str, *, shared: bool) -> dt.datetime:
    """Hold a month's lock until the transaction ends (reports shared, a statement being
    committed exclusively); the database's clock once it is held."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT clock_timestamp() FROM (SELECT {function}(hashtextextended(%s, 0))) locked",  # noqa: S608 - two constants
            [f"consentry statements {period}"],
        )
        (now,) = cursor.fetchone() or (None,)
    assert isinstance(now, dt.datetime)
    return now


# --- What a decision owes, to whom ----------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """One holder's part of one right of one subject, as the decision's trace found it."""

    subject: str
    subject_kind: str
    right: str
    holder: str
    share: Decimal | None
    rule: tuple[str, int] | None
    composition: str | None

    @property
    def weight(self) -> Decimal:
        return CREDITED_WEIGHT if self.share is None else self.share


def _entries_for(entries: list[dict[str, Any]], territory: str) -> list[dict[str, Any]]:
    """A right's trace entries (one per group of territories or part of a period) that speak
    for ``territory`` (all of them when none is named)."""
    if not territory:
        return entries
    named = [e for e in entries if territory in (e.get("territories") or [])]
    return named or [e for e in entries if "*" in (e.get("territories") or [])] or entries


def _holdings(
    entry: dict[str, Any], subject: str, kind: str, answers: frozenset[str]
) -> tuple[Holding, ...]:
    out = []
    for h in entry.get("holders") or []:
        if h.get("answer") not in answers:
            continue
        rule = h.get("rule")
        out.append(Holding(
            subject=subject, subject_kind=kind, right=str(entry["right"]), holder=str(h["party"]),
            share=None if h.get("share") is None else Decimal(str(h["share"])),
            rule=None if not rule else (str(rule["id"]), int(rule["version"])),
            composition=h.get("composition"),
        ))  # fmt: skip
    return tuple(out)


def decision_holdings(decision: Decision, *, territory: str) -> list[Holding]:
    """Every holder's part of the rights the decision's works (and artists) required, from its
    trace; a 400 naming ``territory`` when the holders differ between the trace's territories
    (or parts of its period) and the report does not say which applies."""
    out: list[Holding] = []
    trace = decision.trace or {}
    # A decision settled by its reviews: the holders who asked for review have since approved.
    answers = frozenset((*REPORTABLE, "review") if decision.settled_outcome else REPORTABLE)
    for kind, key in (("work", "works"), ("artist", "artists")):
        for subject in trace.get(key) or []:
            by_right: dict[str, list[dict[str, Any]]] = {}
            for entry in subject.get("rights") or []:
                by_right.setdefault(str(entry["right"]), []).append(entry)
            for entries in by_right.values():
                found = {_holdings(e, str(subject[kind]), kind, answers)
                         for e in _entries_for(entries, territory)}  # fmt: skip
                if len(found) > 1:
                    raise InvalidInput.field(
                        "territory",
                        "the decision's holders differ between territories or parts of its "
                        "period: name the territory of the use (and report each part apart)",
                    )
                out.extend(*found)
    return out


@dataclass(frozen=True)
class Terms:
    reference: str
    rate: Decimal | None
    currency: str
    unit: str


def _terms(holdings: Iterable[Holding]) -> dict[tuple[str, int], Terms]:
    """The compensation terms of each rule version the holdings cite, where it has any."""
    pairs = {h.rule for h in holdings if h.rule is not None}
    if not pairs:
        return {}
    wanted = Q()
    for rule_id, version in pairs:
        wanted |= Q(rule_id=rule_id, version=version)
    out = {}
    for v in ConsentRuleVersion.objects.filter(wanted).only("rule_id", "version", "obligations"):
        o = v.obligations or {}
        if o.get("compensation_ref"):
            rate = o.get("compensation_rate")
            out[(str(v.rule_id), v.version)] = Terms(
                reference=str(o["compensation_ref"]),
                rate=None if rate is None else Decimal(str(rate)),
                currency=str(o.get("compensation_currency") or ""),
                unit=str(o.get("compensation_unit") or ""),
            )
    return out


def _share_rows(holdings: Sequence[Holding], day: dt.date) -> dict[Holding, list[str]]:
    """The share rows each holding rests on: the holder's shares of the right on the subject
    (and, for publishing, on the composition it embodies) valid on the decision's day."""
    works = {h.subject for h in holdings} | {h.composition for h in holdings if h.composition}
    rows = RightsShare.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=day),
        Q(valid_until__isnull=True) | Q(valid_until__gt=day),
        work_id__in=works, holder_id__in={h.holder for h in holdings},
        right__in={h.right for h in holdings},
    ).values_list("pk", "work_id", "holder_id", "right")  # fmt: skip
    out: dict[Holding, list[str]] = {}
    for h in holdings:
        on = {h.subject, h.composition}
        out[h] = sorted(
            str(pk) for pk, work, holder, right in rows
            if str(work) in on and str(holder) == h.holder and right == h.right
        )  # fmt: skip
    return out


# --- Reports --------------------------------------------------------------------------------


def _priced(
    spec: ReportSpec, entitled: Sequence[Holding], terms: Mapping[tuple[str, int], Terms]
) -> tuple[list[compensation.Part], str, Decimal | None, bool]:
    """The parts to split, the currency, the reported total (``None``: computed from rates)
    and whether the terms' rates priced it; a 400 naming the field at fault."""
    cited = [terms.get(h.rule) if h.rule else None for h in entitled]
    rated = [t for t in cited if t is not None and t.rate is not None]
    if rated:
        if len(rated) != len(cited):
            raise InvalidInput.field(
                "decision", "its holders' compensation terms set a rate for some and not for "
                "others: settle it under their references (compensation_ref) outside Consentry",
            )  # fmt: skip
        if len({(t.currency, t.unit) for t in rated}) > 1:
            raise InvalidInput.field(
                "decision", "its holders' compensation terms price different units or currencies"
            )
        currency, unit = rated[0].currency, rated[0].unit
        if spec.unit != unit:
            raise InvalidInput.field("unit", f"the terms set a rate per {unit}: report {unit}")
        if spec.currency and spec.currency != currency:
            raise InvalidInput.field("currency", f"the terms' rate is in {currency}")
        if spec.amount is not None:
            raise InvalidInput.field(
                "amount", "the terms set a rate: the amount is the rate times the units"
            )
        parts = [compensation.Part(weight=h.weight, base=t.rate * spec.units)
                 for h, t in zip(entitled, rated, strict=True) if t.rate is not None]  # fmt: skip
        return parts, currency, None, True
    if spec.amount is None:
        raise InvalidInput.field("amount", "the terms set no rate: report the amount owed")
    if not spec.currency:
        raise InvalidInput.field("currency", "the amount's ISO 4217 currency code is required")
    places = compensation.currency_places(spec.currency)
    if spec.amount != spec.amount.quantize(Decimal(1).scaleb(-places)):
        raise InvalidInput.field("amount", f"at most {places} decimal places in {spec.currency}")
    parts = [compensation.Part(weight=h.weight, base=spec.amount) for h in entitled]
    return parts, spec.currency, spec.amount, False


def _report_payload(report: UsageReport) -> dict[str, Any]:
    """A ``usage_report`` entry: who reported what on which decision, the units and amount
    committed (``ledgering.CONFIDENTIAL``); the lines are not in it (their shares are not the
    licensee's to see): they are in each holder's committed statement."""
    return {
        "id": str(report.pk), "decision": str(report.decision_id),
        "licensee": str(report.licensee_id), "period": report.period,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(), "territory": report.territory or None,
        "unit": report.unit, "currency": report.currency, "rated": report.rated,
        "units": str(report.units), "amount": str(report.amount),
    }  # fmt: skip


@transaction.atomic
def report_submit(
    *, actor: Actor, spec: ReportSpec, idempotency_key: str | None, now: dt.datetime
) -> tuple[UsageReport, bool]:
    """Store a report on the licensee's own decision and its lines, ledgered; ``(report,
    created)``. A retry with the same ``Idempotency-Key`` and body answers the first report;
    another body is a 409. Another licensee's decision is a 404, as a missing one."""
    actor.require_kind(PartyKind.LICENSEE, action="Reporting usage")
    actor.require_writer(action="Reporting usage")
    try:
        decision = (
            Decision.objects.select_related("request")
            .filter(pk=uuid.UUID(spec.decision_id), request__licensee=actor.party)
            .first()
        )
    except ValueError:
        decision = None
    if decision is None:
        raise NotFound("No decision with that id.")
    fingerprint = spec.fingerprint()
    if idempotency_key:
        idempotency_lock(licensee_id=actor.party.pk, key=f"usage-report {idempotency_key}")
        existing = UsageReport.objects.filter(
            licensee=actor.party, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            if existing.request_sha256 != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was used for a different usage report.",
                    fields={"Idempotency-Key": ["reused with another body"]},
                )
            return existing, False
    if decision.final_outcome not in REPORTABLE:
        raise InvalidInput.field(
            "decision", f"it is {decision.final_outcome}: only an allowed (allow or "
            "conditional) decision grants a use to report",
        )  # fmt: skip
    clock = _period_lock(spec.period, shared=True)
    if spec.period_start > clock.date():
        raise InvalidInput.field("period", "has not started yet")
    if clock >= closes_at(spec.period):
        raise InvalidInput.field(
            "period", f"closed at {closes_at(spec.period):%Y-%m-%dT%H:%M:%SZ}: its statements "
            "are final; report the use in an open month",
        )  # fmt: skip
    holdings = decision_holdings(decision, territory=spec.territory)
    terms = _terms(holdings)
    compensating = [h for h in holdings if h.rule is not None and h.rule in terms]
    entitled = compensating or holdings
    if not entitled or sum(h.weight for h in entitled) <= 0:
        raise InvalidInput.field("decision", "it names no holder to be paid")
    parts, currency, total, rated = _priced(spec, entitled, terms)
    places = compensation.currency_places(currency)
    split = compensation.split(parts, places=places, total=total)
    report = UsageReport(
        decision=decision, licensee=actor.party, period=spec.period,
        period_start=spec.period_start, period_end=spec.period_end, territory=spec.territory,
        unit=spec.unit, units=spec.units, currency=currency, amount=split.total, rated=rated,
        idempotency_key=idempotency_key or None, request_sha256=fingerprint, created_at=clock,
    )  # fmt: skip
    sealed = ledgering.seal("usage_report", _report_payload(report), now=clock)
    report.leaf_hash = sealed.leaf_hash
    report.save(force_insert=True)
    ledgering.append_sealed([sealed])
    shares = _share_rows(entitled, decision.created_at.date())
    lines = [
        _line(report, n, h, terms, shares[h], amount, residual=False)
        for n, (h, amount) in enumerate(zip(entitled, split.lines, strict=True))
    ]
    if split.residual:
        h = entitled[split.residual_to]
        lines.append(_line(report, len(lines), h, terms, shares[h], split.residual, residual=True))
    UsageLine.objects.bulk_create(lines)
    return report, True


def _line(
    report: UsageReport, position: int, h: Holding, terms: Mapping[tuple[str, int], Terms],
    shares: list[str], amount: Decimal, *, residual: bool,
) -> UsageLine:  # fmt: skip
    t = terms.get(h.rule) if h.rule else None
    return UsageLine(
        report=report, position=position, holder_id=h.holder, period=report.period,
        subject=h.subject, subject_kind=h.subject_kind, right=h.right, share=h.share,
        shares=shares, rule=None if h.rule is None else h.rule[0],
        rule_version=None if h.rule is None else h.rule[1],
        compensation_ref=t.reference if t else "", rate=t.rate if t else None,
        currency=report.currency, amount=amount, residual=residual,
    )  # fmt: skip


# --- Statements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementView:
    """A holder's statement of a month: its content (what is committed once the month has
    closed), whether it is closed, and the ledger entry that commits it."""

    content: dict[str, Any]
    closed: bool
    closes_at: dt.datetime
    ledger: dict[str, Any] | None


def _plain(value: Decimal | None) -> str | None:
    """A rate or a count of units as written: no trailing zeros, never an exponent."""
    return None if value is None else format(value.normalize(), "f")


def _money(value: Decimal, currency: str) -> str:
    """An amount at its currency's minor unit."""
    return format(value.quantize(Decimal(1).scaleb(-compensation.currency_places(currency))), "f")


def _line_json(line: UsageLine) -> dict[str, Any]:
    r = line.report
    return {
        "report": str(r.pk), "decision": str(r.decision_id), "licensee": str(r.licensee_id),
        "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
        "subject": str(line.subject), "subject_kind": line.subject_kind, "right": line.right,
        "share": None if line.share is None else f"{line.share:.3f}",
        "shares": [str(s) for s in line.shares],
        "rule": None if line.rule is None else {"id": str(line.rule),
                                                 "version": line.rule_version},
        "compensation_ref": line.compensation_ref, "unit": r.unit, "units": _plain(r.units),
        "rate": _plain(line.rate), "currency": line.currency,
        "amount": _money(line.amount, line.currency),
        "residual": line.residual,
    }  # fmt: skip


def statement_content(*, holder: Party, period: str) -> dict[str, Any]:
    """A holder's lines of a month, oldest report first, and its totals per currency."""
    lines = list(
        UsageLine.objects.filter(holder=holder, period=period)
        .select_related("report")
        .order_by("report__created_at", "report_id", "position")
    )
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
    return {
        "holder": str(holder.pk), "holder_name": holder.name, "period": period,
        "lines": [_line_json(line) for line in lines],
        "totals": [{"currency": c, "amount": _money(a, c)} for c, a in sorted(totals.items())],
    }  # fmt: skip


def _ledger_of(statement: Statement) -> dict[str, Any]:
    """Where a statement is committed, and the opening that proves what was shown."""
    leaf = bytes(statement.leaf_hash)
    (opening,) = ledger_openings.openings_by_leaf(leaf_hashes=[leaf])[leaf]
    return {
        "entry": ledger_selectors.entry_index_by_leaf_hash(leaf_hash=leaf),
        "leaf_hash": leaf.hex(), "field": opening.field,
        "commitment": commitments.commit(opening.field, opening.value, salt=opening.salt),
        "salt": opening.salt.hex(),
    }  # fmt: skip


def _statement_holder(actor: Actor, holder_id: str | None) -> Party:
    if actor.is_auditor:
        if not holder_id:
            raise InvalidInput.field("holder", "an auditor names the holder whose statement")
        try:
            party = Party.objects.filter(
                pk=uuid.UUID(str(holder_id)), kind__in=HOLDER_KINDS
            ).first()
        except ValueError:
            raise InvalidInput.field("holder", "must be a party id") from None
        if party is None:
            raise NotFound("No rights holder with that id.")
        return party
    actor.require_kind(*HOLDER_KINDS, action="Reading a statement")
    if holder_id and str(holder_id) != str(actor.party.pk):
        raise NotFound("No statement of that holder.")
    return actor.party


def statement_get(
    *, actor: Actor, period: Any, holder_id: str | None, now: dt.datetime
) -> StatementView:
    """The caller's statement of ``period`` (an auditor: ``holder_id``'s). While the month is
    open it is provisional (more reports may come) and not committed; once it has closed, the
    first read commits it (a ``statement`` entry whose ``statement`` member commits to the
    content) and every read answers that content."""
    holder = _statement_holder(actor, holder_id)
    try:
        year, month = month_of(period)
    except ValueError as exc:
        raise InvalidInput.field("period", str(exc)) from None
    period = f"{year:04d}-{month:02d}"
    closing = closes_at(period)
    stored = Statement.objects.filter(holder=holder, period=period).first()
    if stored is None and now >= closing:
        stored = _statement_commit(holder=holder, period=period)
    if stored is None:
        content = statement_content(holder=holder, period=period)
        return StatementView(content=content, closed=False, closes_at=closing, ledger=None)
    return StatementView(
        content=stored.content, closed=True, closes_at=closing, ledger=_ledger_of(stored)
    )


@transaction.atomic
def _statement_commit(*, holder: Party, period: str) -> Statement | None:
    """Commit a closed month's statement, once: under the month's exclusive lock no report is
    in flight and a concurrent first read waits, then finds this one's row. ``None`` if the
    database's clock says the month is still open."""
    clock = _period_lock(period, shared=False)
    existing = Statement.objects.filter(holder=holder, period=period).first()
    if existing is not None or clock < closes_at(period):
        return existing
    content = statement_content(holder=holder, period=period)
    payload = {"holder": str(holder.pk), "period": period, "statement": content}
    sealed = ledgering.seal("statement", payload, now=clock)
    statement = Statement.objects.create(
        holder=holder, period=period, content=content, leaf_hash=sealed.leaf_hash,
        created_at=clock,
    )  # fmt: skip
    ledgering.append_sealed([sealed])
    return statement


def reports_of(*, actor: Actor) -> Any:
    """The usage reports the actor may see: a licensee its own, an auditor all."""
    reports = UsageReport.objects.all()
    if actor.is_auditor:
        return reports
    if actor.party.kind != PartyKind.LICENSEE:
        raise PermissionDenied("Usage reports are read by the licensee that made them.")
    return reports.filter(licensee=actor.party)
