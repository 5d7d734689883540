"""The production profile under faults (issue 18): PostgreSQL over TCP with a password, a real
broker, and the processes of deploy/Procfile (two API processes, three Celery workers, two
ledger sequencers and the outbox relay), each connected as the least-privileged application
role of docs/deployment.md.

A manifest of ``CONSENTRY_PRODUCTION_ITEMS`` items (100,000 by default) is submitted through
the API, and while it is decided:

(a) one worker is SIGKILLed (its main process and its pool);
(b) every process's broker connection is cut for 10 s (the TCP proxy they reach it through is
    SIGKILLed, then started again; the shared broker is never touched);
(c) the sequencer holding the advisory lock is SIGKILLed: the other must take it within 2 s.

Then: exactly one decision and one ledger entry per item; every checkpoint signed during the
run opens with the log's key and has the root of the log's first ``size`` entries (so no two
checkpoints of one size have different roots); ``python -m ledger.verify --state`` verifies the
final log against the state it saved before the faults. Run by ``make test-production``, once
with RabbitMQ and once with Redis (database 15) as the broker.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from ledger import merkle, note
from ledger.compact_range import CompactRange
from ledger.services import SEQUENCER_LOCK
from tests.production.procfile import Instance, Manager
from tests.production.stack import (
    BASE_DIR,
    Proxy,
    RabbitVhost,
    ServerCluster,
    answers,
    free_base_port,
)

pytestmark = pytest.mark.production

ITEMS = int(os.environ.get("CONSENTRY_PRODUCTION_ITEMS", "100000"))
WORKS = 1000
CUT_SECONDS = 10.0
TAKEOVER_LIMIT_S = 2.0
DEADLINE_S = float(os.environ.get("CONSENTRY_PRODUCTION_DEADLINE", "1200"))
LOCK_CLASSID, LOCK_OBJID = SEQUENCER_LOCK >> 32, SEQUENCER_LOCK & 0xFFFFFFFF
RABBITMQ, REDIS = ("127.0.0.1", 5672), ("127.0.0.1", 6379)

SEED = """
import sys, django; django.setup()
from django.utils import timezone
from governance import services
from governance.access import Actor
from governance.importing.run import import_catalog
from governance.services import consent
label = services.party_create(name="Production Records", kind="label")
licensee = services.party_create(name="Production AI", kind="licensee")
user = services.user_create(username="production")
services.membership_add(party=licensee, user=user, role="admin")
services.membership_add(party=label, user=user, role="admin")
report = import_catalog(party=label, data=open(sys.argv[1], "rb").read(), fmt="csv",
                        now=timezone.now())
assert not report.problems, report.problems[:3]
consent.rule_create(actor=Actor(user=user, party=label, role="admin"),
                    data={"scope": "all_works", "uses": ["analyze"], "effect": "allow"},
                    now=timezone.now())
_, secret = services.token_create_for(party=licensee, user=user, name="production",
                                      role="admin", expires_at=None)
print(secret)
"""
VKEY = """
import django; django.setup()
from ledger.services import current_signer
print(current_signer().verifier().key_string)
"""


def utc() -> str:
    """Now, as the processes' JSON logs write it (to find a fault in them)."""
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S.%f")[:-3]


def isrc(n: int) -> str:
    return f"GBPRD25{n:05d}"


def catalog_csv(rows: int) -> str:
    lines = ["kind,isrc,title,display_artist,main_artists,right,share,territories"]
    lines += [f"recording,{isrc(n)},Track {n},Artist {n % 97},Artist {n % 97},master,100,WW"
              for n in range(rows)]  # fmt: skip
    return "\n".join(lines) + "\n"


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, f"{args}: {out.stdout[-3000:]}{out.stderr[-3000:]}"
    return out.stdout


@dataclass
class Stack:
    cluster: ServerCluster
    manager: Manager
    proxy: Proxy
    env: dict[str, str]
    token: str
    vkey: str
    logs: Path
    apis: list[str] = field(default_factory=list)

    def log_text(self, prefix: str) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(prefix + "*")))


def wait_ready(url: str, stack_logs: Path, seconds: float = 180) -> None:
    deadline, last = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        try:
            response = requests.get(url + "/readyz", timeout=30)
            if response.status_code == 200:
                return
            last = response.text
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.5)
    raise AssertionError(f"{url}/readyz never answered 200: {last}; logs in {stack_logs}")


