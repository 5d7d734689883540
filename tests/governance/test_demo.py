from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.demo import DEMO_PARTIES, demo_seed
from governance.models import ApiToken, ConsentRuleVersion, Party, PartyKind, Work

pytestmark = pytest.mark.django_db


def test_the_demo_has_one_party_of_each_kind_and_two_artists(tmp_path: Path) -> None:
    creds, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    kinds = sorted(c.kind for c in creds)
    assert kinds == sorted(["label", "publisher", "artist", "artist", "licensee", "auditor"])
    assert Party.objects.count() == len(DEMO_PARTIES)


def test_each_demo_token_acts_for_its_party(tmp_path: Path) -> None:
    creds, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    for c in creds:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {c.token}")
        assert client.get("/api/v1/me/").json()["party"]["id"] == c.party_id


def test_seeding_twice_reuses_the_data_and_the_tokens(tmp_path: Path) -> None:
    file = tmp_path / "c.json"
    first, password = demo_seed(credentials_file=file, now=timezone.now())
    second, password2 = demo_seed(credentials_file=file, now=timezone.now())
    assert first == second
    assert password == password2
    assert Party.objects.count() == len(DEMO_PARTIES)
    assert ApiToken.objects.filter(revoked=False).count() == len(DEMO_PARTIES)
    assert file.stat().st_mode & 0o777 == 0o600
    assert json.loads(file.read_text())["tokens"]["label"] == first[0].token


def test_a_lost_credentials_file_gets_new_tokens_and_revokes_the_old(tmp_path: Path) -> None:
    first, _ = demo_seed(credentials_file=tmp_path / "a.json", now=timezone.now())
    second, _ = demo_seed(credentials_file=tmp_path / "b.json", now=timezone.now())
    assert {c.token for c in first}.isdisjoint({c.token for c in second})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {first[0].token}")
    assert client.get("/api/v1/me/").status_code == 401
    assert Party.objects.filter(kind=PartyKind.ARTIST).count() == 2


def test_the_demo_seeds_a_catalog_and_consent_once(tmp_path: Path) -> None:
    demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    works, rules = Work.objects.count(), ConsentRuleVersion.objects.count()
    assert works == 4
    assert rules == 3
    demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    assert (Work.objects.count(), ConsentRuleVersion.objects.count()) == (works, rules)
    ada = Party.objects.get(name="Ada Vale")
    effects = ConsentRuleVersion.objects.filter(rule__owner=ada).values_list("effect", flat=True)
    assert set(effects) == {"allow", "deny"}


def test_each_demo_member_signs_in_to_the_pages_with_the_kept_password(tmp_path: Path) -> None:
    from django.test import Client

    file = tmp_path / "c.json"
    creds, _ = demo_seed(credentials_file=file, now=timezone.now())
    kept = json.loads(file.read_text())["passwords"]
    for c in creds:
        assert kept[c.key] == c.password
        assert Client().login(username=c.username, password=c.password), c.username
