"""Searching the catalog: the filters of ``GET /api/v1/works/``, shared by the API and the
pages (the label's catalog search), so both find the same works for the same query."""

from __future__ import annotations

from typing import Any

import django_filters

from governance.models import Work, WorkKind


def _compact(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum()).upper()


class WorkFilter(django_filters.FilterSet):  # type: ignore[misc]
    """``kind``; ``title`` and ``display_artist`` (contained, any case); ``isrc``, ``iswc``
    (exact, written any way: ``GB-NWR-23-00001`` finds ``GBNWR2300001``); ``upc`` (the tracks
    of the release with that UPC or EAN-13); ``registrant``; ``composition``."""

    kind = django_filters.ChoiceFilter(choices=WorkKind.choices)
    title = django_filters.CharFilter(lookup_expr="icontains")
    display_artist = django_filters.CharFilter(lookup_expr="icontains")
    isrc = django_filters.CharFilter(method="_upper")
    iswc = django_filters.CharFilter(method="_upper")
    upc = django_filters.CharFilter(method="_upc")
    registrant = django_filters.UUIDFilter(field_name="registrant_id")
    composition = django_filters.UUIDFilter(field_name="composition_id")

    class Meta:
        model = Work
        fields = ["kind", "title", "display_artist", "isrc", "iswc", "upc", "registrant",
                  "composition"]  # fmt: skip

    def _upper(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(**{name: _compact(value)})

    def _upc(self, queryset: Any, name: str, value: str) -> Any:
        # A UPC-A (12 digits) is stored as its EAN-13, with a leading 0.
        return queryset.filter(releases__upc=_compact(value).zfill(13))
