"""Replay with committed fields (issue 12, Access item 5): replay opens each commitment with its
stored opening, checks it, evaluates with the clear values, and reports an opening that was
tampered with or removed as a difference naming the entry. Every replay here runs in one
process and with a second one decoding and opening the entries, and must give the same."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from governance.replay import Difference, replay
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import Entry
from tests.dbroles import as_superuser
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db


def replayed() -> tuple[int, list[Difference]]:
    """The replay of the log in one process, checked to be that with two
    (``governance.replay``'s ``workers``)."""
    alone = replay(workers=1)
    assert replay(workers=2) == alone
    return alone


def check(world: dict[str, Any]) -> str:
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    return str(response.json()["outcome"])


def entry_index(kind: str, **match: str) -> tuple[int, bytes]:
    for index, data, leaf in Entry.objects.order_by("index").values_list(
        "index", "data", "leaf_hash"
    ):
        entry = canonical.decode_entry(bytes(data))
        if entry.kind == kind and all(entry.payload.get(k) == v for k, v in match.items()):
            return int(index), bytes(leaf)
    raise AssertionError(f"no {kind} entry matching {match}")


def behind_the_ledgers_back(sql: str, params: list[Any]) -> None:
    """What a database superuser can do: switch the append-only trigger off and edit."""
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_opening DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE ledger_opening ENABLE TRIGGER USER")


def test_replay_evaluates_a_listed_licensee_from_the_opened_licensee_list(world) -> None:  # type: ignore[no-untyped-def]
    rule(
        world["label"], scope="all_works", uses=["analyze"], effect="allow",
        licensee_mode="listed", licensees=[str(world["licensee"].party.pk)],
    )  # fmt: skip
    assert check(world) == "allow"
    ledger_services.integrate_all(now=timezone.now())
    # In the log the list is a commitment; only the opening names the licensee.
    index, _ = entry_index("consent_rule")
    payload = canonical.decode_entry(bytes(Entry.objects.get(index=index).data)).payload
    assert set(payload["licensees"]) == {"commitment"}
    assert replayed() == (1, [])


def test_a_tampered_opening_is_reported_with_its_entry_index(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    assert check(world) == "allow"
    ledger_services.integrate_all(now=timezone.now())
    assert replayed() == (1, [])
    # The operator rewrites the master share's opening to give the label 0.001 % only.
    index, leaf = entry_index("rights_share", right="master")
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'share'",
        [b'"0.001"', leaf],
    )
    count, differences = replayed()
    assert count == 1
    first = differences[0]
    assert (first.kind, first.index, first.ledgered) == ("opening", index, "rights_share")
    assert "the opening of 'share' does not match its commitment" in first.reason
    # The share cannot be vouched for, so it is left out: the decision no longer replays.
    assert [(d.kind, d.ledgered, d.replayed) for d in differences[1:]] == [
        ("decision", "allow", "deny")
    ]
    outs = []
    for workers in ("1", "2"):
        out = StringIO()
        with pytest.raises(SystemExit) as exit_status:
            call_command("replay_decisions", "--workers", workers, stdout=out, stderr=StringIO())
        assert exit_status.value.code == 1
        outs.append(out.getvalue())
    assert f"entry {index} (rights_share): the opening of 'share' does not match" in outs[0]
    assert outs[1] == outs[0]


def test_a_removed_opening_is_reported_with_its_entry_index(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow", note="Private.")
    assert check(world) == "allow"
    ledger_services.integrate_all(now=timezone.now())
    index, leaf = entry_index("consent_rule")
    behind_the_ledgers_back(
        "DELETE FROM ledger_opening WHERE leaf_hash = %s AND field = 'note'", [leaf]
    )
    _, differences = replayed()
    assert [(d.kind, d.index) for d in differences][:1] == [("opening", index)]
    assert "no opening for the committed field 'note'" in differences[0].reason


def test_openings_are_append_only(world) -> None:  # type: ignore[no-untyped-def]
    from django.db import DatabaseError, transaction

    for sql in (
        "UPDATE ledger_opening SET value = '\"1\"'::bytea",
        "DELETE FROM ledger_opening",
        "TRUNCATE ledger_opening",
    ):
        # The service's role lacks the privilege; even a superuser meets the trigger.
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            connection.cursor().execute(sql)
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            as_superuser(),
        ):
            connection.cursor().execute(sql)


def test_an_entry_and_its_openings_roll_back_together(world) -> None:  # type: ignore[no-untyped-def]
    from django.db import transaction

    from governance import ledgering
    from ledger.models import Opening, PendingEntry

    def change_that_fails() -> None:
        with transaction.atomic():
            ledgering.append("rights_share", {"id": "s", "share": "12.500"}, now=timezone.now())
            assert Opening.objects.count() == before[1] + 1
            raise RuntimeError("the change fails after ledgering")

    before = (PendingEntry.objects.count(), Opening.objects.count())
    with pytest.raises(RuntimeError):
        change_that_fails()
    assert (PendingEntry.objects.count(), Opening.objects.count()) == before


def test_a_decision_that_used_other_rule_versions_than_its_position_holds_differs(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 13, item 6: the same outcome from a version the log had replaced by then is a
    difference too (the decision read state that its position does not hold)."""
    from governance import ledgering
    from governance.models import Decision
    from governance.services.deciding import decision_payload

    created = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    assert check(world) == "allow"
    revised = world["label"].client.put(
        f"/api/v1/consent/rules/{created['rule']}/",
        {"scope": "all_works", "uses": ["analyze", "train"], "effect": "allow"},
        format="json",
    )
    assert revised.status_code == 200, revised.json()
    ledger_services.integrate_all(now=timezone.now())
    assert replayed() == (1, [])
    # The decision's entry again, after the edit: what a decision that read version 1 while
    # the edit committed first was, before the two took locks (governance.ordering).
    decision = Decision.objects.select_related("item", "request").get()
    payload = decision_payload(decision, decision.item, decision.request)
    ledgering.append("decision", payload, now=timezone.now())
    ledger_services.integrate_all(now=timezone.now())
    count, differences = replayed()
    assert count == 2
    (late,) = differences
    assert (late.ledgered, late.replayed) == ("allow", "allow")
    assert late.reason == (
        f"cites rule versions {created['rule']} v1; at its position in the log"
        f" {created['rule']} v2 apply"
    )
