"""The review queue page shows a holder the open disputes of decisions its answer decided, with
uphold and release buttons that answer through the API's service (issue 19, section 1); in
French too; another party's member cannot answer them from its own page."""

from __future__ import annotations

from typing import Any

from django.test import Client

from governance.models import Dispute, PartyKind
from tests.api.test_disputes import decided, dispute
from tests.factories import caller


def signed_in(who: Any, *, french: bool = False) -> Client:
    client = Client(HTTP_ACCEPT="text/html")
    client.force_login(who.token.user)
    if french:
        from django.conf import settings

        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


def test_a_holder_releases_a_dispute_from_the_review_queue(world: dict[str, Any]) -> None:
    d = dispute(world, decided(world, deniers=("artist",))).json()
    artist = world["artist"]
    page = signed_in(artist).get(f"/p/{artist.party.pk}/reviews/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="dispute-{d["id"]}"' in html
    assert "A licence granted outside Consentry covers this use." in html
    assert 'value="uphold"' in html
    assert 'value="release"' in html
    french = signed_in(artist, french=True).get(f"/p/{artist.party.pk}/reviews/").content.decode()
    assert "Contestations de mes réponses" in french
    assert ">Lever<" in french
    # the label (which allowed) has nothing to answer, and cannot answer it from its own page
    label = world["label"]
    assert (
        f"dispute-{d['id']}"
        not in signed_in(label).get(f"/p/{label.party.pk}/reviews/").content.decode()
    )
    refused = signed_in(label).post(
        f"/p/{label.party.pk}/reviews/dispute/",
        {"dispute": d["id"], "answer": "release", "reason": "Mine now."},
    )
    assert refused.status_code == 404
    # nor can a rival artist through the artist's address
    rival = caller(PartyKind.ARTIST, name="Rival")
    assert (
        signed_in(rival)
        .post(f"/p/{artist.party.pk}/reviews/dispute/", {"dispute": d["id"], "answer": "release"})
        .status_code
        == 404
    )
    # without a reason, nothing is answered
    client = signed_in(artist)
    url = f"/p/{artist.party.pk}/reviews/dispute/"
    client.post(url, {"dispute": d["id"], "answer": "release", "reason": " "})
    assert Dispute.objects.get(pk=d["id"]).status == "open"
    answered = client.post(
        url, {"dispute": d["id"], "answer": "release", "reason": "Not my song."}, follow=True
    )
    assert "Answered: the licensee is told." in answered.content.decode()
    assert Dispute.objects.get(pk=d["id"]).status == "released"
    assert f"dispute-{d['id']}" not in answered.content.decode()
