"""The catalog: works (recordings and the compositions they embody), their credits, releases,
artists' likeness, and who holds which right where (rights shares)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from governance.models.identity import Party
from governance.terms import AI_DECLARATIONS, RIGHTS, TERRITORY_MODES


class WorkKind(models.TextChoices):
    RECORDING = "recording", "Recording (a sound recording, identified by ISRC)"
    COMPOSITION = "composition", "Composition (a musical work, identified by ISWC)"


class CreditRole(models.TextChoices):
    MAIN_ARTIST = "main_artist", "Main artist"
    FEATURED = "featured", "Featured artist"
    SONGWRITER = "songwriter", "Songwriter"
    COMPOSER = "composer", "Composer"
    PRODUCER = "producer", "Producer"


class Right(models.TextChoices):
    MASTER = "master", "Master (the sound recording)"
    PUBLISHING = "publishing", "Publishing (the composition)"
    PERFORMER = "performer", "Performer (a featured performer's participation)"
    LIKENESS = "likeness", "Likeness (an artist's voice, name and image)"


class AiDeclaration(models.TextChoices):
    GENERATED = "generated", "AI-generated (all of it made with generative AI)"
    ASSISTED = "assisted", "AI-assisted (part of it made with generative AI)"
    NONE = "none", "Made without generative AI"


class TerritoryMode(models.TextChoices):
    WORLDWIDE = "worldwide", "Worldwide"
    INCLUDE = "include", "Only the listed territories"
    EXCLUDE = "exclude", "Worldwide except the listed territories"


assert tuple(Right.values) == RIGHTS
assert tuple(TerritoryMode.values) == TERRITORY_MODES
assert tuple(AiDeclaration.values) == AI_DECLARATIONS


class Work(models.Model):
    """A recording or a composition. Identifiers are stored normalised (ISRC 12 characters,
    ISWC ``T`` and 10 digits) and are unique per kind."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=WorkKind.choices)
    title = models.CharField(max_length=500)
    display_artist = models.CharField(max_length=500, blank=True)
    composition = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="recordings",
        help_text="For a recording: the composition it embodies.",
    )  # fmt: skip
    isrc = models.CharField(max_length=12, null=True, blank=True, unique=True)
    iswc = models.CharField(max_length=11, null=True, blank=True, unique=True)
    declared_iswc = models.CharField(
        max_length=11, blank=True, default="", db_index=True,
        help_text="For a recording: the ISWC its own feed declared (ERN WorkId/ISWC); it is "
        "linked to that composition once the composition is registered (docs/catalog-works.md).",
    )  # fmt: skip
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    language = models.CharField(max_length=3, blank=True)
    release_date = models.DateField(null=True, blank=True)
    p_line = models.CharField(max_length=300, blank=True)
    p_year = models.PositiveSmallIntegerField(null=True, blank=True)
    languages = ArrayField(
        models.CharField(max_length=3), default=list, blank=True,
        help_text="Every language of performance, in order (``language`` is the first).",
    )  # fmt: skip
    genre = models.CharField(max_length=100, blank=True)
    parental_warning = models.CharField(
        max_length=40, blank=True, help_text="DDEX ParentalWarningType, e.g. NotExplicit."
    )
    ai_declaration = models.CharField(
        max_length=16, blank=True, choices=AiDeclaration.choices,
        help_text="What its label's feed declares of its making with generative AI (DDEX "
        "ContainsAI: All, Partly, None); blank when the feed says nothing.",
    )  # fmt: skip
    ai_parts = ArrayField(
        models.CharField(max_length=60), default=list, blank=True,
        help_text="The roles of the contributors the feed declares made with AI "
        "(DDEX AiContribution).",
    )  # fmt: skip
    ai_declared_in = ArrayField(
        models.CharField(max_length=40), default=list, blank=True,
        help_text="The feed's elements that made the declaration: ContainsAI, AiContribution "
        "(ERN 4.3.2) or Keywords (a free-form flag).",
    )  # fmt: skip
    registrant = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="registered_works")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["registrant", "title"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=WorkKind.values), name="work_kind_valid"
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="work_title_not_empty"),
            models.CheckConstraint(
                condition=models.Q(ai_declaration__in=["", *AiDeclaration.values]),
                name="work_ai_declaration_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="recording", iswc__isnull=True)
                | models.Q(kind="composition", isrc__isnull=True, composition__isnull=True),
                name="work_identifiers_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.kind})"


class Credit(models.Model):
    """A credited contributor of a work, in order. ``party`` links a registered party (an
    artist whose likeness and performer rights then follow the work)."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="credits")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300)
    role = models.CharField(max_length=16, choices=CreditRole.choices)
    party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="credits"
    )
    isni = models.CharField(max_length=16, blank=True)
    ipi = models.CharField(max_length=11, blank=True)

    class Meta:
        ordering = ["work", "position"]
        constraints = [
            models.UniqueConstraint(fields=["work", "position"], name="credit_position_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=CreditRole.values), name="credit_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


class Release(models.Model):
    """A product (album, single) identified by its UPC/EAN-13, with its tracks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    upc = models.CharField(max_length=13, unique=True)
    title = models.CharField(max_length=500)
    display_artist = models.CharField(max_length=500, blank=True)
    release_date = models.DateField(null=True, blank=True)
    catalog_number = models.CharField(max_length=100, blank=True)
    label_name = models.CharField(max_length=300, blank=True)
    c_line = models.CharField(max_length=300, blank=True)
    registrant = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="registered_releases"
    )
    tracks: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        Work, through="ReleaseTrack", related_name="releases"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.upc})"


