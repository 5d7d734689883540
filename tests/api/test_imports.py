"""POST /api/v1/imports: the job is stored with its file, queued on commit, run by the task,
and its progress and report are read back; the forbidden cases."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance import tasks
from governance.models import ImportJob, PartyKind, Work
from tests.factories import PartyFactory, caller

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "catalog-sample.csv"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_an_import_is_queued_on_commit_and_its_report_is_read_back(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    label = caller(PartyKind.LABEL)
    PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    with (
        mock.patch.object(tasks.run_import, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = label.client.post(
            "/api/v1/imports/", {"file": upload("catalog.csv", SAMPLE.read_bytes())}
        )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert response.json()["format"] == "csv"
    delay.assert_called_once_with(job_id)
    assert tasks.run_import.apply(args=[job_id]).get() == "succeeded"
    body = label.client.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "succeeded"
    assert body["progress"] == 1.0
    assert body["counts"]["works_created"] == 4
    assert body["problems"] == []
    assert Work.objects.count() == 4
    # Running the task again (a redelivery) changes nothing.
    assert tasks.run_import.apply(args=[job_id]).get() == "succeeded"
    assert Work.objects.count() == 4


def test_rejected_rows_are_listed_and_all_or_nothing_fails_the_job() -> None:
    label = caller(PartyKind.LABEL)
    data = b"kind,isrc,title\nrecording,USRC17607839,Good\nrecording,NOPE,Bad\n"
    with mock.patch.object(tasks.run_import, "delay"):
        job = label.client.post("/api/v1/imports/", {
            "file": upload("c.csv", data), "all_or_nothing": "true"}).json()  # fmt: skip
    tasks.run_import.apply(args=[job["id"]])
    body = label.client.get(f"/api/v1/imports/{job['id']}/").json()
    assert body["status"] == "failed"
    assert body["problem_count"] == 1
    assert body["problems"][0]["where"] == "line 3"
    assert not Work.objects.exists()


def test_only_label_and_publisher_writers_import_and_jobs_are_private() -> None:
    for kind in (PartyKind.ARTIST, PartyKind.LICENSEE, PartyKind.AUDITOR):
        other = caller(kind)
        response = other.client.post("/api/v1/imports/", {"file": upload("c.csv", b"title\nA\n")})
        assert response.status_code == 403, kind
    label = caller(PartyKind.LABEL)
    with mock.patch.object(tasks.run_import, "delay"):
        job = label.client.post("/api/v1/imports/", {"file": upload("c.csv", b"title\nA\n")})
    rival = caller(PartyKind.LABEL)
    assert rival.client.get(f"/api/v1/imports/{job.json()['id']}/").status_code == 404
    assert ImportJob.objects.count() == 1


def test_an_import_without_a_file_is_a_400() -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/imports/", {})
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
