"""``make run``: bring the whole service up on one machine and keep it up until Ctrl-C.

Steps, in order (each is idempotent, so a second run reuses the data):
  1. start the embedded PostgreSQL (unless DATABASE_URL is set), with its owner and application
     roles and the broker's tables (config/embedded.py);
  2. create the ledger signing key if none exists;
  3. apply migrations as the tables' owner (which also grants the application role what it may
     do), run Django's system checks, collect static files;
  4. seed the demo parties (their tokens and the operator's password are kept, for step 6);
  5. start gunicorn (the API), the ledger sequencer, the outbox relay and a Celery worker,
     each in its own process group;
  6. wait for /readyz to answer 200, then print the demo credentials and where to go, last,
     so they are on the screen after the processes' start-up logs.

Then it supervises (docs/deployment.md, "Supervision"): a child that exits is started again
after a backoff (1 s, doubling to 30 s; back to 1 s once it has run for a minute), with one
log line per exit and per restart, while the others keep serving. A worker whose heartbeat
fails ``WORKER_STUCK_CHECKS`` readiness probes in a row once it has run for
``WORKER_GRACE_S`` seconds (alive, but it takes no work) is killed and so restarted; an
embedded PostgreSQL found stopped for ``DB_DOWN_GRACE_S`` seconds is started again. On
SIGINT or SIGTERM it stops every child, then PostgreSQL if it started it, and exits 0. Logs
are readable lines on a terminal and JSON lines otherwise (``LOG_FORMAT``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import structlog

from config import embedded
from config.logs import configure_logging

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("CONSENTRY_HOST", "127.0.0.1")
PORT = int(os.environ.get("CONSENTRY_PORT", "8000"))
READY_TIMEOUT_S = 120
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = float(os.environ.get("CONSENTRY_RESTART_BACKOFF_MAX", "30"))
STABLE_AFTER_S = 60.0
"""A child that ran this long is restarted after the first backoff again."""
PROBE_EVERY_S = float(os.environ.get("CONSENTRY_PROBE_EVERY", "10"))
WORKER_STUCK_CHECKS = 3
"""Failed worker heartbeats in a row (one probe every PROBE_EVERY_S) before a restart."""
WORKER_GRACE_S = float(os.environ.get("CONSENTRY_WORKER_GRACE", "60"))
"""A worker started this recently is still starting: its failed heartbeats do not count."""
DB_DOWN_GRACE_S = 10.0

log = structlog.get_logger("consentry.launch")


def setup_steps() -> str:
    """Steps 2-4, in this process: one Django start-up instead of one per command. Returns
    what ``seed_demo`` printed (the demo credentials), to be shown once the service is up."""
    import django
    from django.core.management import CommandError, call_command
    from django.db import connections

    django.setup()
    call_command("ledger_keygen")
    # As the tables' owner (config/management/commands/migrate.py); everything after this,
    # and every child process, connects as the application role.
    call_command("migrate", interactive=False, verbosity=0)
    call_command("check", databases=["default"])  # consentry.W001/W002 judge the service's role
    call_command("collectstatic", interactive=False, verbosity=0)
    credentials = StringIO()
    call_command("seed_demo", stdout=credentials)
    try:  # artists registered before the text store (an older var/) get their name vectors
        call_command("sync_artist_names", stdout=StringIO())
    except CommandError as exc:  # no AVX2: prompts will not match artists here; say so
        print(f"text space unavailable, artists' names not embedded: {exc}", file=sys.stderr)
    # The children open their own connections; this process keeps none.
    connections.close_all()
    return credentials.getvalue()


def vkey() -> str:
    from ledger.services import current_signer

    return current_signer().verifier().key_string


@dataclass
class Child:
    """One supervised process: how to start it, and its restart state."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = BACKOFF_FIRST_S
    restart_at: float | None = None
    stuck_checks: int = field(default=0)

    def spawn(self) -> None:
        # Own process group: Ctrl-C reaches only this launcher, which stops children in order.
        self.proc = subprocess.Popen(self.argv, cwd=BASE_DIR, start_new_session=True)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("process started", process=self.name, pid=self.proc.pid, restarts=self.restarts)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tend(self, now: float) -> None:
        """Notice an exit and schedule the restart; restart when its time comes."""
        if self.proc is not None and self.proc.poll() is not None:
            ran = now - self.started_at
            if ran >= STABLE_AFTER_S:
                self.backoff = BACKOFF_FIRST_S
            log.warning("process exited; restarting it", process=self.name,
                        pid=self.proc.pid, status=self.proc.returncode, ran_s=round(ran, 1),
                        restart_in_s=self.backoff, restarts=self.restarts)  # fmt: skip
            self.proc = None
            self.restart_at = now + self.backoff
            self.backoff = min(BACKOFF_MAX_S, self.backoff * 2)
        if self.proc is None and self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.spawn()

    def kill(self, reason: str) -> None:
        """SIGKILL the whole process group (a hung pool ignores gentler signals)."""
        if self.proc is not None and self.proc.poll() is None:
            log.warning("killing process", process=self.name, pid=self.proc.pid, reason=reason)
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_ready(url: str, children: dict[str, Child]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        for child in children.values():
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited with status {child.proc.returncode}"
                                   " during start")  # fmt: skip
        status, last = probe(url)
        if status == 200:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT_S} s: {last}")


