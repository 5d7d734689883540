"""The demo that ``make run`` seeds: one party of each kind (two artists), each with a member
who can sign in to the pages with a password, an API token, the label's sample catalog and a
few consent rules, so a fresh instance shows the whole system at work. Every later capability
extends this demo.

Tokens and passwords are stored only as hashes. Their secrets are written once, at issue, to
the credentials file the caller names (``var/demo/credentials.json``, mode 0600) so that later
runs of the demo on the same machine can print them again; a production instance has no such
file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from governance import services
from governance.access import Actor
from governance.importing.run import import_catalog
from governance.models import ApiToken, ConsentRuleVersion, Party, PartyKind, Role
from governance.services import consent


@dataclass(frozen=True)
class DemoParty:
    key: str
    name: str
    kind: str
    username: str


DEMO_PARTIES = (
    DemoParty("label", "Northwind Records", PartyKind.LABEL, "northwind"),
    DemoParty("publisher", "Harbor Lane Music Publishing", PartyKind.PUBLISHER, "harborlane"),
    DemoParty("artist_ada", "Ada Vale", PartyKind.ARTIST, "ada"),
    DemoParty("artist_milo", "Milo Reyes", PartyKind.ARTIST, "milo"),
    DemoParty("licensee", "Sonora AI Labs", PartyKind.LICENSEE, "sonora"),
    DemoParty("auditor", "Clearview Audit", PartyKind.AUDITOR, "clearview"),
)
DEMO_TOKEN_NAME = "demo"  # noqa: S105 - a token's label, not a secret
OPERATOR_USERNAME = "operator"


@dataclass(frozen=True)
class DemoCredential:
    key: str
    party: str
    kind: str
    party_id: str
    username: str
    token: str
    password: str = ""
    """The member's password for the pages (sign-in at ``/``)."""


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _load(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@transaction.atomic
def demo_seed(*, credentials_file: Path, now: dt.datetime) -> tuple[list[DemoCredential], str]:
    """Create what is missing of the demo (idempotent) and return each party's credential and
    the operator's admin password. A token whose secret is not in the file, or no longer
    valid, is replaced by a new one."""
    saved = _load(credentials_file)
    saved_tokens = saved.get("tokens", {})
    assert isinstance(saved_tokens, dict)
    saved_passwords = saved.get("passwords", {})
    assert isinstance(saved_passwords, dict)
    User = get_user_model()
    out: list[DemoCredential] = []
    for spec in DEMO_PARTIES:
        party = Party.objects.filter(kind=spec.kind, name=spec.name, named_by__isnull=True).first()
        if party is None:
            party = services.party_create(name=spec.name, kind=spec.kind)
        user: AbstractBaseUser | None = User.objects.filter(username=spec.username).first()
        if user is None:
            user = services.user_create(username=spec.username)
        services.membership_add(party=party, user=user, role=Role.ADMIN)
        secret = saved_tokens.get(spec.key)
        if not (isinstance(secret, str) and _token_usable(secret, party)):
            ApiToken.objects.filter(party=party, name=DEMO_TOKEN_NAME, revoked=False).update(
                revoked=True
            )
            _, secret = services.token_create_for(
                party=party, user=user, name=DEMO_TOKEN_NAME, role=Role.ADMIN, expires_at=None
            )
        out.append(
            DemoCredential(
                key=spec.key,
                party=spec.name,
                kind=spec.kind,
                party_id=str(party.pk),
                username=spec.username,
                token=secret,
                password=_password_kept(user, saved_passwords.get(spec.key)),
            )
        )
    password = saved.get("operator_password")
    operator = User.objects.filter(username=OPERATOR_USERNAME).first()
    if operator is None or not isinstance(password, str) or not operator.check_password(password):
        password = secrets.token_urlsafe(12)
        if operator is None:
            operator = User.objects.create_superuser(OPERATOR_USERNAME, email="", password=password)
        else:
            operator.set_password(password)
            operator.save(update_fields=["password"])
    _demo_catalog_and_consent(now=now)
    _write_private(
        credentials_file,
        json.dumps(
            {
                "tokens": {c.key: c.token for c in out},
                "passwords": {c.key: c.password for c in out},
                "operator_password": password,
                "parties": [asdict(c) for c in out],
            },
            indent=2,
        ),
    )
    return out, password


SAMPLE_CATALOG = Path(__file__).resolve().parent.parent / "docs" / "samples" / "catalog-sample.csv"


def _actor(name: str, kind: str) -> Actor:
    party = Party.objects.get(kind=kind, name=name, named_by__isnull=True)
    membership = party.memberships.select_related("user").first()
    assert membership is not None
    return Actor(user=membership.user, party=party, role=membership.role)


def _demo_catalog_and_consent(*, now: dt.datetime) -> None:
    """The label's sample catalog (docs/samples/catalog-sample.csv: a composition, three
    recordings, their shares and release) and the demo's consent: Ada Vale allows ``train``
    to Sonora AI Labs only and refuses ``voice`` to everyone; Northwind allows ``analyze``
    to anyone on condition of attribution. Idempotent: re-imports change nothing, and rules
    are set only where their owner has none."""
    label = _actor("Northwind Records", PartyKind.LABEL)
    report = import_catalog(party=label.party, data=SAMPLE_CATALOG.read_bytes(), fmt="csv", now=now)
    if report.problems:
        raise RuntimeError(f"the demo catalog did not import: {report.problems[0]}")
    ada = _actor("Ada Vale", PartyKind.ARTIST)
    sonora = Party.objects.get(kind=PartyKind.LICENSEE, name="Sonora AI Labs", named_by=None)
    rules: list[tuple[Actor, dict[str, object]]] = [
        (ada, {"scope": "all_works", "uses": ["train"], "licensee_mode": "listed",
               "licensees": [str(sonora.pk)], "effect": "allow",
               "note": "Sonora AI Labs may train on my recordings."}),
        (ada, {"scope": "likeness", "uses": ["voice"], "effect": "deny",
               "note": "Nobody may clone my voice."}),
        (label, {"scope": "all_works", "uses": ["analyze"], "effect": "conditional",
                 "obligations": {"attribution": "Northwind Records"}}),
    ]  # fmt: skip
    for actor, data in rules:
        if not ConsentRuleVersion.objects.filter(
            rule__owner=actor.party, uses=data["uses"], scope=data["scope"]
        ).exists():
            consent.rule_create(actor=actor, data=data, now=now)


def _password_kept(user: AbstractBaseUser, saved: object) -> str:
    """``saved`` if it is still ``user``'s password, else a new one, set now."""
    if isinstance(saved, str) and saved and user.check_password(saved):
        return saved
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.save(update_fields=["password"])
    return password


def _token_usable(secret: str, party: Party) -> bool:
    try:
        token = ApiToken.objects.get_from_key(secret)
    except ApiToken.DoesNotExist:
        return False
    return isinstance(token, ApiToken) and token.party_id == party.pk and not token.has_expired
