"""Synchronous checks decided a batch at a time: the group commit (threads, no database), a
batch of checks in one transaction, and concurrent checks through real threads and commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from governance.access import Actor
from governance.models import Decision, RequestItem, UseRequest
from governance.services import checks
from governance.services.request_specs import item_spec, request_spec
from ledger.models import PendingEntry
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class Recorder:
    """A ``run`` for GroupCommit that records its batches; the first one waits for ``release``."""

    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_first = fail_first

    def __call__(self, jobs: Sequence[int]) -> list[str]:
        self.batches.append(list(jobs))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(10)
            if self.fail_first:
                raise RuntimeError("the first batch failed")
        return [f"result {j}" for j in jobs]


def submit_all(group: checks.GroupCommit[int, str], jobs: range) -> dict[int, Any]:
    out: dict[int, Any] = {}

    def one(job: int) -> None:
        try:
            out[job] = group.submit(job)
        except Exception as exc:
            out[job] = exc

    threads = [threading.Thread(target=one, args=(j,)) for j in jobs]
    out["threads"] = threads  # the results arrive in this same dict
    for t in threads:
        t.start()
    return out


def test_jobs_that_arrive_during_a_batch_go_together_in_the_next() -> None:
    run = Recorder()
    group: checks.GroupCommit[int, str] = checks.GroupCommit(run)
    first = submit_all(group, range(1))
    assert run.started.wait(10)
    rest = submit_all(group, range(1, 8))
    wait_until(lambda: len(group._queue) == 7)
    run.release.set()
    for t in first["threads"] + rest["threads"]:
        t.join(10)
    assert run.batches[0] == [0]
    assert sorted(run.batches[1]) == list(range(1, 8))
    assert len(run.batches) == 2
    assert first[0] == "result 0"
    assert all(rest[j] == f"result {j}" for j in range(1, 8))


def test_a_failed_batch_fails_each_of_its_jobs_and_the_next_batch_still_runs() -> None:
    run = Recorder(fail_first=True)
    group: checks.GroupCommit[int, str] = checks.GroupCommit(run, max_batch=3)
    first = submit_all(group, range(2))
    assert run.started.wait(10)
    rest = submit_all(group, range(2, 9))
    wait_until(lambda: len(group._queue) + len(run.batches[0]) == 9)
    run.release.set()
    for t in first["threads"] + rest["threads"]:
        t.join(10)
    failed = run.batches[0]
    results = {k: v for d in (first, rest) for k, v in d.items() if k != "threads"}
    assert all(isinstance(results[j], RuntimeError) for j in failed)
    others = [j for j in range(9) if j not in failed]
    assert all(results[j] == f"result {j}" for j in others)
    assert all(len(b) <= 3 for b in run.batches)
    assert sorted(j for b in run.batches for j in b) == list(range(9))


def test_a_thread_alone_runs_its_job_as_a_batch_of_one() -> None:
    seen: list[list[int]] = []
    group: checks.GroupCommit[int, int] = checks.GroupCommit(
        lambda jobs: seen.append(list(jobs)) or [j * 2 for j in jobs]
    )
    assert [group.submit(n) for n in range(3)] == [0, 2, 4]
    assert seen == [[0], [1], [2]]


def job(world: dict[str, Any], reference: dict[str, str]) -> checks.CheckJob:
    licensee = world["licensee"]
    return checks.CheckJob(
        actor=Actor(user=licensee.token.user, party=licensee.party, role=licensee.token.role),
        spec=request_spec({"use": "analyze"}),
        item=item_spec(reference, name="item", spaces={}),
        received_at=timezone.now(),
    )


def test_a_batch_stores_each_check_and_answers_an_unknown_identifier_no_match(world) -> None:  # type: ignore[no-untyped-def]
    # Issue 13: an identifier registered nowhere is an answer (no_match), not a refusal.
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    jobs = [
        job(world, {"isrc": ISRC}),
        job(world, {"isrc": "GBAYE0000001"}),
        job(world, {"work_id": world["work"]["id"]}),
    ]
    results = checks.checks_decide(jobs, now=timezone.now())
    assert all(isinstance(r, Decision) for r in results)
    assert [r.outcome for r in results if isinstance(r, Decision)] == ["allow", "no_match", "allow"]
    assert UseRequest.objects.filter(kind="check").count() == 3
    assert RequestItem.objects.filter(request__kind="check", outcome="allow").count() == 2
    stored = Decision.objects.filter(request__kind="check").select_related("item", "request")
    assert {d.pk for d in stored} == {r.pk for r in results if isinstance(r, Decision)}
    for d in stored:
        assert d.item.position == 0
        assert d.request.status == "completed"
        assert d.request.summary == {d.outcome: 1}
    assert PendingEntry.objects.filter(kind="decision").count() == 3


def test_concurrent_checks_commit_one_decision_and_one_ledger_entry_each(world) -> None:  # type: ignore[no-untyped-def]
    """Eight threads check at once; the first batch waits until the seven others queue, so the
    second batch holds all seven, decided by whichever thread leads it."""
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    run = Recorder()
    decided: list[int] = []

    def batch(jobs: Sequence[checks.CheckJob]) -> list[checks.CheckResult]:
        run(list(range(len(jobs))))
        decided.append(len(jobs))
        return checks.checks_decide(jobs, now=timezone.now())

    group: checks.GroupCommit[checks.CheckJob, checks.CheckResult] = checks.GroupCommit(batch)
    # The test's transaction lives on this thread's connection: the other threads share it
    # (one at a time, as the batches run one at a time), so they see the test's data.
    shared = connection._connections["default"]  # type: ignore[attr-defined]
    jobs = [job(world, {"isrc": ISRC}) for _ in range(8)]

    def one(n: int, out: list[Any]) -> None:
        from django.db import connections

        connections["default"] = shared
        try:
            out.append(group.submit(jobs[n]))
        except Exception as exc:
            out.append(exc)

    results: list[Any] = []
    threads = [threading.Thread(target=one, args=(n, results)) for n in range(8)]
    shared.inc_thread_sharing()
    threads[0].start()
    assert run.started.wait(10)
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(group._queue) == 7)
    run.release.set()
    for t in threads:
        t.join(30)
    shared.dec_thread_sharing()
    assert decided == [1, 7]
    assert all(isinstance(r, Decision) for r in results), results
    assert len({r.pk for r in results}) == 8
    assert Decision.objects.filter(request__kind="check").count() == 8
    assert PendingEntry.objects.filter(kind="decision").count() == 8
    # A batch's decisions share the batch's time.
    times = Decision.objects.filter(request__kind="check").values_list("created_at", flat=True)
    assert len(set(times)) == 2


def test_a_batch_the_database_refuses_is_decided_again_one_check_at_a_time(
    world, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """One check whose rows the database refuses fails alone; the others of its batch are
    decided and stored when tried one at a time."""
    from django.db import DatabaseError

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    jobs = [job(world, {"isrc": ISRC}) for _ in range(3)]
    poison = jobs[1]
    real = checks.checks_decide

    def refusing(batch: Sequence[checks.CheckJob], *, now: Any) -> list[checks.CheckResult]:
        if len(batch) > 1 or batch[0] is poison:
            raise DatabaseError("refused")
        return real(batch, now=now)

    monkeypatch.setattr(checks, "checks_decide", refusing)
    results = checks._decide_batch(jobs)
    assert isinstance(results[0], Decision)
    assert isinstance(results[1], DatabaseError)
    assert isinstance(results[2], Decision)
    assert Decision.objects.filter(request__kind="check").count() == 2
    assert PendingEntry.objects.filter(kind="decision").count() == 2


def test_a_check_that_fails_to_evaluate_fails_alone_and_is_logged_with_its_request_id(  # type: ignore[no-untyped-def]
    world, monkeypatch
) -> None:
    import structlog

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    jobs = [job(world, {"isrc": ISRC}) for _ in range(3)]
    jobs[1].request_id = "the-second-check"
    real = checks.decide_one
    calls = []

    def failing_second(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise ZeroDivisionError("a bug")
        return real(**kwargs)

    monkeypatch.setattr(checks, "decide_one", failing_second)
    with structlog.testing.capture_logs() as logs:
        results = checks.checks_decide(jobs, now=timezone.now())
    assert isinstance(results[0], Decision)
    assert isinstance(results[1], ZeroDivisionError)
    assert isinstance(results[2], Decision)
    assert Decision.objects.filter(request__kind="check").count() == 2
    failed = [e for e in logs if e["event"] == "deciding a check failed"]
    assert [e["request_id"] for e in failed] == ["the-second-check"]


def test_a_batch_of_checks_stores_the_same_rows_in_one_round_trip_as_with_copies(  # type: ignore[no-untyped-def]
    world, monkeypatch
) -> None:
    """A batch of a few checks inserts its requests, items, decisions, ledger entries and
    openings with one string of INSERTs (``governance.bulk.rows_insert``); more rows than
    ``INSERT_MAX`` are copied a table at a time. Both store the same rows."""
    from django.forms.models import model_to_dict

    from governance import bulk
    from ledger import merkle
    from ledger.models import Opening

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    copies: list[str] = []
    real_copy = bulk._copy

    def counted(t: bulk.Rows) -> None:
        copies.append(t.table)
        real_copy(t)

    monkeypatch.setattr(bulk, "_copy", counted)
    references = [{"isrc": ISRC}, {"isrc": "GBAYE0000001"}, {"work_id": world["work"]["id"]}]

    def stored(results: list[checks.CheckResult]) -> list[dict[str, Any]]:
        rows = []
        entries = list(PendingEntry.objects.filter(kind="decision").order_by("-id")[:3])[::-1]
        for r, entry in zip(results, entries, strict=True):
            assert isinstance(r, Decision)
            d = Decision.objects.select_related("item", "request").get(pk=r.pk)
            leaf = merkle.leaf_hash(bytes(entry.data))
            rows.append(
                {
                    "decision": model_to_dict(d, exclude=["id", "request", "item", "trace"]),
                    "trace": sorted(d.trace),
                    "item": model_to_dict(d.item, exclude=["id", "request"]),
                    "request": model_to_dict(d.request, exclude=["id"]),
                    "openings": sorted(
                        Opening.objects.filter(leaf_hash=leaf).values_list("field", flat=True)
                    ),
                }
            )
            assert rows[-1]["openings"], "each decision's entry has its openings"
        return rows

    inserted = stored(checks.checks_decide([job(world, r) for r in references], now=timezone.now()))
    assert copies == []
    monkeypatch.setattr(bulk, "INSERT_MAX", 0)
    copied = stored(checks.checks_decide([job(world, r) for r in references], now=timezone.now()))
    assert copies == [
        "governance_userequest",
        "governance_requestitem",
        "governance_decision",
        "ledger_pending",
        "ledger_opening",
    ]
    for a, b in zip(inserted, copied, strict=True):
        for row in (a, b):
            row["decision"].pop("created_at", None)
            row["request"].pop("created_at", None)
            row["request"].pop("completed_at", None)
        assert a == b


def test_checks_take_their_items_ids_a_block_at_a_time(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One batch in ``block`` asks the sequence; the ids are the sequence's, in order, and
    never given twice, even to a batch after one that failed."""
    from django.db.utils import DatabaseError
    from django.test.utils import CaptureQueriesContext

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    monkeypatch.setattr(checks, "_item_ids", checks.IdBlock(RequestItem, block=4))
    asked: list[int] = []
    ids: list[int] = []
    for _ in range(6):
        with CaptureQueriesContext(connection) as queries:
            (decision,) = checks.checks_decide([job(world, {"isrc": ISRC})], now=timezone.now())
        asked.append(sum("nextval" in q["sql"] for q in queries.captured_queries))
        assert isinstance(decision, Decision)
        ids.append(decision.item_id)
    assert asked == [1, 0, 0, 0, 1, 0]
    assert ids == sorted(ids)
    assert len(set(ids)) == 6
    assert ids[3] - ids[0] == 3  # one block: consecutive values of the sequence

    def refused(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("refused")

    with monkeypatch.context() as patched:
        patched.setattr(checks, "decided_store", refused)
        with pytest.raises(DatabaseError):
            checks.checks_decide([job(world, {"isrc": ISRC})], now=timezone.now())
    (after,) = checks.checks_decide([job(world, {"isrc": ISRC})], now=timezone.now())
    assert isinstance(after, Decision)
    assert after.item_id == ids[-1] + 2  # the refused batch's id is a gap, never reused


def test_rows_the_database_refuses_are_djangos_error_and_roll_back_the_string(world) -> None:  # type: ignore[no-untyped-def]
    """``rows_insert``'s string of INSERTs: a refused row is Django's ``IntegrityError`` (what a
    batch's retry one check at a time catches), nothing of the string is stored, and the
    connection goes on after the savepoint's rollback."""
    from django.db import IntegrityError, transaction

    from governance import bulk

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    (first,) = checks.checks_decide([job(world, {"isrc": ISRC})], now=timezone.now())
    assert isinstance(first, Decision)
    request = UseRequest.objects.get(pk=first.request_id)
    again = UseRequest.objects.get(pk=first.request_id)
    again.pk = None
    again.id = None
    before = UseRequest.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.rows_insert(
            [bulk.model_rows(UseRequest, [again]), bulk.model_rows(UseRequest, [request])]
        )
    assert UseRequest.objects.count() == before
    (after,) = checks.checks_decide([job(world, {"isrc": ISRC})], now=timezone.now())
    assert isinstance(after, Decision)