def probe(url: str) -> tuple[int, str]:
    """/readyz's status and body (0 and the error when it does not answer)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - our own URL
            return int(resp.status), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, str(exc)


def worker_takes_work(body: str) -> bool | None:
    """From /readyz's body: whether the worker heartbeat passed (None: not known, as when the
    database or the broker is away: a restart of the worker would not help)."""
    import json

    try:
        checks = json.loads(body)["checks"]
        worker, database, broker = checks["worker"], checks["database"], checks["broker"]
    except (ValueError, KeyError, TypeError):
        return None
    if not (database.get("ok") and broker.get("ok")):
        return None  # the worker cannot be judged while what it needs is away
    return bool(worker.get("ok"))


def stop_children(children: dict[str, Child]) -> None:
    for child in children.values():
        child.restart_at = None
        if child.alive():
            assert child.proc is not None
            log.info("stopping process", process=child.name, pid=child.proc.pid)
            # The main process only: gunicorn's arbiter and Celery's worker each stop their own
            # children (a signal to the whole group can leave Celery's pool hanging at exit).
            child.proc.terminate()
    deadline = time.monotonic() + 20
    for child in children.values():
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("process did not stop in time; killing it", process=child.name)
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
        # Whatever the main process left in its group (a pool process, a gunicorn worker).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGKILL)


def _demo_sign_in(credentials: str) -> str:
    """The demo artist's user and password as ``seed_demo`` printed them (user 'ada')."""
    for line in credentials.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "artist" and words[-2] == "ada":
            return f"user 'ada', password {words[-1]}"
    return "user 'ada'"


def banner(base: str, credentials: str, embedded_db: bool) -> str:
    return f"""
  Consentry is running.
{credentials.rstrip()}
    (kept in {embedded.var_dir() / "demo" / "credentials.json"})

    Pages        {base}/               (sign in with a user and password above; the artist
                 Ada Vale is {_demo_sign_in(credentials)}: she sets her AI consent there)
    API          {base}/api/v1/
    API docs     {base}/api/docs/      (OpenAPI schema: {base}/api/schema/)
    Health       {base}/healthz  {base}/readyz
    Admin        {base}/admin/         (user 'operator', password above)
    Ledger       {base}/ledger/checkpoint   (keys: {base}/ledger/keys)
  Try:  curl -H "Authorization: Api-Key <a token above>" {base}/api/v1/parties/
  Ask as the licensee (Sonora AI Labs' token) whether it may analyse a demo recording:
        curl -H "Authorization: Api-Key <licensee token>" -H "Content-Type: application/json" \
          -d '{{"use": "analyze", "item": {{"isrc": "GBNWR2300001"}}}}' {base}/api/v1/checks/
  Verify the ledger with no trust in this server:
        {PY} -m ledger.verify --url {base} --vkey {vkey()}
  Ctrl-C stops every process started here{" and PostgreSQL" if embedded_db else ""}.
"""


