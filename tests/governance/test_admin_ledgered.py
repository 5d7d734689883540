"""The Django admin changes ledgered state only through the services (issue 13, item 7): a
party created in the admin is ledgered, so decisions involving it replay; what has no service
behind an admin form is read-only there.

The walk derives the ledgered models from :mod:`governance.ledgering` (the models its payload
functions take) and the few entry kinds whose payloads are built where they are appended, then
puts every admin page registered for one of them (and their inlines) through add, change and
delete as a superuser: each operation either appends a ledger entry naming every row it
changed, or changes nothing."""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.utils import timezone

from governance import ledgering, tasks
from governance.models import (
    ConsentRule,
    Decision,
    EmbeddingSpace,
    Party,
    PartyKind,
    ReleaseTrack,
    Review,
    RightsShare,
    WorkEmbedding,
)
from governance.replay import replay
from governance.services import outbox
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.audio import tones
from tests.factories import caller
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db

BUILT_IN_PLACE: dict[str, type[models.Model]] = {
    # Entry kinds whose payload is built where it is appended, not by a ledgering function.
    "consent_rule_withdrawn": ConsentRule,
    "decision": Decision,
    "decision_settled": Review,
    "embedding_space": EmbeddingSpace,
    "work_embedding": WorkEmbedding,
    "release": ReleaseTrack,  # a release's tracks are in its payload
}


def _models_in(hint: Any) -> Iterator[type[models.Model]]:
    if inspect.isclass(hint) and issubclass(hint, models.Model):
        yield hint
    for arg in typing.get_args(hint):
        yield from _models_in(arg)


def ledgered_models() -> set[type[models.Model]]:
    """Every model whose rows some ledger entry carries."""
    found = set(BUILT_IN_PLACE.values())
    for name, fn in vars(ledgering).items():
        if name.endswith("_payload") and inspect.isfunction(fn):
            for hint in typing.get_type_hints(fn).values():
                found.update(_models_in(hint))
    return found


LEDGERED = ledgered_models()


def admin_pages() -> list[tuple[type[models.Model], admin.ModelAdmin[Any]]]:
    """The admin pages through which a ledgered model's rows could change."""
    pages = []
    for model, model_admin in admin.site._registry.items():
        inlines = {inline.model for inline in model_admin.inlines}
        if model in LEDGERED or inlines & LEDGERED:
            pages.append((model, model_admin))
    return pages


def test_the_walk_knows_the_ledgered_models() -> None:
    from governance.models import (
        ConsentMatrixVersion,
        ConsentRuleVersion,
        Likeness,
        Release,
        RightsClaim,
        Work,
    )

    assert {Party, Work, RightsShare, Likeness, ConsentRuleVersion, ConsentMatrixVersion,
            Release, RightsClaim} <= LEDGERED  # fmt: skip
    assert Party in dict(admin_pages())


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------


def rows() -> dict[tuple[type[models.Model], str], dict[str, Any]]:
    """Every ledgered row, by model and primary key, with its fields (not its update time)."""
    out = {}
    for model in LEDGERED:
        names = [f.attname for f in model._meta.concrete_fields if f.name != "updated_at"]
        for values in model._base_manager.values(*names):
            out[(model, str(values[model._meta.pk.attname]))] = values
    return out


def payloads_of(kind: str) -> list[dict[str, Any]]:
    return [json.loads(bytes(p.data))["payload"] for p in PendingEntry.objects.filter(kind=kind)]


def entries_after(count: int) -> list[str]:
    return [bytes(p.data).decode() for p in PendingEntry.objects.order_by("id")[count:]]


def assert_ledgered_or_refused(before: dict[Any, Any], mark: int, what: str) -> None:
    after = rows()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    appended = entries_after(mark)
    for model, pk in sorted(changed, key=str):
        assert any(pk in entry for entry in appended), (
            f"{what}: {model.__name__} {pk} changed without a ledger entry"
        )


def form_data(response: Any, *, edit: bool = False) -> dict[str, Any]:
    """What the admin page would post back: its form and its inlines' forms, as they are, or
    with every editable text and choice changed to another valid value (``edit``)."""
    from django import forms

    def value(form: Any, name: str) -> Any:
        field, current = form.fields[name], form[name].value()
        current = "" if current is None else current
        if not edit or isinstance(field, forms.ModelChoiceField):
            return current
        if isinstance(field, forms.ChoiceField):
            others = [str(v) for v, _ in field.choices if v not in ("", current)]
            return others[0] if others else current
        if isinstance(field, forms.CharField) and current:
            return f"{current} (edited)"
        return current

    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        data[name] = value(form, name)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for f in formset.forms:
            for name in f.fields:
                data[f.add_prefix(name)] = value(f, name)
    return {k: v for k, v in data.items() if not isinstance(v, list) or v}


