"""Query filters (django-filter): a bad value is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from governance.models import Decision, RequestStatus, UseRequest
from governance.models.requests import OUTCOMES
from governance.terms import USES

KINDS = {"checks": ["check"], "requests": ["items", "manifest"]}
"""``?kind=``: synchronous checks, or requests (JSON items or a manifest)."""


class UseRequestFilter(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    use = django_filters.ChoiceFilter(choices=[(u, u) for u in USES])
    kind = django_filters.ChoiceFilter(
        choices=[(k, k) for k in KINDS],
        method="kind_filter",
        help_text="checks (synchronous checks) or requests (JSON items or a manifest).",
    )

    class Meta:
        model = UseRequest
        fields = ["status", "use", "kind"]

    def kind_filter(self, queryset: QuerySet[UseRequest], name: str, value: str) -> Any:
        return queryset.filter(kind__in=KINDS[value])


class ItemFilter(django_filters.FilterSet):  # type: ignore[misc]
    """A request's items by their outcome as it reads now (a settled review's, settled)."""

    outcome = django_filters.ChoiceFilter(
        choices=[(o, o) for o in OUTCOMES], method="outcome_filter"
    )

    class Meta:
        model = Decision
        fields = ["outcome"]

    def outcome_filter(self, queryset: QuerySet[Decision], name: str, value: str) -> Any:
        return queryset.filter(Q(settled_outcome=value) | Q(settled_outcome="", outcome=value))


def items_filtered(queryset: QuerySet[Decision], params: Any) -> QuerySet[Decision]:
    """``queryset`` filtered by ``params`` (``?outcome=``); a 400 naming a bad parameter."""
    filterset = ItemFilter(data=params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    filtered: QuerySet[Decision] = filterset.qs
    return filtered
