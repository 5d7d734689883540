from __future__ import annotations

from dataclasses import dataclass

import factory
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from governance.models import ApiToken, Likeness, Membership, Party, PartyKind, Role


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

    @factory.post_generation
    def likeness(self, create: bool, extracted: object, **kwargs: object) -> None:
        # As governance.services.party_create does: every artist has its likeness.
        if create and self.kind == PartyKind.ARTIST:
            Likeness.objects.get_or_create(
                artist=self, defaults={"aspects": ["voice", "name", "image"]}
            )


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
