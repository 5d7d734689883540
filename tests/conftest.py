"""Shared fixtures. The suite runs against the embedded PostgreSQL (pgvector and triggers are
real) and, for broker tests, the real Redis; a missing service is started or the test fails.
Celery jobs the tests send never reach the instance's broker (tests/brokers.py).
The test database is created and migrated by the owner role, and the tests run as the
application role (tests/dbroles.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import embedded
from tests import dbroles

pytest_plugins = ["tests.receiver"]  # the callback receiver fixture


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # numba (librosa's compiled functions) caches what it compiles; each test process keeps its
    # own cache (an absolute path: tests change the working directory), so no two processes
    # write and read the same cache files at once, as two fresh pytest-xdist workers compiling
    # the same functions did when a test process died of a segmentation fault in librosa's
    # piptrack. Set before any test module imports librosa; a worker inherits the controller's
    # environment, so its own directory replaces the controller's.
    cache = Path("var/numba").absolute()
    if worker.startswith("gw"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache / worker)
    else:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache / "main"))
    if worker.startswith("gw") and "REDIS_URL" not in os.environ:
        # Under pytest-xdist (``make test`` runs one process a core), each process has its own
        # Redis database, counting down from the suite's 14, so no two share a queue.
        index = int(worker[2:])
        if index > 13:
            raise pytest.UsageError("at most 14 xdist workers: one Redis database each, 14 to 1")
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{14 - index}"
    if "DATABASE_URL" not in os.environ:
        embedded.start()  # idempotent: a running cluster only gets its roles checked
    from tests import brokers

    brokers.record_instance_broker()
    brokers.use(brokers.IN_MEMORY)  # never the instance's; the test database's once it exists


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that commit on other connections (the ``committed`` fixture): the ledger
    entries they sequence stay (the log is append-only), so ``make test`` runs them on their own,
    in order, after the others have run in parallel on test databases they never touch."""
    for item in items:
        if "committed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.committed)
            # Under ``--dist loadgroup``, the pages' tests in one process and the rest in
            # another, each group in the order collected (none of the pages' tests replays the
            # whole log; the others keep the order in which they always ran).
            web = item.nodeid.startswith("tests/web/")
            item.add_marker(pytest.mark.xdist_group("committed-web" if web else "committed"))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Log in as the superuser and act as the owner role: the owner creates the test database
    (it has CREATEDB) and so owns it; ``migrate`` connects as the owner itself."""
    if "DATABASE_URL" in os.environ:
        return
    from django.db import connections

    connections["default"].settings_dict["USER"] = embedded.SUPERUSER
    dbroles.assume(embedded.OWNER_ROLE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Once the test database is migrated, every test runs as the application role, and the
    session's Celery jobs go to a broker in the test database (tests/brokers.py), empty at the
    start; the owner drops the database at the end."""
    from tests import brokers

    with django_db_blocker.unblock():
        url = brokers.session_broker_url()
    brokers.use(url)
    brokers.purge(url)  # a kept (--reuse-db) test database holds the last session's jobs
    if "DATABASE_URL" in os.environ:
        yield
    else:
        dbroles.assume(embedded.APP_ROLE)
        yield
        dbroles.assume(embedded.OWNER_ROLE)
    brokers.use(brokers.IN_MEMORY)  # and its connections closed: the database is dropped next


@pytest.fixture(scope="session", autouse=True)
def _static_collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The static files collected once a session, into a directory of its own, by the storage
    the service uses (WhiteNoise's manifest storage, names with their hashes), as ``make run``
    collects them: the pages and the API docs are tested with the names they are served by."""
    from django.core.management import call_command
    from django.test import override_settings

    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


@pytest.fixture(autouse=True)
def _ledger_key(tmp_path_factory: pytest.TempPathFactory, settings) -> Path:  # type: ignore[no-untyped-def]
    """Every test signs with a throwaway key, never the instance's own."""
    from ledger.keys import create_signing_key

    path = tmp_path_factory.getbasetemp() / "keys" / "ledger.pem"
    if not path.exists():
        create_signing_key(path)
    settings.LEDGER_KEY_FILE = path
    return path


_REAL_SEND: list[object] = []


@pytest.fixture(autouse=True)
def _outbox_send_unpatched() -> Iterator[None]:
    """Fails the test that leaves the outbox's broker send patched (restoring it first): a
    leaked mock sent every later test's jobs nowhere, and a broker test far away failed now
    and then (two threads each entering and leaving one ``mock.patch`` leak it, by turns)."""
    from governance.services import outbox

    if not _REAL_SEND:  # taken before any test could patch it
        _REAL_SEND.append(outbox.__dict__["broker_send"])
    real = _REAL_SEND[0]
    yield
    left = outbox.__dict__["broker_send"]
    if left is not real:
        outbox.broker_send = real  # type: ignore[assignment]
        pytest.fail(f"the test left governance.services.outbox.broker_send patched: {left!r}")


@pytest.fixture(autouse=True)
def _ledger_verified_tree() -> Iterator[None]:
    """Each test starts with no verified ledger tree in this process: the test database is
    rolled back between tests, which a remembered tree would rightly call tampering."""
    from ledger import verified_tree

    verified_tree.forget()
    yield
    verified_tree.forget()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Redis (REDIS_URL, default 127.0.0.1:6379, database 14). If it does not answer,
    a private redis-server is started; if that cannot be done either, the test fails."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    if _redis_answers(url):
        # The suite's own database, emptied first of what earlier runs left there (queues,
        # kombu's bindings): each run starts from the same state.
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
        finally:
            client.close()
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"Redis does not answer at {url} and no redis-server is installed to start")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _redis_answers(url):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"started redis-server on port {port}, but it does not answer")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


from tests.committed import committed  # noqa: E402, F401 - real commits, undone afterwards
from tests.world import world  # noqa: E402, F401 - a fixture shared by request tests