SAMPLE: dict[type[models.Model], dict[str, str]] = {
    # What an operator would type on a model's add page.
    Party: {"name": "Harbor Lane Music Publishing", "kind": PartyKind.PUBLISHER},
}


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("operator", password="x")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("model", "model_admin"), admin_pages(), ids=lambda p: getattr(p, "__name__", "")
)
def test_every_admin_change_of_ledgered_state_is_ledgered_or_refused(  # type: ignore[no-untyped-def]
    world, operator: Client, model: type[models.Model], model_admin: Any
) -> None:
    # A claim on the world's work, so that every model has a row to change.
    claimant = caller(PartyKind.PUBLISHER)
    claim = {"work": world["work"]["id"], "right": "publishing", "share": "50",
             "statement": "Co-publishing agreement."}  # fmt: skip
    assert claimant.client.post("/api/v1/claims/", claim, format="json").status_code == 201
    # And a content of the work, fingerprinted (its job ledgers it).
    with mock.patch.object(outbox, "broker_send"):
        content = world["label"].client.post(
            f"/api/v1/works/{world['work']['id']}/content/",
            {"file": SimpleUploadedFile("a.wav", tones(10), content_type="audio/wav")},
        )
    assert tasks.fingerprint_content.apply(args=[content.json()["id"]]).get() == "completed"
    meta = model._meta
    base = f"/admin/{meta.app_label}/{meta.model_name}"

    # Add.
    before, mark = rows(), PendingEntry.objects.count()
    page = operator.get(f"{base}/add/")
    if page.status_code == 200:
        assert model in SAMPLE, f"the walk needs a sample {model.__name__} to add"
        operator.post(f"{base}/add/", {**form_data(page), **SAMPLE[model]})
    else:
        assert page.status_code == 403
        assert operator.post(f"{base}/add/", SAMPLE.get(model, {})).status_code == 403
    assert_ledgered_or_refused(before, mark, f"adding a {model.__name__}")

    # Change every text field of an existing row, and its inlines.
    obj = model._base_manager.order_by("pk").first()
    if obj is None:
        pytest.fail(f"the world has no {model.__name__} to change")
    before, mark = rows(), PendingEntry.objects.count()
    page = operator.get(f"{base}/{obj.pk}/change/")
    assert page.status_code == 200
    data = form_data(page, edit=True) if page.context and "adminform" in page.context else {}
    operator.post(f"{base}/{obj.pk}/change/", data)
    assert_ledgered_or_refused(before, mark, f"changing a {model.__name__}")

    # Delete.
    before, mark = rows(), PendingEntry.objects.count()
    operator.post(f"{base}/{obj.pk}/delete/", {"post": "yes"})
    operator.post(
        f"{base}/", {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert_ledgered_or_refused(before, mark, f"deleting a {model.__name__}")


def test_a_party_added_in_the_admin_is_ledgered_once_through_the_service(
    operator: Client,
) -> None:
    page = operator.get("/admin/governance/party/add/")
    response = operator.post("/admin/governance/party/add/", {**form_data(page), **SAMPLE[Party]})
    assert response.status_code == 302, response.content.decode()[:2000]
    party = Party.objects.get(name="Harbor Lane Music Publishing")
    payloads = [
        json.loads(bytes(p.data))["payload"] for p in PendingEntry.objects.filter(kind="party")
    ]
    assert [p["id"] for p in payloads] == [str(party.pk)]
    assert payloads[0]["kind"] == "publisher"


def test_an_artist_added_in_the_admin_gets_its_likeness_ledgered(operator: Client) -> None:
    page = operator.get("/admin/governance/party/add/")
    operator.post(
        "/admin/governance/party/add/", {**form_data(page), "name": "Ada Vale", "kind": "artist"}
    )
    artist = Party.objects.get(name="Ada Vale")
    likeness = [
        json.loads(bytes(p.data))["payload"] for p in PendingEntry.objects.filter(kind="likeness")
    ]
    assert [p["artist"] for p in likeness] == [str(artist.pk)]


def test_a_decision_involving_a_party_added_in_the_admin_replays(  # type: ignore[no-untyped-def]
    world, operator: Client
) -> None:
    page = operator.get("/admin/governance/party/add/")
    operator.post("/admin/governance/party/add/", {**form_data(page), **SAMPLE[Party]})
    publisher = Party.objects.get(name="Harbor Lane Music Publishing")
    # The publisher co-holds the recording's publishing right with the label.
    label = world["label"].client
    held = RightsShare.objects.get(work_id=world["work"]["id"], right="publishing")
    assert label.delete(f"/api/v1/shares/{held.pk}/").status_code == 204
    share = {"work": world["work"]["id"], "holder": str(publisher.pk), "right": "publishing",
             "share": "100"}  # fmt: skip
    assert label.post("/api/v1/shares/", share, format="json").status_code == 201
    rule(world["label"], scope="all_works", uses=["reference"], effect="allow")
    decided = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "reference", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    # The publisher gave no consent (opt-in): its answer is part of the decision.
    assert decided["outcome"] == "deny"
    assert str(publisher.pk) in json.dumps(decided["trace"])
    ledger_services.integrate_all(now=timezone.now())
    assert replay() == (1, [])


def test_the_party_admin_never_shows_the_callback_secret(world, operator: Client) -> None:  # type: ignore[no-untyped-def]
    from governance.services.callbacks import callback_secret

    licensee = world["licensee"].party
    secret = callback_secret(party=licensee)
    page = operator.get(f"/admin/governance/party/{licensee.pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()
