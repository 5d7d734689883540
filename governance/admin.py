from typing import Any

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from governance.models import ApiToken, Membership, Party, RightsClaim


class MembershipInline(admin.TabularInline[Membership, Party]):
    model = Membership
    extra = 0


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin[Party]):
    list_display = ["name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "party", "user", "role")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "role")  # type: ignore[assignment]


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
