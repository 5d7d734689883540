"""The consent page's scoped exceptions, posted as a browser posts the form (Django's test
client, signed in): written through the service the API uses, with its validation on the
field; rules the page cannot show left alone; forbidden forms refused with nothing changed;
two saves at once losing and duplicating nothing; the preview of a sample request."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from django.test import Client

from governance.access import Actor
from governance.models import ConsentRule, ConsentRuleVersion, PartyKind
from governance.terms import USES
from tests.committed import all_at_once
from tests.web.people import Person, person
from web import consent as consent_page
from web.forms import ConsentForm


def work_of(
    label: Person, title: str, isrc: str, holder: Person, artist: Person | None = None
) -> str:
    """A recording ``label`` registers, every right of it held by ``holder``; its id."""
    credits = (
        []
        if artist is None
        else [{"name": artist.party.name, "role": "main_artist", "party": str(artist.party.pk)}]
    )
    work = label.caller.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": title, "isrc": isrc, "credits": credits},
        format="json",
    )
    assert work.status_code == 201, work.json()
    for right in ("master", "publishing", "performer"):
        share = {
            "work": work.json()["id"],
            "holder": str(holder.party.pk),
            "right": right,
            "share": "100",
        }
        response = label.caller.client.post("/api/v1/shares/", share, format="json")
        assert response.status_code == 201, response.json()
    return str(work.json()["id"])


def signed_in(who: Person, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(who.caller.token.user)
    return client


def actor(who: Person) -> Actor:
    return Actor(user=who.caller.token.user, party=who.party, role="admin")


def form_data(who: Person) -> dict[str, Any]:
    """The consent form as the page shows it now, as a browser would post it unchanged."""
    a = actor(who)
    rows, _ = consent_page.consent_rows(actor=a)
    initial = ConsentForm.initial_for(rows, who.party.default_posture)
    data: dict[str, Any] = {"action": "save"}
    for key, value in initial.items():
        if value is None or value is False or value == "" or value == []:
            continue
        if value is True:
            data[key] = "on"
        elif isinstance(value, dt.date):
            data[key] = value.isoformat()
        else:
            data[key] = value
    return data


def url(who: Person) -> str:
    return f"/p/{who.party.pk}/consent/"


def versions_of(who: Person) -> list[ConsentRuleVersion]:
    return list(
        ConsentRuleVersion.objects.filter(rule__owner=who.party).order_by("rule_id", "version")
    )


def snapshot(who: Person) -> list[tuple[Any, ...]]:
    """Every version of ``who``'s rules and every withdrawal: what "nothing changed" compares."""
    versions = [(v.pk, v.rule_id, v.version, v.effective_until) for v in versions_of(who)]
    rules = [(r.pk, r.withdrawn_at) for r in ConsentRule.objects.filter(owner=who.party)]
    return [*versions, *sorted(rules, key=str)]


def ada_and_work() -> tuple[Person, str]:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    label = person(PartyKind.LABEL, "Northwind Records")
    return ada, work_of(label, "Paper Moons", "FRZ031900123", ada, artist=ada)


