"""Consent: rules as immutable versions, and the consent matrix as versioned data.

A rule's identity (:class:`ConsentRule`) carries its owner and whether it was withdrawn; what
it says lives in :class:`ConsentRuleVersion` rows that are never edited, except that the
moment a version stops being in force (``effective_until``) is set once, when a newer version
replaces it or the rule is withdrawn. ``?at=`` reads pick the version in force then.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from governance.models.catalog import TerritoryMode
from governance.models.identity import Party
from governance.terms import AI_CONDITIONS, COMMERCIAL, EFFECTS, LICENSEE_MODES, SCOPES


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


class ConsentRule(models.Model):
    """A rule's identity: its owner, its latest version, and its withdrawal if any."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="consent_rules")
    current_version = models.PositiveIntegerField(default=1)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Who withdrew the rule (its versions name their authors).",
    )  # fmt: skip
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["owner", "created_at", "id"]

    def __str__(self) -> str:
        return f"rule {self.id} of {self.owner}"


class ConsentRuleVersion(models.Model):
    """What a rule says, as of one version (DESIGN.md, Decision semantics)."""

    rule = models.ForeignKey(ConsentRule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=16, choices=_choices(SCOPES))
    scope_works = ArrayField(models.UUIDField(), default=list, blank=True)
    scope_artist = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uses = ArrayField(models.CharField(max_length=16))
    licensee_mode = models.CharField(max_length=8, choices=_choices(LICENSEE_MODES))
    licensees = ArrayField(models.UUIDField(), default=list, blank=True)
    territory_mode = models.CharField(max_length=16, choices=TerritoryMode.choices)
    territories = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    commercial = models.CharField(max_length=16, choices=_choices(COMMERCIAL))
    effect = models.CharField(max_length=16, choices=_choices(EFFECTS))
    obligations = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    ai_declarations = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text="Only the works whose AI declaration is one of these (generated, assisted, "
        "none, undeclared); empty: every work.",
    )  # fmt: skip
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["rule", "version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique"),
            models.CheckConstraint(condition=models.Q(scope__in=SCOPES), name="rule_scope"),
            models.CheckConstraint(condition=models.Q(effect__in=EFFECTS), name="rule_effect"),
            models.CheckConstraint(
                condition=models.Q(licensee_mode__in=LICENSEE_MODES), name="rule_licensee_mode"
            ),
            models.CheckConstraint(
                condition=models.Q(commercial__in=COMMERCIAL), name="rule_commercial"
            ),
            models.CheckConstraint(
                condition=models.Q(ai_declarations__contained_by=list(AI_CONDITIONS)),
                name="rule_ai_declarations",
            ),
            models.CheckConstraint(
                condition=models.Q(window_start__isnull=True)
                | models.Q(window_end__isnull=True)
                | models.Q(window_start__lt=models.F("window_end")),
                name="rule_window",
            ),
        ]
        indexes = [models.Index(fields=["effective_from", "effective_until"])]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}: {self.effect} {','.join(self.uses)}"


class ConsentMatrixVersion(models.Model):
    """Which rights must consent to which use, as data (DESIGN.md, Vocabulary). Staff make a
    new version; the newest version whose ``effective_from`` has passed is in force."""

    version = models.PositiveIntegerField(unique=True)
    matrix = models.JSONField(help_text='{"<use>": ["<right>", ...], ...} for every use.')
    effective_from = models.DateTimeField()
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["version"]

    def __str__(self) -> str:
        return f"consent matrix v{self.version}"
