"""``python -m ledger.verify --replay`` against the service over HTTP: it replays the decisions
of the log it verified, with the openings an auditor downloads (or a downloaded file), and
reports what ``manage.py replay_decisions`` reports from the database (issue 13 item 8)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections, connections
from django.utils import timezone

from governance import tasks
from governance.models import PartyKind, RightsShare
from governance.services import outbox
from ledger import services as ledger_services
from ledger.models import Entry, Opening
from ledger.verify import main
from tests.factories import Caller, caller
from tests.governance.test_replay import behind_the_ledgers_back, check, entry_index
from tests.world import rule

pytestmark = pytest.mark.django_db


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Served:
    """The service on a loopback port, answering on the test's own connection (inside its
    transaction, so it serves what the test wrote, rolled back afterwards like every test)."""

    def __init__(self) -> None:
        self._connection: Any = None
        self._server = make_server("127.0.0.1", 0, self._app, handler_class=_Quiet)
        self._handler = WSGIHandler()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # Requests whose response is not closed yet: Django's request_finished runs when the
        # server closes it, which can be after the client has read the whole body.
        self._open = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _app(self, environ: Any, start_response: Any) -> Any:
        connections["default"] = self._connection
        with self._idle:
            self._open += 1
        try:
            response = self._handler(environ, start_response)
        except BaseException:
            self._closed()
            raise
        return _Closing(response, self._closed)

    def _closed(self) -> None:
        with self._idle:
            self._open -= 1
            self._idle.notify_all()

    @contextlib.contextmanager
    def sharing(self) -> Iterator[None]:
        """While the verifier runs: the server uses this thread's connection, and, as Django's
        test client does, a request does not close it (which the test client's own requests
        undo: hence here, around each run)."""
        self._connection = connections["default"]
        self._connection.inc_thread_sharing()
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield
        finally:
            # The last response's close (request_finished) must run while the connection is
            # still shared and the signal still off: else it closes this thread's connection
            # from the server's thread, and wsgiref prints Django's thread-sharing error.
            with self._idle:
                assert self._idle.wait_for(lambda: self._open == 0, timeout=30)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
            self._connection.dec_thread_sharing()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(10)
        self._server.server_close()


class _Closing:
    """A WSGI response that calls ``then`` once the server has closed it."""

    def __init__(self, response: Any, then: Any) -> None:
        self._response, self._then = response, then

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            self._then()


@pytest.fixture
def served(db: None) -> Iterator[Served]:
    server = Served()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def auditor() -> Caller:
    return caller(PartyKind.AUDITOR)


def signed() -> str:
    """Sign a checkpoint over everything ledgered; the log's verifier key."""
    ledger_services.sequence_and_sign(now=timezone.now())
    return ledger_services.current_signer().verifier().key_string


def verify_replay(
    capsys: pytest.CaptureFixture[str], served: Served, vkey: str, *extra: str
) -> tuple[int, list[str], str]:
    """The verifier's exit status, its replay lines (after the log's summary), its stderr."""
    url = served.url
    with served.sharing():
        options = ["--quiet", "--workers", "1", "--samples", "2", "--replay"]
        status = main(["--url", url, "--vkey", vkey, *options, *extra])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    if "verified: " + url not in lines:
        return status, lines, err
    # The log's summary ends with its "consistency:" line (and "state:" with --state).
    after = next(i for i, line in enumerate(lines) if line.startswith("consistency: ")) + 1
    return status, lines[after:], err


def replay_decisions() -> tuple[int, list[str]]:
    """``manage.py replay_decisions``'s exit status and lines, checked to be the same in one
    process (``--workers 1``) and in two."""

    def run(workers: str) -> tuple[int, list[str]]:
        out = StringIO()
        try:
            call_command("replay_decisions", "--workers", workers, stdout=out, stderr=StringIO())
        except SystemExit as exc:
            return int(str(exc.code)), out.getvalue().splitlines()
        return 0, out.getvalue().splitlines()

    alone = run("1")
    assert run("2") == alone
    return alone


def confidential_world(world: dict[str, Any]) -> None:
    """A rule whose licensee list and note are commitments in the log, and shares whose
    percentages are: replay must open them to decide as the service did."""
    licensee = str(world["licensee"].party.pk)
    rule(
        world["label"], scope="all_works", uses=["analyze"], effect="allow",
        licensee_mode="listed", licensees=[licensee], note="Private.",
    )  # fmt: skip
    assert check(world) == "allow"


