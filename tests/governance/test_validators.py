"""One set of rules for a work's fields: the API, the CSV importer and the DDEX importer give
the same verdict on the same work (governance/validators.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from governance.importing.run import import_catalog
from governance.models import PartyKind, Work
from tests.factories import PartyFactory, caller

ISRC = "USRC17607839"
ISWC = "T0345246801"

# (the work as the API takes it, the field the verdict names or None when the work is valid)
CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"kind": "recording", "title": "A", "isrc": ISRC}, None),
    ({"kind": "composition", "title": "A", "iswc": ISWC}, None),
    ({"kind": "recording", "title": "A"}, "isrc"),  # the API used to take this
    ({"kind": "composition", "title": "A"}, "iswc"),
    ({"kind": "recording", "title": "A", "isrc": ISRC, "iswc": ISWC}, "iswc"),
    ({"kind": "composition", "title": "A", "iswc": ISWC, "isrc": ISRC}, "isrc"),
    ({"kind": "recording", "title": "A", "isrc": "USRC1760783"}, "isrc"),
    ({"kind": "recording", "title": "  ", "isrc": ISRC}, "title"),
    ({"kind": "video", "title": "A", "isrc": ISRC}, "kind"),
    ({"kind": "recording", "title": "A", "isrc": ISRC, "language": "xx-nope"}, "language"),
    ({"kind": "recording", "title": "A", "isrc": ISRC, "duration_ms": 86_400_000}, "duration_ms"),
]

CSV_HEADER = "kind,isrc,iswc,title,language,duration\n"


def _csv_row(work: dict[str, Any]) -> str:
    duration = work.get("duration_ms")
    seconds = "" if duration is None else str(duration // 1000)
    return ",".join([
        work["kind"], work.get("isrc", ""), work.get("iswc", ""), work["title"],
        work.get("language", ""), seconds,
    ]) + "\n"  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("work", "field"), CASES)
def test_the_api_and_the_csv_import_agree(work: dict[str, Any], field: str | None) -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/works/", work, format="json")
    if field is None:
        assert response.status_code == 201, response.json()
    else:
        assert response.status_code == 400, response.json()
        assert field in response.json()["fields"], response.json()
    Work.objects.all().delete()

    importer = PartyFactory(kind=PartyKind.LABEL)
    report = import_catalog(
        party=importer, data=(CSV_HEADER + _csv_row(work)).encode(), fmt="csv",
        now=timezone.now(),
    )  # fmt: skip
    if field is None:
        assert not report.problems, report.problems
        assert Work.objects.count() == 1
    else:
        (problem,) = report.problems
        assert problem.where == "line 2"
        csv_field = "duration" if field == "duration_ms" else field
        assert csv_field in problem.reason, problem.reason
        assert not Work.objects.exists()


SHARE_CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"right": "master", "share": "50"}, None),
    ({"right": "master", "share": "100", "territories": "-US,-CA"}, None),
    ({"right": "sync", "share": "50"}, "right"),
    ({"right": "master", "share": "140"}, "share"),
    ({"right": "master", "share": "0"}, "share"),
    ({"right": "master", "share": "33.3333"}, "share"),
    ({"right": "master", "share": "50", "territories": "QQ"}, "territories"),
    ({"right": "master", "share": "50", "valid_from": "2030-01-01", "valid_until": "2029-01-01"},
     "valid_until"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("share", "field"), SHARE_CASES)
def test_shares_get_the_same_verdict_from_the_api_and_the_csv_import(
    share: dict[str, Any], field: str | None
) -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post(
        "/api/v1/works/", {"kind": "recording", "title": "A", "isrc": ISRC}, format="json"
    ).json()
    body = {"work": work["id"], "holder": str(label.party.pk), **share}
    if "territories" in share:  # the API takes a list, a CSV cell a comma-separated string
        body["territories"] = share["territories"].split(",")
    response = label.client.post("/api/v1/shares/", body, format="json")
    if field is None:
        assert response.status_code == 201, response.json()
    else:
        assert response.status_code == 400, response.json()
        assert field in response.json()["fields"], response.json()

    importer = PartyFactory(kind=PartyKind.LABEL)
    columns = ["right", "share", "territories", "valid_from", "valid_until"]
    data = "kind,isrc,title," + ",".join(columns) + "\n" + "recording,USRC17607840,B," + ",".join(
        f'"{share.get(c, "")}"' for c in columns
    ) + "\n"  # fmt: skip
    report = import_catalog(party=importer, data=data.encode(), fmt="csv", now=timezone.now())
    if field is None:
        assert not report.problems, report.problems
    else:
        (problem,) = report.problems
        assert problem.where == "line 2"
        assert problem.reason.startswith(f"{field}: "), problem.reason
