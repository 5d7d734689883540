"""POST /api/v1/imports: the job is stored with its file and an outbox row, sent to the broker
on commit (or by the relay after a broker outage), run by the task, and its progress and report
are read back; a file that cannot be read at all fails the job; the forbidden cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from config.celery import app as celery_app
from governance import tasks
from governance.models import ImportJob, Outbox, PartyKind, Work
from governance.services import outbox
from ledger.models import PendingEntry
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
        mock.patch.object(outbox, "broker_send") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = label.client.post(
            "/api/v1/imports/", {"file": upload("catalog.csv", SAMPLE.read_bytes())}
        )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert response.json()["format"] == "csv"
    send.assert_called_once_with("governance.run_import", [job_id])
    assert Outbox.objects.get(task="governance.run_import", args=[job_id]).dispatched_at
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
    job = label.client.post("/api/v1/imports/", {
        "file": upload("c.csv", data), "all_or_nothing": "true"}).json()  # fmt: skip
    tasks.run_import.apply(args=[job["id"]])
    body = label.client.get(f"/api/v1/imports/{job['id']}/").json()
    assert body["status"] == "failed"
    assert body["problem_count"] == 1
    assert body["problems"][0]["where"] == "line 3"
    assert not Work.objects.exists()
    # Without all_or_nothing the valid row is imported, and the job says a row was rejected.
    job = label.client.post("/api/v1/imports/", {"file": upload("c.csv", data)}).json()
    assert tasks.run_import.apply(args=[job["id"]]).get() == "succeeded_with_problems"
    body = label.client.get(f"/api/v1/imports/{job['id']}/").json()
    assert (body["status"], body["problem_count"]) == ("succeeded_with_problems", 1)
    assert list(Work.objects.values_list("isrc", flat=True)) == ["USRC17607839"]


def test_a_clean_ddex_album_through_the_api_succeeds_with_its_shares_shown() -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    sample = SAMPLE.parent / "ern-4.3-sample.xml"
    job = label.client.post(
        "/api/v1/imports/", {"file": upload("album.xml", sample.read_bytes())}
    ).json()
    assert tasks.run_import.apply(args=[job["id"]]).get() == "succeeded"
    body = label.client.get(f"/api/v1/imports/{job['id']}/").json()
    assert (body["status"], body["problems"], body["counts"]["shares_created"]) == (
        "succeeded", [], 5,
    )  # fmt: skip
    work = Work.objects.get(isrc="GBNWR2400003")
    shown = label.client.get(f"/api/v1/works/{work.pk}/").json()
    assert (shown["p_year"], shown["languages"], shown["genre"]) == (2023, ["ga"], "Folk")
    assert shown["parental_warning"] == "NotExplicit"
    shares = label.client.get("/api/v1/shares/", {"work": str(work.pk)}).json()["results"]
    assert {(s["holder_name"], s["controller_type"]) for s in shares} >= {
        ("Harbor Lane Music Publishing", "")
    }
    assert all(s["controller_roles"] == ["RightsController"] for s in shares)


def test_only_label_and_publisher_writers_import_and_jobs_are_private() -> None:
    for kind in (PartyKind.ARTIST, PartyKind.LICENSEE, PartyKind.AUDITOR):
        other = caller(kind)
        response = other.client.post("/api/v1/imports/", {"file": upload("c.csv", b"title\nA\n")})
        assert response.status_code == 403, kind
    label = caller(PartyKind.LABEL)
    job = label.client.post("/api/v1/imports/", {"file": upload("c.csv", b"title\nA\n")})
    rival = caller(PartyKind.LABEL)
    assert rival.client.get(f"/api/v1/imports/{job.json()['id']}/").status_code == 404
    assert ImportJob.objects.count() == 1


def test_an_import_without_a_file_is_a_400() -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/imports/", {})
    assert response.status_code == 400
    assert "file" in response.json()["fields"]


def broker_down(task: str, args: list[Any]) -> None:
    raise ConnectionRefusedError("broker down")


def test_an_import_submitted_while_the_broker_is_down_stays_queued_and_the_relay_delivers_it(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    label = caller(PartyKind.LABEL)
    PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    # Given a broker that is down when the import's transaction commits,
    with (
        mock.patch.object(outbox, "broker_send", broker_down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = label.client.post(
            "/api/v1/imports/", {"file": upload("catalog.csv", SAMPLE.read_bytes())}
        )
        assert response.status_code == 202, response.json()
        job_id = response.json()["id"]
        # the job stays queued with its undispatched outbox row, also through a relay pass.
        call_command("outbox_relay", "--once", "--older-than", "0")
    row = Outbox.objects.get(task="governance.run_import", args=[job_id])
    assert (row.dispatched_at, row.attempts) == (None, 2)
    assert label.client.get(f"/api/v1/imports/{job_id}/").json()["status"] == "queued"
    # When the broker is back, the relay delivers it once,
    delivered: list[tuple[str, list[Any]]] = []
    with mock.patch.object(
        outbox, "broker_send", lambda task, args: delivered.append((task, args))
    ):
        call_command("outbox_relay", "--once", "--older-than", "0")
        call_command("outbox_relay", "--once", "--older-than", "0")
    assert delivered == [("governance.run_import", [job_id])]
    row.refresh_from_db()
    assert row.dispatched_at is not None
    # and the worker that receives it runs the import to the end.
    for task, args in delivered:
        celery_app.tasks[task].apply(args=args).get()
    body = label.client.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "succeeded"
    assert body["counts"]["works_created"] == 4
    assert Work.objects.count() == 4


ERN = b'<NewReleaseMessage xmlns="http://ddex.net/xml/ern/43">'
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    + ERN + b"<x>&x;</x></NewReleaseMessage>"
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "where", "reason"),
    [
        ("bad.xml", ERN + b"\n<Release>\n</NewReleaseMessage>", "/ (line 3)",
         "not well-formed XML (line 3, column"),
        ("xxe.xml", XXE, "/", "document type declarations are refused"),
        ("latin1.csv", b"title\nCaf\xe9\n", "file", "not UTF-8 text (byte 9)"),
        ("latin1.xml", ERN + b"<T>Caf\xe9</T></NewReleaseMessage>", "/ (line 1)",
         "not well-formed XML"),
        ("big.csv", b"title\n" + b"x" * (50 * 1024 * 1024) + b"\n", "line 2",
         "a field is longer than 131,072 characters"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "file", "not UTF-8"),
        ("nul.csv", b"title\nA\x00B\n", "line 2", "a NUL byte: this is a binary file"),
        ("header.csv", b"isrc\nUSRC17607839\n", "line 1", "missing column 'title'"),
        ("empty.csv", b"title\n", "line 2", "no rows after the header"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_at_all_fails_the_import_with_the_reason(
    name: str, data: bytes, where: str, reason: str
) -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/imports/", {"file": upload(name, data)})
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    before = PendingEntry.objects.count()
    assert tasks.run_import.apply(args=[job_id]).get() == "failed"
    body = label.client.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "failed"
    assert body["error"].startswith(f"the file cannot be read: {where}: ")
    assert reason in body["error"]
    assert body["problem_count"] == 1
    assert body["problems"][0]["where"] == where
    assert reason in body["problems"][0]["reason"]
    assert body["finished_at"] is not None
    assert not Work.objects.exists()
    assert PendingEntry.objects.count() == before
    # A redelivery of the task leaves the failed job as it is.
    assert tasks.run_import.apply(args=[job_id]).get() == "failed"


def test_an_import_runs_on_the_clock_it_is_given() -> None:
    from governance.services.imports import import_run

    label = caller(PartyKind.LABEL)
    job_id = label.client.post(
        "/api/v1/imports/",
        {"file": upload("c.csv", b"kind,isrc,title\nrecording,USRC17607839,A\n")},
    ).json()["id"]
    at = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    job = import_run(job_id=job_id, now=at)
    assert job.status == "succeeded"
    assert job.started_at == at
    assert at <= job.finished_at < at + dt.timedelta(minutes=1)  # type: ignore[operator]
    # The ledger entries of what it imported carry that time too.
    entries = PendingEntry.objects.filter(kind="work")
    assert [e.created_at for e in entries] == [at]