def test_replay_agrees_with_replay_decisions_on_a_log_with_confidential_fields(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    assert check(world) == "allow"
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, err = verify_replay(capsys, served, vkey)

    assert (status, lines) == (0, ["2 decisions replayed, 0 differ"]), err
    assert replay_decisions() == (0, lines)


def test_without_the_openings_the_committed_fields_cannot_be_vouched_for(
    world: dict[str, Any], served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    confidential_world(world)
    vkey = signed()
    empty = tmp_path / "openings.json"
    empty.write_text('{"entries": []}')
    index, _ = entry_index("consent_rule")

    status, lines, _ = verify_replay(capsys, served, vkey, "--openings", str(empty))

    assert status == 1
    assert f"entry {index} (consent_rule): no opening for the committed field 'licensees'" in (
        lines
    )


def test_a_decision_the_ledgered_state_does_not_give_is_reported_as_replay_decisions_does(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    # The master share moves to another party in the database, not through the services (so
    # not in the ledger): the next decision is taken from it, and its replay differs.
    RightsShare.objects.filter(right="master").update(holder=world["artist"].party)
    assert check(world) == "deny"
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, _ = verify_replay(capsys, served, vkey)

    assert status == 1
    assert len(lines) == 2
    assert "was deny, replays as allow" in lines[0]
    assert lines[1] == "2 decisions replayed, 1 differ"
    assert replay_decisions() == (1, lines)


def test_an_opening_that_does_not_match_its_commitment_is_reported_as_replay_decisions_does(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    vkey = signed()
    index, leaf = entry_index("rights_share", right="master")
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'share'",
        [b'"0.001"', leaf],
    )
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, _ = verify_replay(capsys, served, vkey)

    assert status == 1
    assert lines[0].startswith(
        f"entry {index} (rights_share): the opening of 'share' does not match its commitment"
    )
    assert replay_decisions() == (1, lines)


@pytest.mark.parametrize("edit", ["another trace", "the same trace in another form"])
def test_a_decisions_trace_edited_behind_the_ledgers_back_is_named_as_replay_decisions_does(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    edit: str,
) -> None:
    # The trace is not replayed, but its opening is checked all the same: the bundle's bytes,
    # as served, hashed against the commitment in the decision entry the verifier verified.
    # Bytes other than those committed do not match, even of the same value (the trace is not
    # read, so its bytes are not read as a value to hash in its RFC 8785 form).
    confidential_world(world)
    vkey = signed()
    index, leaf = entry_index("decision")
    stored = Opening.objects.get(leaf_hash=leaf, field="trace")
    value = b'{"trace_version":1,"works":[]}'
    if edit != "another trace":
        value = json.dumps(json.loads(bytes(stored.value)), indent=1).encode()
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'trace'",
        [value, leaf],
    )
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, _ = verify_replay(capsys, served, vkey)

    assert status == 1
    assert lines[0].startswith(
        f"entry {index} (decision): the opening of 'trace' does not match its commitment"
    )
    assert lines[-1] == "1 decisions replayed, 1 differ"
    assert replay_decisions() == (1, lines)


def test_a_downloaded_openings_file_replays_and_an_edit_in_it_is_named(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    confidential_world(world)
    vkey = signed()
    size = Entry.objects.count()
    answer = auditor.client.get(f"/api/v1/ledger/openings/?start=0&end={size}").json()
    downloaded = tmp_path / "openings.json"
    downloaded.write_text(json.dumps(answer))

    # No token: the file is all the verifier needs besides the public log.
    status, lines, err = verify_replay(capsys, served, vkey, "--openings", str(downloaded))
    assert (status, lines) == (0, ["1 decisions replayed, 0 differ"]), err

    index, _ = entry_index("consent_rule")
    for item in answer["entries"]:
        if item["index"] == index:
            for opening in item["openings"]:
                if opening["field"] == "licensees":
                    opening["value"] = [str(world["artist"].party.pk)]
    downloaded.write_text(json.dumps(answer))
    status, lines, _ = verify_replay(capsys, served, vkey, "--openings", str(downloaded))
    assert status == 1
    assert lines[0].startswith(
        f"entry {index} (consent_rule): the opening of 'licensees' does not match its commitment"
    )


def test_the_values_as_text_committed_replay_the_same_and_an_edit_in_one_is_named(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    vkey = signed()
    size = Entry.objects.count()
    url = f"/api/v1/ledger/openings/?start=0&end={size}"
    as_json = auditor.client.get(url).json()
    as_jcs = auditor.client.get(url + "&values=jcs").json()
    downloaded = tmp_path / "openings.json"

    # The same result from the values as JSON, as text, both, and fetched (values=jcs).
    results = []
    for answer in (as_json, as_jcs, merged(as_json, as_jcs)):
        downloaded.write_text(json.dumps(answer))
        results.append(verify_replay(capsys, served, vkey, "--openings", str(downloaded))[:2])
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    results.append(verify_replay(capsys, served, vkey)[:2])
    assert results == [(0, ["1 decisions replayed, 0 differ"])] * 4

    index, _ = entry_index("consent_rule")
    licensees = json.dumps([str(world["artist"].party.pk)], separators=(",", ":"))
    committed = opening_of(as_jcs, index, "licensees")["value_jcs"]
    # The same value in another form than RFC 8785's is that value (hashed in its RFC 8785
    # form, as a value given as JSON is); another value is named.
    for text, expected in ((json.dumps(json.loads(committed), indent=1), 0), (licensees, 1)):
        edited = json.loads(json.dumps(as_jcs))
        opening_of(edited, index, "licensees")["value_jcs"] = text
        downloaded.write_text(json.dumps(edited))
        status, lines, _ = verify_replay(capsys, served, vkey, "--openings", str(downloaded))
        assert status == expected
        if expected:
            assert lines[0].startswith(
                f"entry {index} (consent_rule): the opening of 'licensees' does not match its "
                "commitment"
            )

    # Both given, and not the same value: refused, naming the entry.
    both = merged(as_json, as_jcs)
    opening_of(both, index, "licensees")["value"] = json.loads(licensees)
    downloaded.write_text(json.dumps(both))
    status, _, err = verify_replay(capsys, served, vkey, "--openings", str(downloaded))
    assert status == 2
    assert f"entry {index}: the value and value_jcs of 'licensees' differ" in err


def opening_of(answer: dict[str, Any], index: int, field: str) -> dict[str, Any]:
    (item,) = [e for e in answer["entries"] if e["index"] == index]
    (opening,) = [o for o in item["openings"] if o["field"] == field]
    return opening  # type: ignore[no-any-return]


def merged(as_json: dict[str, Any], as_jcs: dict[str, Any]) -> dict[str, Any]:
    """The two answers in one: each opening with its value and its value_jcs."""
    both = json.loads(json.dumps(as_json))
    for item in both["entries"]:
        for o in item["openings"]:
            o["value_jcs"] = opening_of(as_jcs, item["index"], o["field"])["value_jcs"]
    return both


def test_without_an_auditors_token_the_openings_cannot_be_fetched(
    world: dict[str, Any], served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    confidential_world(world)
    vkey = signed()

    status, _, err = verify_replay(capsys, served, vkey)

    assert status == 2
    assert "/api/v1/ledger/openings/" in err


def test_decisions_on_an_artist_named_in_a_prompt_and_on_lyrics_replay_with_no_difference(
    world: dict[str, Any],
    served: Served,
    auditor: Caller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: the artist matched by name and the work matched by its lyrics are in the
    decisions' entries, with their likeness rules and the work's shares in the log before
    them: both replays decide them again as the service did, and a later change of the
    artist's rule does not change how the earlier decisions replay."""
    licensee = world["licensee"].client
    ada = world["artist"]
    rule(ada, scope="likeness", uses=["style"], effect="deny", licensee_mode="listed",
         licensees=[str(world["licensee"].party.pk)], note="Not for you.")  # fmt: skip

    def ask(use: str, item: dict[str, Any]) -> str:
        response = licensee.post("/api/v1/checks/", {"use": use, "item": item}, format="json")
        assert response.status_code == 200, response.json()
        return str(response.json()["outcome"])

    assert ask("style", {"text": "une chanson dans le style de Ada Vale"}) == "deny"
    assert ask("style", {"text": "in the style of Ada Vail"}) == "deny"
    assert ask("voice", {"text": "Ada Vale singing"}) == "deny"  # opt-in: no voice rule
    assert ask("style", {"text": "in the style of nobody at all"}) == "no_match"
    rule(ada, scope="likeness", uses=["voice"], effect="allow")
    assert ask("voice", {"text": "Ada Vale singing"}) == "allow"
    with mock.patch.object(outbox, "broker_send"):
        content = (
            world["label"]
            .client.post(
                f"/api/v1/works/{world['work']['id']}/content/",
                {"lyrics": "Northern lights above the bay\nWe sail at dawn and drift away"},
                format="multipart",
            )
            .json()
        )
    assert tasks.fingerprint_content.apply(args=[content["id"]]).get() == "completed"
    assert ask("lyrics", {"lyrics": "Northern lights above the bay\nWe sail at dawn"}) == "deny"
    # Training on the lyrics: the lyrics row (publishing), which the label allows.
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    assert ask("train", {"lyrics": "Northern lights above the bay\nWe sail at dawn"}) == "allow"
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, err = verify_replay(capsys, served, vkey)

    assert (status, lines) == (0, ["7 decisions replayed, 0 differ"]), err
    assert replay_decisions() == (0, lines)
