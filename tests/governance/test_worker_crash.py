"""A worker killed in the middle of deciding: the broker redelivers the task (acks late, reject
on worker lost) and there is still exactly one decision and one ledger entry per item.

Real processes: a Celery worker on the real Redis, a migrated database of its own; the chunk
is held open by CONSENTRY_FAULT_DECIDE_DELAY so its process can be SIGKILLed mid-transaction.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config import embedded

BASE_DIR = Path(__file__).resolve().parents[2]

SETUP = """
import django, json; django.setup()
from django.utils import timezone
from governance import services
from governance.access import Actor
from governance.services import catalog, consent, request_specs as rs, requests as rq, shares
now = timezone.now()
label = services.party_create(name="Label", kind="label")
licensee = services.party_create(name="Lab", kind="licensee")
user = services.user_create(username="u")
services.membership_add(party=label, user=user, role="admin")
services.membership_add(party=licensee, user=user, role="admin")
la, li = Actor(user=user, party=label, role="admin"), Actor(user=user, party=licensee, role="admin")
for n in range(3):
    w = catalog.work_register(actor=la, spec=catalog.work_spec(
        {"kind": "recording", "title": f"T{n}", "isrc": f"USRC1760783{n}"}), now=now)
    shares.share_register(actor=la, work=w, spec=shares.share_spec(
        {"holder": str(label.pk), "right": "master", "share": "100"}), now=now)
consent.rule_create(actor=la, data={"scope": "all_works", "uses": ["analyze"], "effect": "allow"},
                    now=now)
items = [rs.ItemSpec(reference=f"isrc:USRC1760783{n}") for n in range(3)]
req, _ = rq.request_submit(actor=li, spec=rs.request_spec({"use": "analyze"}), items=items,
                           idempotency_key=None, now=now)
print(req.pk)
"""
DISPATCH = """
import django; django.setup()
from governance.services.outbox import outbox_dispatch
print(outbox_dispatch())
"""
STATE = """
import django, json, sys; django.setup()
from governance.models import Decision, UseRequest
from ledger.models import PendingEntry, Entry
r = UseRequest.objects.get(pk=sys.argv[1])
print(json.dumps({"status": r.status, "decisions": Decision.objects.filter(request=r).count(),
  "entries": PendingEntry.objects.filter(kind="decision").count()
             + Entry.objects.filter(kind="decision").count()}))