def supervise(children: dict[str, Child], readyz: str, embedded_db: bool) -> None:
    """Until a signal: restart what exits, restart a worker that takes no work, start the
    embedded PostgreSQL again if it stopped."""
    next_probe = time.monotonic() + PROBE_EVERY_S
    db_down_since: float | None = None
    while True:
        now = time.monotonic()
        for child in children.values():
            child.tend(now)
        if embedded_db:
            if embedded.running_endpoint() is not None:
                db_down_since = None
            elif db_down_since is None:
                db_down_since = now
                log.warning("embedded PostgreSQL is not running")
            elif now - db_down_since >= DB_DOWN_GRACE_S:
                log.warning("starting the embedded PostgreSQL again",
                            down_s=round(now - db_down_since, 1))  # fmt: skip
                try:
                    embedded.start()
                    log.info("embedded PostgreSQL started again")
                    db_down_since = None
                except Exception as exc:  # logged; tried again at the next round
                    log.error("embedded PostgreSQL did not start", error=str(exc))
                    db_down_since = now
        worker = children["worker"]
        if now >= next_probe:
            next_probe = now + PROBE_EVERY_S
            if worker.alive() and now - worker.started_at >= WORKER_GRACE_S:
                status, body = probe(readyz)
                takes_work = worker_takes_work(body) if status else None
                if takes_work is False:
                    worker.stuck_checks += 1
                    log.warning("worker heartbeat failed", checks_in_a_row=worker.stuck_checks)
                    if worker.stuck_checks >= WORKER_STUCK_CHECKS:
                        worker.kill(f"no heartbeat in {worker.stuck_checks} probes in a row")
                        worker.stuck_checks = 0
                elif takes_work:
                    worker.stuck_checks = 0
        time.sleep(0.5)


def main() -> int:
    t0 = time.monotonic()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    configure_logging(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        fmt=os.environ.get("LOG_FORMAT", "console" if sys.stderr.isatty() else "json"),
    )
    embedded_db = "DATABASE_URL" not in os.environ
    base = f"http://{HOST}:{PORT}"
    children = {
        "api": Child("api", [
            PY, "-m", "gunicorn", "config.wsgi:application",
            "--config", "config/gunicorn.py",  # threaded workers, WEB_CONCURRENCY, ...
            "--bind", f"{HOST}:{PORT}",
        ]),
        "sequencer": Child("sequencer", [PY, "manage.py", "ledger_sequencer"]),
        "relay": Child("relay", [PY, "manage.py", "outbox_relay"]),
        "worker": Child("worker", [
            PY, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
            "--without-gossip",
        ]),
    }  # fmt: skip

    def on_signal(signum: int, frame: object) -> None:
        # The first signal stops everything; another one while stopping (a second Ctrl-C, or
        # a wrapper such as timeout(1) forwarding the same one to the process group) must not
        # interrupt the stop: it had raised again in the handler and ended with a traceback.
        for each in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(each, signal.SIG_IGN)
        raise KeyboardInterrupt

    # SIGINT explicitly too: a shell that starts us in the background sets it to "ignore".
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    status = 0
    try:
        if embedded_db:
            endpoint = embedded.start()
            log.info("embedded PostgreSQL ready", socket_dir=str(endpoint.socket_dir))
        credentials = setup_steps()
        for child in children.values():
            child.spawn()
        wait_ready(f"{base}/readyz", children)
        log.info("ready", seconds=round(time.monotonic() - t0, 1))
        print(banner(base, credentials, embedded_db), flush=True)
        supervise(children, f"{base}/readyz", embedded_db)
    except KeyboardInterrupt:
        log.info("stopping")
    except (Exception, SystemExit) as exc:  # a failure to start: report it, stop what started
        log.error("could not start", error=str(exc))
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
        if embedded_db and embedded.stop():
            log.info("embedded PostgreSQL stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