class ReleaseTrack(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE)
    work = models.ForeignKey(Work, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["release", "position"]
        constraints = [
            models.UniqueConstraint(fields=["release", "work"], name="release_track_unique"),
        ]

    def __str__(self) -> str:
        return f"track {self.position} of release {self.release_id}"


class Likeness(models.Model):
    """An artist's likeness (voice, name, image). Only the artist party, through its members,
    can hold consent for it; no other party's rule can grant it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    artist = models.OneToOneField(Party, on_delete=models.PROTECT, related_name="likeness")
    aspects = ArrayField(models.CharField(max_length=8), default=list)
    aliases = ArrayField(
        models.CharField(max_length=300), default=list, blank=True,
        help_text="Other names the artist is known by (for matching 'in the style of ...').",
    )  # fmt: skip
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    LIKENESS_ASPECTS = ("voice", "name", "image")

    def __str__(self) -> str:
        return f"likeness of {self.artist.name}"


class ShareTerms(models.Model):
    """What a share (or a claim to one) says: which right, how much, where and when. Each
    concrete model states the database constraints on these under names of its own."""

    right = models.CharField(max_length=16, choices=Right.choices)
    share = models.DecimalField(
        max_digits=6, decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("100"))],
    )  # fmt: skip
    territory_mode = models.CharField(
        max_length=16, choices=TerritoryMode.choices, default=TerritoryMode.WORLDWIDE
    )
    territories = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="Exclusive.")

    class Meta:
        abstract = True


class RightsShare(ShareTerms):
    """Who holds which right of a work, how much, where and when. Shares of one right in one
    territory at one time never add up to more than 100 % (checked by the services)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.PROTECT, related_name="shares")
    holder = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="shares")
    controller_roles = ArrayField(
        models.CharField(max_length=60), default=list, blank=True,
        help_text="As a feed gave them: DDEX RightsControllerRole / RightsControlType.",
    )  # fmt: skip
    controller_type = models.CharField(
        max_length=60, blank=True, help_text="As a feed gave it: DDEX RightsControllerType."
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["work", "right", "holder", "id"]
        indexes = [models.Index(fields=["holder", "right"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(right__in=Right.values), name="share_right"),
            models.CheckConstraint(
                condition=models.Q(share__gt=0, share__lte=100), name="share_percent_range"
            ),
            models.CheckConstraint(
                condition=models.Q(territory_mode__in=TerritoryMode.values),
                name="share_territory_mode",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_from__lt=models.F("valid_until")),
                name="share_valid_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder} holds {self.share}% {self.right} of {self.work}"


class ClaimStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for the registrant or an operator)"
    ACCEPTED = "accepted", "Accepted (the claimed share was registered)"
    REJECTED = "rejected", "Rejected"


class RightsClaim(ShareTerms):
    """A party's claim to a share of a work's right that it was not given. It changes nothing
    until the work's registrant accepts it (which registers the share) or an operator rules on
    it. The ledger carries the claimed percentage, the statement and the reason only as salted
    commitments (``governance.ledgering.CONFIDENTIAL``), opened for the claimant, the
    registrant and auditors.

    ``decided_by_party`` is the registrant that decided; a decided claim without one was ruled
    on by an operator (``decided_by`` names the user in both cases)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.PROTECT, related_name="claims")
    claimant = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="rights_claims")
    statement = models.TextField(help_text="Why the claimant believes it holds the right.")
    status = models.CharField(
        max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.PENDING
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    granted_share = models.ForeignKey(
        RightsShare, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The share an accepted claim registered (null once removed).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["claimant", "status"]),
            models.Index(fields=["work", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(right__in=Right.values), name="claim_right"),
            models.CheckConstraint(
                condition=models.Q(status__in=ClaimStatus.values), name="claim_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(share__gt=0, share__lte=100), name="claim_percent_range"
            ),
            models.CheckConstraint(
                condition=models.Q(territory_mode__in=TerritoryMode.values),
                name="claim_territory_mode",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_from__lt=models.F("valid_until")),
                name="claim_valid_window",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_at__isnull=False)),
                name="claim_decided_when_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"claim by {self.claimant_id} to {self.share}% {self.right} of {self.work_id}"


class PartyClaim(models.Model):
    """An organisation's claim that an unclaimed party (a rights holder a label's feed named) is
    itself. It is filed only when the claimant's identifiers match the unclaimed party's
    (``governance.services.party_claims``) and changes nothing until the party that named it
    accepts, or an operator rules; acceptance moves the unclaimed party's shares to the
    claimant. Ledgered as ``party_claim`` and ``party_claim_decided``, the statement and reason
    as salted commitments."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="claims_on")
    claimant = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="party_claims")
    statement = models.TextField(help_text="Why the claimant says it is this party.")
    matched_on = ArrayField(
        models.CharField(max_length=8), default=list, blank=True,
        help_text="The identifiers that matched (isni, ipi, dpid), or name when none was given.",
    )  # fmt: skip
    status = models.CharField(
        max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.PENDING
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ClaimStatus.values), name="party_claim_status_valid"
            ),
            models.UniqueConstraint(
                fields=["party", "claimant"],
                condition=models.Q(status="pending"),
                name="party_claim_one_pending",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_at__isnull=False)),
                name="party_claim_decided_when_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"claim by {self.claimant_id} to be party {self.party_id}"
