"""What each holder is owed (issue 19, section 3; docs/lifecycle-statements.md), through the
API: compensation terms on a rule, usage reports on a licensee's own allowed decisions, split
into per-holder statement lines that add up exactly, statements as JSON and CSV, committed to
the ledger when first read after their month closes."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from governance.models import PartyKind, Statement, UsageLine, UsageReport
from governance.services import usage
from ledger import canonical, commitments, merkle
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.committed import all_at_once, on_own_connection
from tests.factories import Caller, caller

pytestmark = pytest.mark.django_db

ISRC = "USRC17607839"
REF = "rate-card-2026-A"


def this_month() -> str:
    return f"{timezone.now():%Y-%m}"


def last_month() -> str:
    first = timezone.now().date().replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


def shared_work(
    percents: list[str], *, obligations: dict[str, Any] | None, effect: str = "conditional"
) -> dict[str, Any]:
    """A recording whose master is held by one label per percentage (the first registers it),
    each with an ``analyze`` rule of ``effect`` (``None``: no rule, opt-in denies), a licensee
    and its decision (a check)."""
    holders = [caller(PartyKind.LABEL, name=f"Label {n}") for n in range(len(percents))]
    registrant = holders[0]
    work = registrant.client.post(
        "/api/v1/works/", {"kind": "recording", "title": "Northern Lights", "isrc": ISRC},
        format="json",
    ).json()  # fmt: skip
    shares = []
    for holder, percent in zip(holders, percents, strict=True):
        body = {"work": work["id"], "holder": str(holder.party.pk), "right": "master",
                "share": percent}  # fmt: skip
        response = registrant.client.post("/api/v1/shares/", body, format="json")
        assert response.status_code == 201, response.json()
        shares.append(response.json()["id"])
    rules = []
    for holder in holders:
        if effect is None:
            continue
        body: dict[str, Any] = {"scope": "all_works", "uses": ["analyze"], "effect": effect}
        if obligations is not None:
            body["obligations"] = obligations
        response = holder.client.post("/api/v1/consent/rules/", body, format="json")
        assert response.status_code == 201, response.json()
        rules.append(response.json())
    licensee = caller(PartyKind.LICENSEE, name="Sonora AI Labs")
    decision = licensee.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    ).json()
    return {"holders": holders, "work": work, "shares": shares, "rules": rules,
            "licensee": licensee, "decision": decision}  # fmt: skip


def report(who: Caller, **body: Any) -> Any:
    return who.client.post("/api/v1/usage-reports/", body, format="json")


def statement(who: Caller, period: str, **params: str) -> dict[str, Any]:
    response = who.client.get("/api/v1/statements/", {"period": period, **params})
    assert response.status_code == 200, response.json()
    return dict(response.json())


def amounts(who: Caller, period: str) -> list[tuple[Decimal, bool]]:
    return [(Decimal(x["amount"]), x["residual"]) for x in statement(who, period)["lines"]]


COMPENSATION = {"compensation_ref": REF}
RATED = {"compensation_ref": REF, "compensation_rate": "0.005",
         "compensation_currency": "EUR", "compensation_unit": "streams"}  # fmt: skip


def test_two_holders_at_70_30_receive_lines_that_sum_exactly_to_the_reported_amount() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    assert w["decision"]["outcome"] == "conditional"
    a, b = w["holders"]
    period = this_month()
    for amount in ("100.00", "0.01", "33.33"):
        got = report(w["licensee"], decision=w["decision"]["id"], period=period,
                     unit="generations", units=12, amount=amount, currency="EUR")  # fmt: skip
        assert got.status_code == 201, got.json()
        assert got.json()["amount"] == f"{Decimal(amount):.4f}"
    lines_a, lines_b = amounts(a, period), amounts(b, period)
    # 100.00: 70.00 and 30.00. 0.01: 0.007 and 0.003 round down to nothing, and the residual
    # cent is the larger part's. 33.33: 23.331 and 9.999 give 23.33 and 9.99, residual 0.01.
    assert lines_a == [(Decimal("70.00"), False), (Decimal("0.00"), False),
                       (Decimal("0.01"), True), (Decimal("23.33"), False),
                       (Decimal("0.01"), True)]  # fmt: skip
    assert lines_b == [(Decimal("30.00"), False), (Decimal("0.00"), False),
                       (Decimal("9.99"), False)]  # fmt: skip
    total = sum(x for x, _ in lines_a + lines_b)
    assert total == Decimal("133.34")
    sa, sb = statement(a, period), statement(b, period)
    assert sa["totals"] == [{"currency": "EUR", "amount": "93.35"}]
    assert sb["totals"] == [{"currency": "EUR", "amount": "39.99"}]
    line = sa["lines"][0]
    rule = w["rules"][0]
    assert line["decision"] == w["decision"]["id"]
    assert line["rule"] == {"id": rule["rule"], "version": 1}
    assert line["share"] == "70.000"
    assert line["shares"] == [w["shares"][0]]
    assert line["compensation_ref"] == REF
    assert line["right"] == "master"
    assert line["subject"] == w["work"]["id"]
    assert sa["status"] == "open"
    assert sa["ledger"] is None
    assert sb["lines"][0]["rule"] == {"id": w["rules"][1]["rule"], "version": 1}


def test_three_equal_thirds_reconcile_through_one_residual_line() -> None:
    w = shared_work(["33.333", "33.333", "33.334"], obligations=COMPENSATION)
    period = this_month()
    for amount in ("100.00", "0.01"):
        got = report(w["licensee"], decision=w["decision"]["id"], period=period,
                     unit="tokens", units="1000000", amount=amount, currency="EUR")  # fmt: skip
        assert got.status_code == 201, got.json()
    per_holder = [amounts(h, period) for h in w["holders"]]
    assert per_holder[0] == per_holder[1] == [(Decimal("33.33"), False), (Decimal("0.00"), False)]
    # The residual goes to the largest exact part: the 33.334 holder's.
    assert per_holder[2] == [(Decimal("33.33"), False), (Decimal("0.01"), True),
                             (Decimal("0.00"), False), (Decimal("0.01"), True)]  # fmt: skip
    assert sum(x for lines in per_holder for x, _ in lines) == Decimal("100.01")


def test_a_rate_times_units_rounds_half_even_and_is_split_by_shares() -> None:
    w = shared_work(["70", "30"], obligations=RATED)
    a, b = w["holders"]
    period = this_month()
    # 1001 x 0.005 = 5.005: half-even to 5.00 (not 5.01); 3 x 0.005 = 0.015 rounds to 0.02.
    for units in (1001, 3):
        got = report(w["licensee"], decision=w["decision"]["id"], period=period,
                     unit="streams", units=units)  # fmt: skip
        assert got.status_code == 201, got.json()
        assert got.json()["rated"] is True
        assert got.json()["currency"] == "EUR"
    assert [r.amount for r in UsageReport.objects.order_by("created_at")] == [
        Decimal("5.0000"), Decimal("0.0200")
    ]  # fmt: skip
    # 3.5035 -> 3.50 and 1.5015 -> 1.50; 0.0105 -> 0.01 and 0.0045 -> 0.00, residual 0.01.
    assert amounts(a, period) == [(Decimal("3.50"), False), (Decimal("0.01"), False),
                                  (Decimal("0.01"), True)]  # fmt: skip
    assert amounts(b, period) == [(Decimal("1.50"), False), (Decimal("0.00"), False)]
    assert statement(a, period)["lines"][0]["rate"] == "0.005"
    # The terms price streams in EUR: another unit, a currency or an amount are refused.
    base = {"decision": w["decision"]["id"], "period": period}
    refused = [({"unit": "generations", "units": 1}, "unit"),
               ({"unit": "streams", "units": 1, "currency": "USD"}, "currency"),
               ({"unit": "streams", "units": 1, "amount": "1.00"}, "amount")]  # fmt: skip
    for extra, field in refused:
        got = report(w["licensee"], **base, **extra)
        assert got.status_code == 400, got.json()
        assert field in got.json()["fields"], got.json()
    assert UsageReport.objects.count() == 2


def test_an_allow_decision_owes_every_holder_it_consulted() -> None:
    w = shared_work(["60", "40"], obligations=None, effect="allow")
    assert w["decision"]["outcome"] == "allow"
    got = report(w["licensee"], decision=w["decision"]["id"], period=this_month(),
                 unit="training_epochs", units="2.5", amount="1000", currency="JPY")  # fmt: skip
    assert got.status_code == 201, got.json()
    a, b = w["holders"]
    assert amounts(a, this_month()) == [(Decimal("600"), False)]
    assert amounts(b, this_month()) == [(Decimal("400"), False)]
    assert statement(a, this_month())["lines"][0]["compensation_ref"] == ""


def test_a_review_approved_decision_owes_the_holder_that_reviewed_it() -> None:
    w = shared_work(["70", "30"], obligations=None, effect="review")
    assert w["decision"]["outcome"] == "review"
    body = {"decision": w["decision"]["id"], "period": this_month(), "unit": "streams",
            "units": 10, "amount": "10.00", "currency": "EUR"}  # fmt: skip
    waiting = report(w["licensee"], **body)
    assert waiting.status_code == 400, waiting.json()
    for holder in w["holders"]:
        review = holder.client.get("/api/v1/reviews/").json()["results"][0]
        approved = holder.client.post(f"/api/v1/reviews/{review['id']}/approve/", {"reason": "ok"},
                                      format="json")  # fmt: skip
        assert approved.status_code == 200, approved.json()
    assert report(w["licensee"], **body).status_code == 201
    assert amounts(w["holders"][0], this_month()) == [(Decimal("7.00"), False)]
    assert amounts(w["holders"][1], this_month()) == [(Decimal("3.00"), False)]


def test_holders_that_differ_by_territory_need_the_territory_of_the_use() -> None:
    france, elsewhere = caller(PartyKind.LABEL), caller(PartyKind.LABEL)
    work = france.client.post("/api/v1/works/", {"kind": "recording", "title": "Northern "
                              "Lights", "isrc": ISRC}, format="json").json()  # fmt: skip
    for holder, territories in ((france, ["FR"]), (elsewhere, ["-FR"])):
        body = {"work": work["id"], "holder": str(holder.party.pk), "right": "master",
                "share": "100", "territories": territories}  # fmt: skip
        assert france.client.post("/api/v1/shares/", body, format="json").status_code == 201
        rule = {"scope": "all_works", "uses": ["analyze"], "effect": "conditional",
                "obligations": COMPENSATION}  # fmt: skip
        assert holder.client.post("/api/v1/consent/rules/", rule, format="json").status_code == 201
    licensee = caller(PartyKind.LICENSEE)
    decision = licensee.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    ).json()
    assert decision["outcome"] == "conditional"
    body = {"decision": decision["id"], "period": this_month(), "unit": "streams",
            "units": 10, "amount": "4.00", "currency": "EUR"}  # fmt: skip
    got = report(licensee, **body)
    assert got.status_code == 400, got.json()
    assert "territory" in got.json()["fields"]
    assert report(licensee, **body, territory="FR").status_code == 201
    assert report(licensee, **body, territory="DE").status_code == 201
    assert amounts(france, this_month()) == [(Decimal("4.00"), False)]
    assert amounts(elsewhere, this_month()) == [(Decimal("4.00"), False)]


def test_only_the_decisions_licensee_reports_and_a_deny_cannot_be_reported_on() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    body = {"decision": w["decision"]["id"], "period": this_month(), "unit": "streams",
            "units": 10, "amount": "1.00", "currency": "EUR"}  # fmt: skip
    other = caller(PartyKind.LICENSEE, name="Other AI")
    got = report(other, **body)
    assert got.status_code == 404
    assert got.json()["code"] == "not_found"
    assert report(w["holders"][0], **body).status_code == 403
    auditor = caller(PartyKind.AUDITOR, role="viewer")
    assert report(auditor, **body).status_code == 403
    assert report(other, **{**body, "decision": "00000000-0000-0000-0000-000000000000"}
                  ).status_code == 404  # fmt: skip
    # The other licensee's own decision on a work nobody allowed it: deny, refused.
    denied = other.client.post(
        "/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json"
    ).json()
    assert denied["outcome"] == "deny"
    got = report(other, **{**body, "decision": denied["id"]})
    assert got.status_code == 400, got.json()
    assert "decision" in got.json()["fields"], got.json()
    assert UsageReport.objects.count() == 0
    assert UsageLine.objects.count() == 0


def test_a_holder_sees_only_its_own_lines_and_an_auditor_names_the_holder() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    a, b = w["holders"]
    got = report(w["licensee"], decision=w["decision"]["id"], period=this_month(),
                 unit="streams", units=10, amount="10.00", currency="EUR")  # fmt: skip
    assert got.status_code == 201
    sb = statement(b, this_month())
    assert [x["share"] for x in sb["lines"]] == ["30.000"]
    assert sb["holder"] == str(b.party.pk)
    response = b.client.get("/api/v1/statements/", {"period": this_month(),
                                                    "holder": str(a.party.pk)})  # fmt: skip
    assert response.status_code == 404
    licensee = w["licensee"].client.get("/api/v1/statements/", {"period": this_month()})
    assert licensee.status_code == 403
    auditor = caller(PartyKind.AUDITOR, role="viewer")
    response = auditor.client.get("/api/v1/statements/", {"period": this_month()})
    assert response.status_code == 400
    assert "holder" in response.json()["fields"]
    assert statement(auditor, this_month(), holder=str(a.party.pk))["totals"] == [
        {"currency": "EUR", "amount": "7.00"}
    ]
    # The licensee lists its reports (never the lines: they carry the shares).
    listed = w["licensee"].client.get("/api/v1/usage-reports/").json()
    assert [r["id"] for r in listed["results"]] == [got.json()["id"]]
    assert "lines" not in listed["results"][0]
    assert b.client.get("/api/v1/usage-reports/").status_code == 403


BAD_REPORTS: list[tuple[dict[str, Any], str]] = [
    ({"period": "2026-13"}, "period"),
    ({"period": "2026-11-05/2026-12-02"}, "period"),
    ({"period": "2026-02-30/2026-02-31"}, "period"),
    ({"period": "2999-01"}, "period"),
    ({"period": "2020-01"}, "period"),  # closed long ago
    ({"period": "0001-01-01/0001-01-02"}, "period"),
    ({"period": "0000-01"}, "period"),
    ({"unit": "plays"}, "unit"),
    ({"units": "-1"}, "units"),
    ({"units": "lots"}, "units"),
    ({"units": "NaN"}, "units"),
    ({"units": True}, "units"),
    ({"amount": "1.001"}, "amount"),
    ({"amount": None}, "amount"),
    ({"currency": "EURO"}, "currency"),
    ({"currency": "XAU"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"currency": "ZZZ"}, "currency"),
    ({"decision": None}, "decision"),
    ({"decision": "not-a-uuid"}, "decision"),
    ({"territory": "France"}, "territory"),
    ({"perod": "2026-11"}, "perod"),
    ({"units": "1\x00"}, "units"),
    ({"period": ["2026-11"]}, "period"),
]


def test_bad_reports_are_400s_naming_the_field_and_store_nothing() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    good = {"decision": w["decision"]["id"], "period": this_month(), "unit": "streams",
            "units": 10, "amount": "1.00", "currency": "EUR"}  # fmt: skip
    for change, field in BAD_REPORTS:
        got = report(w["licensee"], **{**good, **change})
        assert got.status_code == 400, (change, got.json())
        assert field in got.json()["fields"], (change, got.json())
    assert w["licensee"].client.post("/api/v1/usage-reports/", [good], format="json"
                                     ).status_code == 400  # fmt: skip
    assert UsageReport.objects.count() == 0


@pytest.mark.parametrize(
    ("obligations", "field"),
    [
        ({**RATED, "compensation_rate": "abc"}, "obligations.compensation_rate"),
        ({**RATED, "compensation_rate": "0"}, "obligations.compensation_rate"),
        ({**RATED, "compensation_rate": "-0.1"}, "obligations.compensation_rate"),
        ({**RATED, "compensation_rate": "0.00000000001"}, "obligations.compensation_rate"),
        ({**RATED, "compensation_currency": "eur"}, "obligations.compensation_currency"),
        ({**RATED, "compensation_unit": "plays"}, "obligations.compensation_unit"),
        ({k: v for k, v in RATED.items() if k != "compensation_unit"},
         "obligations.compensation_unit"),
        ({k: v for k, v in RATED.items() if k != "compensation_ref"},
         "obligations.compensation_rate"),
    ],
)  # fmt: skip
def test_bad_compensation_terms_are_400s_naming_the_field(
    obligations: dict[str, Any], field: str
) -> None:
    label = caller(PartyKind.LABEL)
    body = {"scope": "all_works", "uses": ["analyze"], "effect": "conditional",
            "obligations": obligations}  # fmt: skip
    got = label.client.post("/api/v1/consent/rules/", body, format="json")
    assert got.status_code == 400, got.json()
    assert field in got.json()["fields"], got.json()


def test_compensation_terms_are_ledgered_with_the_rule_version() -> None:
    label = caller(PartyKind.LABEL)
    body = {"scope": "all_works", "uses": ["analyze"], "effect": "conditional",
            "obligations": {**RATED, "compensation_rate": 0.0035}}  # fmt: skip
    got = label.client.post("/api/v1/consent/rules/", body, format="json")
    assert got.status_code == 201, got.json()
    assert got.json()["obligations"]["compensation_rate"] == "0.0035"
    entry = canonical.decode_entry(bytes(PendingEntry.objects.order_by("-id")[0].data))
    assert entry.kind == "consent_rule"
    assert entry.payload["obligations"] == {**RATED, "compensation_rate": "0.0035"}


def test_the_csv_statement_neutralises_formula_cells() -> None:
    w = shared_work(["70", "30"], obligations={"compensation_ref": '=HYPERLINK("x")'})
    got = report(w["licensee"], decision=w["decision"]["id"], period=this_month(),
                 unit="streams", units=10, amount="1.00", currency="EUR")  # fmt: skip
    assert got.status_code == 201
    a = w["holders"][0]
    for response in (
        a.client.get("/api/v1/statements/", {"period": this_month(), "format": "csv"}),
        a.client.get("/api/v1/statements/", {"period": this_month()}, HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert [r["kind"] for r in rows] == ["share", "total"]
        assert rows[0]["compensation_ref"] == '\'=HYPERLINK("x")'
        assert rows[0]["amount"] == "0.70"
        assert rows[1]["amount"] == "0.70"
        assert rows[0]["decision"] == w["decision"]["id"]
        assert rows[0]["share"] == "70.000"
    bad = a.client.get("/api/v1/statements/", {"period": this_month(), "format": "xml"})
    assert bad.status_code == 400
    assert "format" in bad.json()["fields"]
    bad = a.client.get("/api/v1/statements/", {"period": "2026-1"})
    assert bad.status_code == 400
    assert "period" in bad.json()["fields"]


def test_a_closed_month_is_committed_at_its_first_read_and_takes_no_more_reports() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    a = w["holders"][0]
    period = last_month()
    body = {"decision": w["decision"]["id"], "period": period, "unit": "streams",
            "units": 10, "amount": "10.00", "currency": "EUR"}  # fmt: skip
    with override_settings(STATEMENT_CLOSE_DAYS=40):
        assert report(w["licensee"], **body).status_code == 201
        assert statement(a, period)["status"] == "open"
    assert Statement.objects.count() == 0
    with override_settings(STATEMENT_CLOSE_DAYS=0):
        first = a.client.get("/api/v1/statements/", {"period": period})
        again = statement(a, period)
        late = report(w["licensee"], **body)
    assert late.status_code == 400
    assert "period" in late.json()["fields"]
    shown = first.json()
    assert shown["status"] == "closed"
    assert shown == again
    assert [x["amount"] for x in shown["lines"]] == ["7.00"]
    proof = shown["ledger"]
    content = {k: shown[k] for k in ("holder", "holder_name", "period", "lines", "totals")}
    # The holder proves what it was shown: the content and the salt open the commitment ...
    assert (
        commitments.commit("statement", content, salt=bytes.fromhex(proof["salt"]))
        == (proof["commitment"])
    )
    assert first["X-Consentry-Statement-Commitment"] == proof["commitment"]
    # ... that the ledger's statement entry carries, once sequenced.
    assert proof["entry"] is None
    ledger_services.integrate_all(now=timezone.now())
    index = statement(a, period)["ledger"]["entry"]
    entry = a.client.get(f"/ledger/entries/{index}").json()["decoded"]
    assert entry["type"] == "statement"
    assert entry["payload"] == {"holder": str(a.party.pk), "period": period,
                                "statement": {"commitment": proof["commitment"]}}  # fmt: skip
    assert Statement.objects.count() == 1
    # The holder may open it; the other holder may not.
    opened = a.client.get("/api/v1/ledger/openings/", {"entry": index})
    assert opened.status_code == 200, opened.json()
    assert w["holders"][1].client.get("/api/v1/ledger/openings/", {"entry": index}
                                      ).status_code == 404  # fmt: skip


def test_usage_reports_are_ledgered_with_their_amounts_committed() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    got = report(w["licensee"], decision=w["decision"]["id"], period=this_month(),
                 unit="streams", units=10, amount="10.00", currency="EUR")  # fmt: skip
    assert got.status_code == 201
    pending = PendingEntry.objects.order_by("-id")[0]
    assert merkle.leaf_hash(bytes(pending.data)).hex() == got.json()["leaf_hash"]
    entry = canonical.decode_entry(bytes(pending.data))
    assert entry.kind == "usage_report"
    assert entry.payload["decision"] == w["decision"]["id"]
    assert entry.payload["licensee"] == str(w["licensee"].party.pk)
    assert set(entry.payload["amount"]) == {"commitment"} == set(entry.payload["units"])


# --- Races (real threads, each on its own connection) ----------------------------------------

THREADS = 8


def _poster(who: Caller, body: dict[str, Any], key: str) -> Any:
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)  # one per thread; a 500 is an answer
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
    return client.post("/api/v1/usage-reports/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_reports_sent_at_once_with_one_idempotency_key_store_one_report(committed: None) -> None:
    w = on_own_connection(lambda: shared_work(["70", "30"], obligations=COMPENSATION))
    body = {"decision": w["decision"]["id"], "period": this_month(), "unit": "streams",
            "units": 10, "amount": "10.00", "currency": "EUR"}  # fmt: skip
    results = all_at_once(lambda: _poster(w["licensee"], body, "report-1"), threads=THREADS)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    codes = sorted(r.status_code for r in results)  # type: ignore[union-attr]
    assert codes == [200] * (THREADS - 1) + [201], [r.json() for r in results]  # type: ignore[union-attr]
    assert len({r.json()["id"] for r in results}) == 1  # type: ignore[union-attr]
    assert UsageReport.objects.count() == 1
    assert UsageLine.objects.count() == 2
    kinds = list(PendingEntry.objects.values_list("kind", flat=True))
    assert kinds.count("usage_report") == 1
    other = _poster(w["licensee"], {**body, "units": 11}, "report-1")
    assert other.status_code == 409


def test_first_reads_of_a_closed_month_at_once_commit_it_once(committed: None) -> None:
    w = on_own_connection(lambda: shared_work(["70", "30"], obligations=COMPENSATION))
    period = last_month()
    body = {"decision": w["decision"]["id"], "period": period, "unit": "streams",
            "units": 10, "amount": "10.00", "currency": "EUR"}  # fmt: skip
    with override_settings(STATEMENT_CLOSE_DAYS=40):
        assert on_own_connection(lambda: report(w["licensee"], **body)).status_code == 201
    a = w["holders"][0]

    def read() -> Any:
        from rest_framework.test import APIClient

        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {a.secret}")
        return client.get("/api/v1/statements/", {"period": period})

    with override_settings(STATEMENT_CLOSE_DAYS=0):
        results = all_at_once(read, threads=THREADS)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert {r.status_code for r in results} == {200}  # type: ignore[union-attr]
    assert len({r.json()["ledger"]["commitment"] for r in results}) == 1  # type: ignore[union-attr]
    assert Statement.objects.filter(holder=a.party).count() == 1
    kinds = list(PendingEntry.objects.values_list("kind", flat=True))
    assert kinds.count("statement") == 1


def test_the_period_of_a_report_is_a_month_or_days_within_one() -> None:
    assert usage.period_of("2026-11") == ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert usage.period_of("2026-02-03/2026-02-10") == (
        "2026-02",
        dt.date(2026, 2, 3),
        dt.date(2026, 2, 10),
    )
    with pytest.raises(ValueError, match="one calendar month"):
        usage.period_of("2026-01-31/2026-02-01")


def test_a_report_may_name_its_decision_by_the_licence_token() -> None:
    w = shared_work(["70", "30"], obligations=COMPENSATION)
    issued = w["licensee"].client.get(f"/api/v1/decisions/{w['decision']['id']}/token/")
    assert issued.status_code == 200, issued.json()
    token = issued.json()["token"]
    body = {"period": this_month(), "unit": "streams", "units": 10, "amount": "1.00",
            "currency": "EUR"}  # fmt: skip
    got = report(w["licensee"], token=token, **body)
    assert got.status_code == 201, got.json()
    assert got.json()["decision"] == w["decision"]["id"]
    # one byte changed: not this log's signature, refused naming the token
    tampered = token.replace('"use":"analyze"', '"use":"analyse"')
    assert tampered != token
    got = report(w["licensee"], token=tampered, **body)
    assert got.status_code == 400, got.json()
    assert "token" in got.json()["fields"], got.json()
    # both, or neither: refused
    got = report(w["licensee"], token=token, decision=w["decision"]["id"], **body)
    assert got.status_code == 400, got.json()
    # a valid token shown by another licensee does not make the decision its own
    other = caller(PartyKind.LICENSEE, name="Other AI")
    assert report(other, token=token, **body).status_code == 404
    assert UsageReport.objects.count() == 1
