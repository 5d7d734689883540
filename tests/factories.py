from __future__ import annotations

from dataclasses import dataclass

import factory
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from governance.models import ApiToken, Membership, Party, PartyKind, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Party {n}")
    kind = PartyKind.LABEL

    @classmethod
    def _create(cls, model_class: type[Party], *args: object, **kwargs: object) -> Party:
        # Through the service, as in production: the party is ledgered (replay needs it) and an
        # artist gets its likeness.
        from governance.services import party_create

        party = party_create(name=str(kwargs.pop("name")), kind=str(kwargs.pop("kind")))
        for key, value in kwargs.items():
            setattr(party, key, value)
        if kwargs:
            party.save()
        return party


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    party = factory.SubFactory(PartyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


@dataclass
class Caller:
    """A party member calling the API with a token of their own."""

    party: Party
    token: ApiToken
    secret: str
    client: APIClient


def caller(kind: str = PartyKind.LABEL, role: str = Role.ADMIN, **party_kwargs: object) -> Caller:
    membership = MembershipFactory(
        party__kind=kind, role=role, **{f"party__{k}": v for k, v in party_kwargs.items()}
    )
    token, secret = ApiToken.objects.create_key(
        name="test", party=membership.party, user=membership.user, role=role
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return Caller(party=membership.party, token=token, secret=secret, client=client)
