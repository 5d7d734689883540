"""Identity and access: parties (the organisations that use Consentry), their members with
roles, and API tokens for machine clients."""

from __future__ import annotations

import functools
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection, models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class PartyKind(models.TextChoices):
    LABEL = "label", "Label"
    PUBLISHER = "publisher", "Publisher"
    ARTIST = "artist", "Artist"
    LICENSEE = "licensee", "Licensee (AI developer)"
    AUDITOR = "auditor", "Auditor"


class Posture(models.TextChoices):
    """A party's consent when none of its rules answers (DESIGN.md, Decision semantics)."""

    OPT_IN = "opt_in", "Opt-in: no consent on record means deny"
    OPT_OUT = "opt_out", "Opt-out: allowed unless reserved"


class Role(models.TextChoices):
    """What a member may do for a party, in increasing order of power."""

    VIEWER = "viewer", "Viewer"  # reads what the party may read
    EDITOR = "editor", "Editor"  # also changes the party's own data
    ADMIN = "admin", "Admin"  # also manages members and API tokens

    @classmethod
    def rank(cls, role: str) -> int:
        return [cls.VIEWER, cls.EDITOR, cls.ADMIN].index(cls(role))

    @classmethod
    def weaker(cls, a: str, b: str) -> str:
        """The less powerful of two roles."""
        return a if cls.rank(a) <= cls.rank(b) else b


class Party(models.Model):
    """An organisation or person that acts in Consentry: a label, a publisher, an artist, a
    licensee (an AI developer) or an auditor.

    An **unclaimed** party (``named_by`` set, ``claimed_by`` not) is a rights holder that a
    label's catalog feed named (a DDEX rights controller) and that has not joined: it holds its
    shares, has no members, tokens or rules, so decisions give it its default posture (opt-in:
    no consent on record). It belongs to the feed's party alone (another feed never reuses it)
    and is not unique by name or identifier, so it can neither block nor impersonate a real
    party. The real organisation claims it (``governance.services.party_claims``); once the
    claim is accepted ``claimed_by`` names it and the shares are its own."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=PartyKind.choices)
    name = models.CharField(max_length=200)
    default_posture = models.CharField(
        max_length=8, choices=Posture.choices, default=Posture.OPT_IN,
        help_text="What the party's consent is when none of its rules answers.",
    )  # fmt: skip
    # Null, not "": the unique constraints below leave many parties without one.
    isni = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    ipi = models.CharField(max_length=11, null=True, blank=True)  # noqa: DJ001
    dpid = models.CharField(  # noqa: DJ001
        max_length=32, null=True, blank=True, help_text="DDEX Party ID (PADPIDA...)."
    )
    named_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="named_parties",
        help_text="For an unclaimed party: the party whose catalog feed named it.",
    )  # fmt: skip
    claimed_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="claimed_parties",
        help_text="For a party named by a feed: the party that claimed it (its shares moved).",
    )  # fmt: skip
    version = models.PositiveIntegerField(default=1)
    callback_secret = models.CharField(
        max_length=64, blank=True,
        help_text="HMAC-SHA256 key that signs this licensee's callbacks (made on first use).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="parties"
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "parties"
        constraints = [
            # Only parties that joined are unique: an unclaimed one never blocks a real one.
            models.UniqueConstraint(
                fields=["kind", "name"],
                condition=models.Q(named_by__isnull=True),
                name="party_kind_name_unique",
            ),
            models.UniqueConstraint(
                fields=["isni"],
                condition=models.Q(named_by__isnull=True),
                name="party_isni_unique",
            ),
            models.UniqueConstraint(
                fields=["ipi"], condition=models.Q(named_by__isnull=True), name="party_ipi_unique"
            ),
            models.UniqueConstraint(
                fields=["dpid"],
                condition=models.Q(named_by__isnull=True),
                name="party_dpid_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(claimed_by__isnull=True) | models.Q(named_by__isnull=False),
                name="party_claimed_only_if_named",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=PartyKind.values), name="party_kind_valid"
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="party_name_not_empty"),
            models.CheckConstraint(
                condition=models.Q(default_posture__in=Posture.values), name="party_posture_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def unclaimed(self) -> bool:
        """Named by a feed and not (yet) claimed by the organisation."""
        return self.named_by_id is not None and self.claimed_by_id is None


class Membership(models.Model):
    """A user's membership of a party, with the role that bounds what they may do for it."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.party} as {self.role}"


class ApiTokenManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet[ApiToken]:
        # Authentication needs the party and user of the token: one query, not three.
        return super().get_usable_keys().select_related("party", "user")

    def get_from_key(self, key: str) -> ApiToken:
        """The usable token ``key`` names, with its user, party and its member's current role,
        or ``DoesNotExist``.

        Every API request asks this, so it is one hand-written query (the same one the
        library's ``get_usable_keys().get(prefix=...)`` makes, with the joins): building it
        through the ORM cost several times the database's work. The secret is still checked
        by the library's hasher; a revoked token is refused at once.

        The token acts for a member, so the query also reads that member's membership of the
        token's party, as it is now (a LEFT JOIN: the same round trip):
        1. no membership any more (the member was removed): ``DoesNotExist``, so 401;
        2. otherwise ``member_role`` is the member's current role, and the token acts with
           :attr:`ApiToken.effective_role`, the lower of that and its own role, so demoting a
           member demotes its tokens at its next request."""
        from django.contrib.auth import get_user_model

        prefix, _, _ = key.partition(".")
        models_ = (self.model, get_user_model(), Party)
        with connection.cursor() as cursor:
            cursor.execute(_token_sql(), [prefix])
            row = cursor.fetchone()
        if row is None:
            raise self.model.DoesNotExist("No usable key with this prefix.")
        objects: list[Any] = []
        at = 0
        for model in models_:
            fields = model._meta.concrete_fields
            values = row[at : at + len(fields)]
            objects.append(model.from_db(self.db, [f.attname for f in fields], values))
            at += len(fields)
        token: ApiToken
        token, user, party = objects
        token.user, token.party = user, party
        token.member_role = row[at]
        if not token.is_valid(key):
            raise self.model.DoesNotExist("Key is not valid.")
        # Step 1 above: a token whose member left the party is no credential.
        if token.member_role is None:
            raise self.model.DoesNotExist("The token's member no longer belongs to its party.")
        return token


@functools.cache
def _token_sql() -> str:
    from django.contrib.auth import get_user_model

    def columns(model: type[models.Model], alias: str) -> list[str]:
        return [
            f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields
        ]

    t, u, p, m = ApiToken, get_user_model(), Party, Membership
    selected = [*columns(t, "t"), *columns(u, "u"), *columns(p, "p"), "m.role"]
    return (
        f"SELECT {', '.join(selected)}"  # noqa: S608 - names from the models
        f" FROM {t._meta.db_table} t JOIN {u._meta.db_table} u ON u.id = t.user_id"
        f" JOIN {p._meta.db_table} p ON p.id = t.party_id"
        f" LEFT JOIN {m._meta.db_table} m ON m.party_id = t.party_id AND m.user_id = t.user_id"
        " WHERE t.prefix = %s AND NOT t.revoked"
    )


class ApiToken(AbstractAPIKey):
    """A machine client's credential, acting for one party as one member with a role no higher
    than that member's. Only a SHA-512 hash of the secret is stored (djangorestframework-api-key);
    the secret is shown once, at issue. The public ``prefix`` identifies the token."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[ApiTokenManager] = ApiTokenManager()

    # The member's role in the token's party when the token was read for a request (set by
    # ``ApiTokenManager.get_from_key``; not a column). None: not read that way.
    member_role: str | None = None

    @property
    def effective_role(self) -> str:
        """What the token may do now: the lower of its own role and its member's current one
        (its own alone when the membership was not read with it)."""
        if self.member_role is None:
            return self.role
        return Role.weaker(self.role, self.member_role)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="api_token_role_valid"
            ),
        ]