def test_an_exception_is_written_as_the_api_writes_it_and_shown_with_its_author() -> None:
    ada, _ = ada_and_work()
    client = signed_in(ada)
    data = form_data(ada) | {
        "train-new-effect": "allow",
        "train-new-territories": "fr",
        "train-new-commercial": "non_commercial",
    }
    response = client.post(url(ada), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    (v,) = versions_of(ada)
    assert (v.scope, v.uses, v.effect, v.territory_mode, v.territories, v.commercial) == (
        "all_works",
        ["train"],
        "allow",
        "include",
        ["FR"],
        "non_commercial",
    )
    assert (v.licensee_mode, v.window_start, v.window_end, v.author_id) == (
        "any",
        None,
        None,
        ada.caller.token.user_id,
    )
    page = client.get(url(ada)).content.decode()
    assert f'data-rule="{v.rule_id}">Allow · in FR · Non-commercial use only</li>' in page
    assert "Train AI models on my recordings — Allow · in FR · Non-commercial use only" in page
    assert f"by {ada.username}" in page
    # Shown as an exception of its row, editable: its fields carry what it says.
    assert 'name="train-x0-territories" value="FR"' in page
    assert f'name="train-x0-rule" value="{v.rule_id}:1"' in page


def test_an_exception_is_edited_into_a_new_version_then_removed() -> None:
    ada, work = ada_and_work()
    client = signed_in(ada)
    data = form_data(ada) | {
        "analyze-new-effect": "conditional",
        "analyze-new-credit": "Ada",
        "analyze-new-works": [work],
        "analyze-new-start": "2027-01-01",
        "analyze-new-until": "2027-12-31",
    }
    assert client.post(url(ada), data).status_code == 302
    (v1,) = versions_of(ada)
    assert (v1.scope, v1.scope_works, v1.obligations) == (
        "works",
        [dt_uuid(work)],
        {"attribution": "Ada"},
    )
    assert v1.window_start == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert v1.window_end == dt.datetime(2028, 1, 1, tzinfo=dt.UTC)  # the 31st included

    data = form_data(ada)
    assert data["analyze-x0-until"] == "2027-12-31"
    assert client.post(url(ada), data | {"analyze-x0-territories": "DE FR"}).status_code == 302
    v1.refresh_from_db()
    assert v1.effective_until is not None
    v2 = ConsentRuleVersion.objects.get(rule_id=v1.rule_id, version=2)
    assert (v2.territories, v2.scope_works, v2.window_end) == (
        ["DE", "FR"],
        v1.scope_works,
        v1.window_end,
    )

    data = form_data(ada)
    assert client.post(url(ada), data | {"analyze-x0-remove": "on"}).status_code == 302
    rule = ConsentRule.objects.get(pk=v1.rule_id)
    assert rule.withdrawn_at is not None
    assert rule.withdrawn_by_id == ada.caller.token.user_id
    history = client.get(url(ada)).content.decode()
    assert (
        "Withdrawn: Analyse my recordings — Allow with conditions: credit “Ada” · works: "
        in history
    )
    assert history.count(f"by {ada.username}") == 3


def dt_uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


def test_a_bad_territory_or_an_end_before_the_start_is_an_error_on_that_field() -> None:
    ada, _ = ada_and_work()
    client = signed_in(ada)
    before = snapshot(ada)
    for fields, name, message in (
        (
            {"train-new-territories": "FR QQ"},
            "train-new-territories",
            "unknown territory code 'QQ'",
        ),
        ({"train-new-territories": "FR -DE"}, "train-new-territories", "not both"),
        (
            {"train-new-start": "2027-03-01", "train-new-until": "2027-02-01"},
            "train-new-until",
            "Ends before it starts",
        ),
        ({"train-new-start": "2027-13-01"}, "train-new-start", "Enter a valid date"),
        ({}, "train-new-territories", "Limit this answer"),
    ):
        data = form_data(ada) | {"train-new-effect": "allow", "voice-choice": "deny"} | fields
        response = client.post(url(ada), data)
        assert response.status_code == 400
        errors = response.context["form"].errors
        assert message in " ".join(errors[name]), errors
        assert set(errors) == {name}, errors
        assert snapshot(ada) == before  # nothing saved, the voice row's answer included
    # The page keeps what was entered, the disclosure open on the error.
    page = response.content.decode()
    assert '<details class="limits" open>' in page


def test_choosing_a_work_that_is_not_the_partys_is_an_error_on_that_field() -> None:
    ada, _ = ada_and_work()
    other_label = person(PartyKind.LABEL, "Harbor Lane")
    theirs = work_of(other_label, "Not Hers", "FRZ031900999", other_label)
    client = signed_in(ada)
    data = form_data(ada) | {"train-new-effect": "allow", "train-new-works": [theirs]}
    response = client.post(url(ada), data)
    assert response.status_code == 400
    assert "Select a valid choice" in " ".join(response.context["form"].errors["train-new-works"])
    assert versions_of(ada) == []
    # A label's works are its catalog: Harbor Lane may name its own work, not Ada's.
    label_client = signed_in(other_label)
    ok = form_data(other_label) | {"analyze-new-effect": "deny", "analyze-new-works": [theirs]}
    assert label_client.post(url(other_label), ok).status_code == 302
    (v,) = versions_of(other_label)
    assert (v.scope, [str(w) for w in v.scope_works]) == ("works", [theirs])


def test_another_partys_rule_in_the_form_is_refused_and_nothing_changes() -> None:
    ada, _ = ada_and_work()
    milo = person(PartyKind.ARTIST, "Milo Reyes")
    plain = milo.caller.client.post(
        "/api/v1/consent/rules/",
        {"scope": "all_works", "uses": ["train"], "effect": "allow"},
        format="json",
    )
    scoped = milo.caller.client.post(
        "/api/v1/consent/rules/",
        {"scope": "all_works", "uses": ["train"], "effect": "allow", "territories": ["FR"]},
        format="json",
    )
    assert plain.status_code == scoped.status_code == 201
    milo_before, ada_before = snapshot(milo), snapshot(ada)
    client = signed_in(ada)
    for tampered in (
        {"train-plain": f"{plain.json()['rule']}:1", "train-choice": "default"},  # withdraw it
        {"train-plain": f"{plain.json()['rule']}:1", "train-choice": "deny"},  # revise it
        {
            "train-x0-rule": f"{scoped.json()['rule']}:1",
            "train-x0-effect": "deny",
            "train-x0-territories": "FR",
            "train-x0-commercial": "both",
        },
        {"train-x0-rule": f"{scoped.json()['rule']}:1", "train-x0-remove": "on"},
        {"train-x0-rule": "not-a-rule", "train-x0-remove": "on"},
    ):
        response = client.post(url(ada), form_data(ada) | tampered | {"voice-choice": "deny"})
        assert response.status_code == 400
        assert "not one of yours" in response.content.decode()
        assert (snapshot(milo), snapshot(ada)) == (milo_before, ada_before)


def test_a_post_without_the_csrf_token_is_refused() -> None:
    ada, _ = ada_and_work()
    client = signed_in(ada, csrf=True)
    assert client.get(url(ada)).status_code == 200
    data = form_data(ada) | {"train-new-effect": "allow", "train-new-territories": "FR"}
    assert client.post(url(ada), data).status_code == 403
    assert versions_of(ada) == []


def test_a_rule_the_page_cannot_edit_survives_a_save_unchanged() -> None:
    ada, _ = ada_and_work()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    shapes = [
        {
            "scope": "all_works",
            "uses": ["train", "stems"],
            "effect": "deny",
            "territories": ["-FR"],
        },
        {
            "scope": "all_works",
            "uses": ["train"],
            "effect": "allow",
            "licensee_mode": "except",
            "licensees": [str(sonora.party.pk)],
        },
        {
            "scope": "all_works",
            "uses": ["output"],
            "effect": "conditional",
            "obligations": {"max_similarity": 0.5},
        },
        {
            "scope": "all_works",
            "uses": ["analyze"],
            "effect": "allow",
            "window_start": "2027-01-01T12:30:00Z",
            "note": "From half past noon.",
        },
    ]
    made = []
    for shape in shapes:
        response = ada.caller.client.post("/api/v1/consent/rules/", shape, format="json")
        assert response.status_code == 201, response.json()
        made.append(response.json()["rule"])
    before = {v.pk: (v.rule_id, v.version, v.effective_until) for v in versions_of(ada)}
    client = signed_in(ada)
    page = client.get(url(ada)).content.decode()
    for rule in made:
        assert f'<li data-rule="{rule}">' in page  # listed read-only, in "Other rules in force"
    assert "every licensee but Sonora AI Labs" in page
    assert "outside FR" in page
    assert "from 2027-01-01T12:30+00:00" in page
    data = form_data(ada) | {
        "train-choice": "allow",
        "stems-choice": "deny",
        "train-new-effect": "review",
        "train-new-territories": "DE",
        "posture": "opt_out",
    }
    assert client.post(url(ada), data).status_code == 302
    after = {v.pk: (v.rule_id, v.version, v.effective_until) for v in versions_of(ada)}
    assert {pk: after[pk] for pk in before} == before
    assert len(after) == len(before) + 3  # train, stems, the new exception
    assert not ConsentRule.objects.filter(pk__in=made, withdrawn_at__isnull=False).exists()


def preview(client: Client, who: Person, data: dict[str, Any]) -> dict[str, str]:
    response = client.post(url(who), data | {"action": "preview"})
    assert response.status_code == 200, response.context["form"].errors
    return {p["use"]: p["outcome"] for p in response.context["preview"]}


def test_the_preview_takes_the_exceptions_and_the_sample_request_into_account() -> None:
    ada, work = ada_and_work()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = signed_in(ada)
    train = form_data(ada) | {
        "train-new-effect": "allow",
        "train-new-territories": "FR",
        "train-new-commercial": "non_commercial",
        "sample-use": "train",
    }
    # The default sample: commercial, worldwide: the exception does not answer; opt-in refuses.
    assert preview(client, ada, train) == {"train": "deny"}
    fr = train | {"sample-territory": "fr", "sample-commercial": "non_commercial"}
    assert preview(client, ada, fr) == {"train": "allow"}
    # Worldwide, non-commercial: outside France nothing allows it; the strictest decides.
    assert preview(client, ada, fr | {"sample-territory": ""}) == {"train": "deny"}
    # A "never" for everyone wins over the exception (deny overrides: DESIGN.md).
    assert preview(client, ada, fr | {"train-choice": "deny"}) == {"train": "deny"}
    # Opt-out: the commercial request is allowed by the default, the exception aside.
    assert preview(client, ada, train | {"posture": "opt_out"}) == {"train": "allow"}
    # Some works, some licensees, a period: each is asked about.
    limited = form_data(ada) | {
        "analyze-new-effect": "allow",
        "analyze-new-works": [work],
        "analyze-new-start": "2030-01-01",
        "sample-use": "analyze",
    }
    assert preview(client, ada, limited | {"sample-work": work}) == {"analyze": "deny"}  # now
    assert preview(client, ada, limited | {"sample-work": work, "sample-date": "2030-06-01"}) == {
        "analyze": "allow"
    }
    assert preview(client, ada, limited | {"sample-date": "2030-06-01"}) == {"analyze": "deny"}
    # Some licensees: those who asked about her can be chosen, and no one else.
    response = client.post(
        url(ada), limited | {"action": "preview", "sample-licensee": str(sonora.party.pk)}
    )
    assert "sample-licensee" in response.context["form"].errors
    asked = sonora.caller.client.post(
        "/api/v1/checks/", {"use": "stems", "item": {"isrc": "FRZ031900123"}}, format="json"
    )
    assert asked.status_code == 200, asked.json()
    sonora_only = form_data(ada) | {
        "stems-new-effect": "allow",
        "sample-use": "stems",
        "stems-new-licensees": [str(sonora.party.pk)],
    }
    assert preview(client, ada, sonora_only) == {"stems": "deny"}  # a licensee not named
    assert preview(client, ada, sonora_only | {"sample-licensee": str(sonora.party.pk)}) == {
        "stems": "allow"
    }
    assert versions_of(ada) == []  # a preview saves nothing


def _race(who: Person, datas: list[dict[str, Any]]) -> list[int]:
    """Each of ``datas`` posted at once by its own signed-in client, on its own thread and
    connection (the real database, committed); their statuses."""
    clients = [signed_in(who) for _ in datas]
    lock, n = threading.Lock(), iter(range(len(datas)))

    def post() -> int:
        with lock:
            i = next(n)
        return int(clients[i].post(url(who), datas[i]).status_code)

    out = all_at_once(post, threads=len(datas))
    assert all(isinstance(s, int) for s in out), out
    return sorted(int(s) for s in out)  # type: ignore[call-overload]


def test_two_saves_at_once_lose_no_rule_and_duplicate_none() -> None:
    ada, _ = ada_and_work()
    base = form_data(ada)  # both opened the page before either saved
    # Different rows: both saved.
    statuses = _race(
        ada,
        [
            base | {"train-new-effect": "allow", "train-new-territories": "FR"},
            base
            | {
                "voice-choice": "deny",
                "analyze-new-effect": "review",
                "analyze-new-commercial": "commercial",
            },
        ],
    )
    assert statuses == [302, 302]
    kinds = sorted((v.uses[0], v.effect, v.territories, v.commercial) for v in versions_of(ada))
    assert kinds == [
        ("analyze", "review", [], "commercial"),
        ("train", "allow", ["FR"], "both"),
        ("voice", "deny", [], "both"),
    ]
    # The same new exception twice: one rule.
    base = form_data(ada)
    same = base | {"stems-new-effect": "deny", "stems-new-territories": "DE"}
    assert _race(ada, [same, same]) == [302, 302]
    assert len([v for v in versions_of(ada) if v.uses == ["stems"]]) == 1
    # The same answer changed two ways from the same page: one is saved, the other told so.
    base = form_data(ada)
    statuses = _race(ada, [base | {"voice-choice": "review"}, base | {"voice-choice": "allow"}])
    assert statuses == [302, 409]
    voice = [v for v in versions_of(ada) if v.uses == ["voice"]]
    assert [v.version for v in voice] == [1, 2]
    assert voice[-1].effect in ("review", "allow")
    # An exception edited and removed at once: one of them, never both or a lost rule.
    base = form_data(ada)
    statuses = _race(
        ada, [base | {"train-x0-territories": "FR DE"}, base | {"train-x0-remove": "on"}]
    )
    assert statuses == [302, 409]
    rule = ConsentRule.objects.get(pk=base["train-x0-rule"].split(":")[0])
    assert (rule.withdrawn_at is None) == (rule.current_version == 2)
    assert len([v for v in versions_of(ada) if v.uses == ["train"]]) == rule.current_version
    assert set(USES) >= {v.uses[0] for v in versions_of(ada)}
    # The default posture changed while another save of the page (opened before) changes a
    # row: the posture is not put back.
    base = form_data(ada)
    assert base["posture"] == base["posture_base"] == "opt_in"
    statuses = _race(ada, [base | {"posture": "opt_out"}, base | {"lyrics-choice": "deny"}])
    assert statuses == [302, 302]
    ada.party.refresh_from_db()
    assert ada.party.default_posture == "opt_out"
    assert [v.effect for v in versions_of(ada) if v.uses == ["lyrics"]] == ["deny"]


def test_the_exceptions_in_french() -> None:
    ada, _ = ada_and_work()
    client = signed_in(ada)
    client.cookies["django_language"] = "fr"
    page = client.get(url(ada)).content.decode()
    assert "Limiter cette réponse : certaines œuvres, des licenciés, des territoires" in page
    assert "Limiter cette réponse : certains licenciés, des territoires, une période" in page
    assert "Territoires (codes ISO : FR DE ; partout sauf en France : -FR)" in page
    assert "Une demande à prévisualiser" in page
    data = form_data(ada) | {
        "train-new-effect": "allow",
        "train-new-start": "2027-03-01",
        "train-new-until": "2027-02-01",
    }
    response = client.post(url(ada), data)
    assert response.status_code == 400
    assert "Finit avant de commencer" in response.content.decode()
    data = form_data(ada) | {
        "train-new-effect": "allow",
        "train-new-territories": "FR",
        "train-new-commercial": "non_commercial",
    }
    assert client.post(url(ada), data).status_code == 302
    page = client.get(url(ada)).content.decode()
    assert "Autoriser · en FR · Usage non commercial seulement" in page
    assert "Limiter cette réponse (1 exception)" in page


def test_a_stale_page_does_not_undo_a_change_made_since() -> None:
    ada, _ = ada_and_work()
    client = signed_in(ada)
    data = form_data(ada) | {"train-new-effect": "allow", "train-new-territories": "FR"}
    assert client.post(url(ada), data).status_code == 302
    stale = form_data(ada)  # the page as opened, before the API's change below
    (v1,) = versions_of(ada)
    revised = ada.caller.client.put(
        f"/api/v1/consent/rules/{v1.rule_id}/",
        {"scope": "all_works", "uses": ["train"], "effect": "deny", "territories": ["FR"]},
        format="json",
    )
    assert revised.status_code == 200, revised.json()
    before = snapshot(ada)
    # Changing that exception from the stale page: refused, with who changed what; nothing saved.
    response = client.post(
        url(ada), stale | {"train-x0-territories": "FR DE", "voice-choice": "deny"}
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert (
        "Changed by someone else since you opened the page: Train AI models on my recordings. "
        "Nothing was saved." in text
    )
    assert snapshot(ada) == before
    assert f'name="train-x0-rule" value="{v1.rule_id}:2"' in text  # the page as it is now
    # Changing something else from the stale page: saved, and the API's version left in force.
    assert client.post(url(ada), stale | {"voice-choice": "deny"}).status_code == 302
    current = ConsentRuleVersion.objects.get(rule_id=v1.rule_id, effective_until__isnull=True)
    assert (current.version, current.effect) == (2, "deny")
    # A date the calendar cannot end after is refused on its field, not a server error.
    data = form_data(ada) | {"analyze-new-effect": "allow", "analyze-new-until": "9999-12-31"}
    response = client.post(url(ada), data)
    assert response.status_code == 400
    assert "Too far" in " ".join(response.context["form"].errors["analyze-new-until"])