"""


@pytest.fixture
def env(redis_url: str) -> Iterator[dict[str, str]]:
    endpoint = embedded.running_endpoint()
    if endpoint is None or "DATABASE_URL" in os.environ:
        pytest.fail("the crash test runs on the embedded PostgreSQL (unset DATABASE_URL)")
    name = f"consentry_crash_{uuid.uuid4().hex[:8]}"
    embedded.create_database(endpoint, name)
    from django.conf import settings

    env = {**os.environ, "CONSENTRY_DATABASE_NAME": name, "LOG_LEVEL": "WARNING",
           "CELERY_BROKER_URL": redis_url, "CELERY_TASK_DEFAULT_QUEUE": f"crash-{name}",
           "LEDGER_KEY_FILE": str(settings.LEDGER_KEY_FILE)}  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env,
                   check=True)  # fmt: skip
    yield env
    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def py(env: dict[str, str], code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=BASE_DIR, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def test_a_worker_killed_mid_task_leads_to_exactly_one_decision_per_item(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    request_id = py(env, SETUP)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, stdout=log, stderr=log,
        env={**env, "CONSENTRY_FAULT_DECIDE_DELAY": "8", "LOG_LEVEL": "INFO"},
    )  # fmt: skip
    try:
        for _ in range(1200):  # up to 2 minutes on a loaded machine; usually under 5 s
            if "ready" in (tmp_path / "worker.log").read_text():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker did not start: " + (tmp_path / "worker.log").read_text())
        # The request's task went to Redis when its transaction committed (the outbox's send on
        # commit): once the worker has received it, the chunk sleeps inside its transaction.
        for _ in range(1200):
            if "governance.decide_request" in (tmp_path / "worker.log").read_text():
                break
            time.sleep(0.1)
        time.sleep(2)
        children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
        assert children, "no pool process to kill"
        for child in children:
            os.kill(int(child), signal.SIGKILL)
        assert py(env, DISPATCH) == "0"  # nothing was left in the outbox to re-send
        # Whether the redelivered task has already finished by now depends on the machine's
        # load (starting these Python processes can take longer than its 8 s), so the kill
        # landing mid-task is read from the worker's log below, not from a count taken now.
        state = json.loads(py(env, STATE, request_id))
        deadline = time.monotonic() + 60
        while state["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.5)
            state = json.loads(py(env, STATE, request_id))
        assert state == {"status": "completed", "decisions": 3, "entries": 3}, (
            state, (tmp_path / "worker.log").read_text()[-3000:])  # fmt: skip
        events = [
            json.loads(line)["event"]
            for line in (tmp_path / "worker.log").read_text().splitlines()
            if line.startswith("{")
        ]
        received = [i for i, e in enumerate(events) if "decide_request" in e and "received" in e]
        succeeded = [i for i, e in enumerate(events) if "decide_request" in e and "succeeded" in e]
        lost = [i for i, e in enumerate(events) if "WorkerLostError" in e]
        # Delivered twice; the first delivery died (no success logged before the loss), and
        # only the redelivery succeeded: the three decisions above are the redelivery's alone.
        assert len(received) == 2, events
        assert len(lost) == 1, events
        assert len(succeeded) == 1, events
        assert received[0] < lost[0] < received[1] < succeeded[0], events
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


MANIFEST = SETUP.replace(
    'items = [rs.ItemSpec(reference=f"isrc:USRC1760783{n}") for n in range(3)]',
    'items = [rs.ItemSpec(reference=f"isrc:USRC1760783{n % 3}") for n in range(3000)]',
)


def test_a_manifest_whose_worker_is_killed_completes_on_the_embedded_broker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The embedded broker (kombu's SQLAlchemy transport, config/broker.py) leases what it
    delivers: SIGKILL the whole worker (its main process and pool) mid-chunk, start another,
    and the chunk the dead worker held comes back once its lease expires: the 3,000-item
    manifest completes with one decision and one ledger entry per item."""
    endpoint = embedded.running_endpoint()
    if endpoint is None or "DATABASE_URL" in os.environ:
        pytest.fail("the crash test runs on the embedded PostgreSQL (unset DATABASE_URL)")
    name = f"consentry_lease_{uuid.uuid4().hex[:8]}"
    embedded.create_database(endpoint, name)
    embedded.broker_tables_create(endpoint, name)
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env |= {"CONSENTRY_DATABASE_NAME": name, "LOG_LEVEL": "WARNING", "CELERY_BROKER_LEASE": "6",
            "LEDGER_KEY_FILE": str(settings.LEDGER_KEY_FILE)}  # fmt: skip
    workers: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]

    def start_worker(log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                 "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=BASE_DIR, stdout=log, stderr=log, start_new_session=True,
                env={**env, "CONSENTRY_FAULT_DECIDE_DELAY": "3", "LOG_LEVEL": "INFO"},
            )  # fmt: skip
        workers.append(worker)
        return worker

    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR,
                       env=env, check=True)  # fmt: skip
        request_id = py(env, MANIFEST)
        first = start_worker(logs[0])
        for _ in range(600):
            if "governance.decide_chunk" in logs[0].read_text():
                break
            time.sleep(0.1)
        else:
            pytest.fail("no chunk reached the worker: " + logs[0].read_text()[-3000:])
        time.sleep(1)  # inside the chunk's transaction (CONSENTRY_FAULT_DECIDE_DELAY)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        state = json.loads(py(env, STATE, request_id))
        assert state["status"] != "completed"
        start_worker(logs[1])
        deadline = time.monotonic() + 180
        while state["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(1)
            state = json.loads(py(env, STATE, request_id))
        assert state == {"status": "completed", "decisions": 3000, "entries": 3000}, (
            state, logs[1].read_text()[-3000:])  # fmt: skip
        assert "broker leases expired; messages delivered again" in logs[1].read_text()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
