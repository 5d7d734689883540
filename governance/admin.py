"""The operator's admin. Ledgered state changes here only through the services that ledger it,
as through the API and the commands: a party is added with ``party_create`` (its ``party``
entry, and an artist's ``likeness``), and whatever has no service behind an admin form is shown
read-only, with where to change it. Nothing here calls a ledgered model's bare ``save()`` or
``delete()``; tests/governance/test_admin_ledgered.py walks every admin page of a ledgered
model to keep it so."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from governance.models import ApiToken, Membership, Party, RightsClaim, WorkContent
from governance.services import identity

LEDGERED_READ_ONLY = (
    "Ledgered: changed only through the API or a manage.py command, which append the change "
    "to the ledger (decisions are replayed from it)."
)


class MembershipInline(admin.TabularInline[Membership, Party]):
    """Members are not ledgered, but change through the same services as elsewhere: removing
    one revokes their tokens for the party (``membership_remove``)."""

    model = Membership
    extra = 0
    fields = ["user", "role"]


class PartyAddForm(forms.ModelForm[Party]):
    class Meta:
        model = Party
        fields = ["name", "kind"]


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin[Party]):
    """Adds a party through ``party_create`` (ledgered); an existing party's ledgered fields
    are read-only here (its posture is set by its admins: ``PUT /api/v1/consent/posture/``), and
    a party is never deleted (the ledger and its decisions name it). Its members are managed
    here, through ``membership_add`` and ``membership_remove``. The callback secret is not
    shown."""

    list_display = ["name", "kind", "default_posture", "version", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    ledgered = ("name", "kind", "default_posture", "isni", "ipi", "version")
    fieldsets = [(None, {"fields": ledgered, "description": LEDGERED_READ_ONLY})]

    def get_form(
        self, request: HttpRequest, obj: Party | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = PartyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Party | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["name", "kind"]})]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Party | None = None) -> Any:
        return [] if obj is None else self.ledgered

    def has_delete_permission(self, request: HttpRequest, obj: Party | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Party, form: Any, change: bool) -> None:
        if change:
            return  # every field of a stored party is read-only here
        party = identity.party_create(name=obj.name, kind=obj.kind)
        # The admin goes on with its own instance (the inlines' owner, the log entry's object).
        for field in Party._meta.concrete_fields:
            setattr(obj, field.attname, getattr(party, field.attname))
        obj._state.adding, obj._state.db = False, party._state.db

    def save_formset(
        self,
        request: HttpRequest,
        form: Any,
        formset: BaseInlineFormSet[Any, Any, Any],
        change: bool,
    ) -> None:
        if formset.model is not Membership:
            raise NotImplementedError(f"no service saves {formset.model.__name__} here")
        party = form.instance
        # What the admin's history message lists (a formset's own save() would set them).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for member in formset.deleted_forms:
            if member.instance.pk is not None:
                identity.membership_remove(party=party, user=member.instance.user)
                formset.deleted_objects.append(member.instance)
        for member in formset.forms:
            if member in formset.deleted_forms or not member.has_changed():
                continue
            data = member.cleaned_data
            saved = identity.membership_add(party=party, user=data["user"], role=data["role"])
            if member.instance.pk is None:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, member.changed_data))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Party]) -> None:
        messages.error(request, "A party is never deleted: the ledger names it.")


class ApiTokenForm(forms.ModelForm[ApiToken]):
    """Issuing a token here obeys the rules of ``token_create_for`` (the user is a member of the
    party, with a role at least the token's), checked when the form is validated so a refusal
    is shown on the form and nothing is saved."""

    class Meta:
        model = ApiToken
        fields = ["name", "party", "user", "role", "expiry_date", "revoked"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance._state.adding and data.get("party") and data.get("user"):
            problem = identity.token_issue_problem(
                party=data["party"], user=data["user"], role=str(data.get("role") or "")
            )
            if problem is not None:
                field, reason = problem
                self.add_error(field if field in self.fields else None, reason)
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(APIKeyModelAdmin):
    """Tokens are issued through ``token_create_for`` (membership and role checked); once
    issued, a token's party, user and role never change (revoke it and issue another)."""

    form = ApiTokenForm
    list_display = (*APIKeyModelAdmin.list_display, "party", "user", "role")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "role")  # type: ignore[assignment]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if obj is None else (*fields, "party", "user", "role")

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any = None, change: bool = False
    ) -> None:
        if change:
            obj.save()  # name, expiry and revocation only: party, user and role are read-only
            return
        token, secret = identity.token_create_for(
            party=obj.party, user=obj.user, name=obj.name, role=obj.role,
            expires_at=obj.expiry_date,
        )  # fmt: skip
        obj.pk, obj.prefix, obj.hashed_key = token.pk, token.prefix, token.hashed_key
        obj.created = token.created
        messages.warning(
            request,
            f"The API key for {token.name} is: {secret}. Please store it somewhere safe: "
            "you will not be able to see it again.",
        )


@admin.register(RightsClaim)
class RightsClaimAdmin(admin.ModelAdmin[RightsClaim]):
    """Read-only: an operator rules on a claim with ``manage.py claim_rule`` (ledgered), never
    by editing its row."""

    list_display = ["id", "work", "claimant", "right", "status", "created_at", "decided_at"]
    list_filter = ["status", "right"]
    search_fields = ["work__title", "claimant__name"]
    readonly_fields = [f.name for f in RightsClaim._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(WorkContent)
class WorkContentAdmin(admin.ModelAdmin[WorkContent]):
    """Read-only: content is handed in through the API or ``manage.py import_content``, whose
    job ledgers it (``work_content``); its bytes are never kept, so none are shown."""

    list_display = ["id", "work", "status", "error", "model_version", "vector_count",
                    "created_at", "completed_at"]  # fmt: skip
    list_filter = ["status", "error", "model_version"]
    search_fields = ["work__title", "work__isrc", "sha256"]
    readonly_fields = [f.name for f in WorkContent._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
