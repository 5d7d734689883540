from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from governance.models import ApiToken, Membership, Party


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