@pytest.fixture(params=["amqp", "redis"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    broker = str(request.param)
    target = RABBITMQ if broker == "amqp" else REDIS
    if not answers(*target):
        pytest.fail(f"{broker}: nothing answers on {target[0]}:{target[1]}")
    tmp = tmp_path_factory.mktemp(f"production-{broker}")
    logs = tmp / "logs"
    logs.mkdir()
    started = time.monotonic()
    cluster = ServerCluster(BASE_DIR / "var" / f"production-{broker}" / "pgdata")
    if cluster.pgdata.exists():
        cluster.stop()
        subprocess.run(["rm", "-rf", str(cluster.pgdata)], check=True)
    proxy = Proxy(target, logs / "proxy.log")
    vhost = RabbitVhost() if broker == "amqp" else None
    manager: Manager | None = None
    prefix = f"consentry-production-{os.getpid()}:"
    try:
        cluster.start()
        cluster.create_roles_and_database()
        proxy.start()
        if vhost is not None:
            vhost.__enter__()
            broker_url = vhost.url(proxy.port)
        else:
            broker_url = f"redis://127.0.0.1:{proxy.port}/15"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_", "CELERY_", "CONSENTRY_", "PYTEST"))}  # fmt: skip
        env |= {
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
            "DATABASE_URL": cluster.url("consentry_app"),
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": "production-test-" + os.urandom(16).hex(),
            "LEDGER_KEY_FILE": str(tmp / "keys" / "ledger.pem"),
            "CONSENTRY_VAR_DIR": str(tmp / "var"),
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "8",
            "CELERY_WORKER_CONCURRENCY": "1",
            "API_THROTTLE_ANON": "1000000/minute",
            "API_THROTTLE_USER": "1000000/minute",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
        if vhost is not None:
            env |= vhost.env()
        if broker == "redis":
            env |= {"CELERY_BROKER_VISIBILITY_TIMEOUT": "30", "CELERY_BROKER_KEY_PREFIX": prefix}
        step = started

        def done(what: str) -> None:
            nonlocal step
            print(f"\n[{broker}] {what}: {time.monotonic() - step:.1f} s", end="")
            step = time.monotonic()

        done("cluster, roles, proxy")
        manage(env, "manage.py", "ledger_keygen")
        # The release job: migrate as the owner; the service's processes never get this URL.
        manage({**env, "DATABASE_MIGRATION_URL": cluster.url("consentry_owner")},
               "manage.py", "migrate", "-v", "0")  # fmt: skip
        done("migrate as the owner")
        checks = subprocess.run([sys.executable, "manage.py", "check", "--database", "default"],
                                cwd=BASE_DIR, env=env, capture_output=True, text=True)  # fmt: skip
        assert checks.returncode == 0, checks.stderr
        assert "consentry.W00" not in checks.stdout + checks.stderr, checks.stderr
        catalog = tmp / "catalog.csv"
        catalog.write_text(catalog_csv(WORKS))
        token = manage(env, "-c", SEED, str(catalog)).strip().splitlines()[-1]
        vkey = manage(env, "-c", VKEY).strip().splitlines()[-1]
        done(f"check, {WORKS:,}-work catalog imported")
        manager = Manager(BASE_DIR / "deploy" / "Procfile", root=BASE_DIR, env=env,
                          log_dir=logs, base_port=free_base_port())  # fmt: skip
        for kind, count in (("api", 2), ("worker", 3), ("sequencer", 2), ("relay", 1)):
            for number in range(1, count + 1):
                manager.start(kind, number)
        stack = Stack(cluster, manager, proxy, env, token, vkey, logs)
        stack.apis = [f"http://127.0.0.1:{i.port}" for i in manager.of("api")]
        for url in stack.apis:
            wait_ready(url, logs)
        time.sleep(3)  # a worker that cannot join (a clash of node names) exits within seconds
        dead = [i.name for i in manager.instances if not i.alive()]
        assert not dead, f"exited during start: {dead}; logs in {logs}"
        done("processes ready")
        print(f"\n[{broker}] stack up in {time.monotonic() - started:.1f} s; logs in {logs}")
        yield stack
    finally:
        if manager is not None:
            manager.stop_all()
        proxy.stop()
        cluster.stop()
        if vhost is not None:
            vhost.__exit__()
        if broker == "redis":
            import redis

            client = redis.Redis(host=REDIS[0], port=REDIS[1], db=15)
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()
        subprocess.run(["rm", "-rf", str(cluster.pgdata.parent)], check=False)


@dataclass
class Sample:
    at: float
    head: int
    pending: int
    done: int
    lock_port: int | None


class Monitor(threading.Thread):
    """Samples the ledger's head, the pending queue, the manifest's progress and which backend
    holds the sequencer's advisory lock, every 50 ms, as the administrator."""

    def __init__(self, cluster: ServerCluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with self.cluster.admin("consentry") as conn:
            while not self.stopping.is_set():
                holder, pending, head, done = lock_state(conn)
                self.samples.append(Sample(time.monotonic(), head, pending, done, holder))
                time.sleep(0.05)

    def latest(self) -> Sample:
        while not self.samples:
            time.sleep(0.02)
        return self.samples[-1]

    def wait_done(self, fraction: float, deadline: float) -> None:
        while self.latest().done < fraction * ITEMS:
            assert time.monotonic() < deadline, f"stuck at {self.latest()}"
            time.sleep(0.05)


LOCK_STATE = (
    "SELECT (SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    "  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s LIMIT 1),"
    " (SELECT count(*) FROM ledger_pending), (SELECT size FROM ledger_head WHERE id = 1),"
    " (SELECT max(done_count) FROM governance_userequest)"
)


def lock_state(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[int | None, int, int, int]:
    """Now: the client port of the backend holding the sequencer's lock (None: free), the
    pending entries, the ledger's size and the manifest's items decided."""
    row = conn.execute(LOCK_STATE, (LOCK_CLASSID, LOCK_OBJID)).fetchone()
    assert row is not None
    holder, pending, head, done = row
    return (None if holder is None else int(holder), int(pending), int(head), int(done or 0))  # type: ignore[call-overload]


def backend_ports(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    rows = conn.execute("SELECT client_port FROM pg_stat_activity WHERE client_port > 0")
    return [int(port) for (port,) in rows.fetchall()]  # type: ignore[call-overload]


def ports_of(instance: Instance) -> set[int]:
    """The local TCP ports of a process's connections (to match a backend's client_port)."""
    try:
        return {c.laddr.port for c in psutil.Process(instance.pid).net_connections(kind="tcp")}
    except psutil.NoSuchProcess:
        return set()


def submit(stack: Stack, tmp: Path) -> tuple[str, str]:
    """The manifest's request: its id and its status URL."""
    manifest = tmp / "manifest.csv"
    manifest.write_text("isrc\n" + "\n".join(isrc(n % WORKS) for n in range(ITEMS)) + "\n")
    with manifest.open("rb") as fh:
        response = requests.post(
            stack.apis[0] + "/api/v1/use-requests/",
            headers={"Authorization": f"Api-Key {stack.token}"},
            data={"use": "analyze"},
            files={"manifest": ("manifest.csv", fh, "text/csv")},
            timeout=600,
        )
    assert response.status_code == 202, response.text[:2000]
    body = response.json()
    return str(body["id"]), str(body["status_url"])


def verify(stack: Stack, state: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ledger.verify", "--url", stack.apis[1], "--vkey", stack.vkey,
         "--state", str(state), "--quiet", "--workers", "1"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def checkpoints_agree(stack: Stack) -> int:
    """Every checkpoint the run signed opens with the log's key and is the root of the log's
    first ``size`` entries; returns how many there are. (The size is ``ledger_checkpoint``'s
    primary key: a second checkpoint of a size is refused by the database; one with another
    root than the log's would fail here.)"""
    verifier = note.parse_verifier_key_string(stack.vkey)
    with stack.cluster.admin("consentry") as conn:
        checkpoints = conn.execute(
            "SELECT size, root_hash, note FROM ledger_checkpoint ORDER BY size"
        ).fetchall()
        sizes = [int(size) for size, _, _ in checkpoints]  # type: ignore[call-overload]
        origin = note.parse_note(str(checkpoints[0][2]).encode()).text.splitlines()[0].decode()
        tree = CompactRange()
        roots = {0: tree.root()}  # a sequencer may sign the empty log before the first entry
        wanted = set(sizes)
        with conn.transaction(), conn.cursor(name="entries") as cursor:
            cursor.itersize = 20_000
            cursor.execute("SELECT idx, data FROM ledger_entry ORDER BY idx")
            for idx, data in cursor:
                assert idx == tree.size, f"entry {idx} where {tree.size} was expected"
                tree.append_leaf_hash(merkle.leaf_hash(bytes(data)))  # type: ignore[arg-type]
                if tree.size in wanted:
                    roots[tree.size] = tree.root()
    for size, root, signed in checkpoints:
        body = note.open_checkpoint(str(signed).encode(), verifiers=[verifier], origin=origin)
        assert (body.size, body.root_hash) == (size, bytes(root)), size  # type: ignore[arg-type]
        assert roots[int(size)] == bytes(root), f"checkpoint {size}: not its log's root"  # type: ignore
    return len(checkpoints)


def test_a_manifest_survives_a_killed_worker_a_cut_broker_and_a_killed_sequencer(
    stack: Stack, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    deadline = t0 + DEADLINE_S
    state = tmp_path / "verify-state.json"
    verify(stack, state)  # before the faults: the state the end must extend
    request_id, status_url = submit(stack, tmp_path)
    print(f"manifest of {ITEMS:,} items accepted in {time.monotonic() - t0:.1f} s")
    monitor = Monitor(stack.cluster)
    monitor.start()
    try:
        # (a) one worker, main process and pool, SIGKILLed mid-manifest.
        monitor.wait_done(0.15, deadline)
        victim = stack.manager.of("worker")[0]
        victim.kill()
        print(f"(a) {utc()} worker {victim.name} SIGKILLed at {monitor.latest().done:,} items "
              "decided")  # fmt: skip

        # (b) the broker connection of every process cut for 10 s.
        monitor.wait_done(0.35, deadline)
        stack.proxy.cut()
        cut_at, cut_utc = monitor.latest().done, utc()
        time.sleep(CUT_SECONDS)
        stack.proxy.start()
        print(f"(b) {cut_utc} broker connection cut for {CUT_SECONDS:.0f} s at {cut_at:,} items "
              f"decided; restored {utc()}")  # fmt: skip

        # (c) the sequencer holding the lock, SIGKILLed; the other must take over.
        monitor.wait_done(0.55, deadline)
        # Both sequencers try the transaction-scoped lock every round, so they take turns:
        # the one found holding it (a query of its own, just before the kill) while entries
        # wait is killed in the middle of integrating them.
        sequencers = stack.manager.of("sequencer")
        ports = {s.name: ports_of(s) for s in sequencers}
        with stack.cluster.admin("consentry") as conn:
            active: Instance | None = None
            while active is None:
                (holder, pending, head, done) = lock_state(conn)
                assert done < ITEMS, "decided before a sequencer held the lock with work pending"
                assert time.monotonic() < deadline
                if holder is not None and pending > 0:
                    active = next((s for s in sequencers if holder in ports[s.name]), None)
            active.kill()
            killed_at, killed_utc = time.monotonic(), utc()
            survivor = next(s for s in sequencers if s is not active)
            # Its backend goes once PostgreSQL sees the connection closed: its transaction
            # rolls back, the lock is free; the head is then where the killed one left it.
            while set(backend_ports(conn)) & ports[active.name]:
                time.sleep(0.001)
            released = time.monotonic() - killed_at
            _, pending_left, left_at, _ = lock_state(conn)
            taken: float | None = None
            while taken is None and time.monotonic() - killed_at < 10:
                holder, _, head, _ = lock_state(conn)
                if holder in ports[survivor.name] or head > left_at:
                    taken = time.monotonic() - killed_at
        shown = "(never)" if taken is None else f"{taken:.3f}"
        print(f"(c) {killed_utc} sequencer {active.name} SIGKILLed while holding the lock with "
              f"{pending:,} entries pending; its backend gone after {released:.3f} s, leaving "
              f"the head at {left_at:,} and {pending_left:,} pending; {survivor.name} held the "
              f"lock or moved the head {shown} s after the kill")  # fmt: skip
        assert taken is not None, "the other sequencer did not take over within 10 s"
        assert taken <= TAKEOVER_LIMIT_S, taken

        while True:
            response = requests.get(
                stack.apis[1] + status_url,
                headers={"Authorization": f"Api-Key {stack.token}"},
                timeout=60,
            )
            if response.ok and response.json()["status"] == "completed":
                break
            assert time.monotonic() < deadline, (response.text[:500], monitor.latest())
            time.sleep(0.5)
        decided_s = time.monotonic() - t0
        while monitor.latest().pending:  # the survivor sequences what is left
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        monitor.stopping.set()
        monitor.join()
    print(f"decided and ledgered in {decided_s:.1f} s ({ITEMS / decided_s:,.0f} items/s)")

    with stack.cluster.admin("consentry") as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT item_id),"
            " (SELECT count(*) FROM governance_requestitem WHERE request_id = %(r)s),"
            " (SELECT count(*) FROM governance_decision d JOIN ledger_entry e"
            "  ON e.leaf_hash = d.leaf_hash WHERE d.request_id = %(r)s),"
            " (SELECT count(*) FROM ledger_entry WHERE kind = 'decision'),"
            " (SELECT count(*) FROM ledger_pending)"
            " FROM governance_decision WHERE request_id = %(r)s",
            {"r": request_id},
        ).fetchone()
    assert counts == (ITEMS, ITEMS, ITEMS, ITEMS, ITEMS, 0), counts
    assert "Connection to broker lost" in stack.log_text("worker"), "the cut was not seen"
    assert [w.alive() for w in stack.manager.of("worker")] == [False, True, True]
    assert survivor.alive()
    for log in ("sequencer", "relay", "api"):  # the faults made no process fail
        errors = [ln for ln in stack.log_text(log).splitlines() if '"level": "error"' in ln]
        assert not errors, errors[:5]
    signed = checkpoints_agree(stack)
    print(f"{signed} checkpoints: each opens with the key and has the log's root at its size")
    result = verify(stack, state)
    print("ledger.verify --state:", " ".join(result.split()))
    print(f"fault test: {time.monotonic() - t0:.1f} s")
    assert json.loads(state.read_text())["size"] >= ITEMS
