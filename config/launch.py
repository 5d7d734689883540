"""``make run``: bring the whole service up on one machine and keep it up until Ctrl-C.

Steps, in order (each is idempotent, so a second run reuses the data):
  1. start the embedded PostgreSQL (unless DATABASE_URL is set), with its owner and application
     roles and the broker's tables (config/embedded.py);
  2. create the ledger signing key if none exists;
  3. apply migrations as the tables' owner (which also grants the application role what it may
     do), run Django's system checks, collect static files;
  4. seed the demo parties and print their tokens;
  5. start gunicorn (the API), the ledger sequencer, the outbox relay and a Celery worker,
     each in its own process group;
  6. wait for /readyz to answer 200, then print where to go.
On SIGINT or SIGTERM it stops the API and the worker, then PostgreSQL if it started it, and
exits. If any child dies, it stops the rest and exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("CONSENTRY_HOST", "127.0.0.1")
PORT = int(os.environ.get("CONSENTRY_PORT", "8000"))
READY_TIMEOUT_S = 120


def log(message: str) -> None:
    print(f"[consentry] {message}", flush=True)


def setup_steps() -> None:
    """Steps 2-4, in this process: one Django start-up instead of one per command."""
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("ledger_keygen")
    # As the tables' owner (config/management/commands/migrate.py); everything after this,
    # and every child process, connects as the application role.
    call_command("migrate", interactive=False, verbosity=0)
    call_command("check", databases=["default"])  # consentry.W001/W002 judge the service's role
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("seed_demo")
    # The children open their own connections; this process keeps none.
    connections.close_all()


def vkey() -> str:
    from ledger.services import current_signer

    return current_signer().verifier().key_string


def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log(f"starting {name}: {' '.join(argv)}")
    # Own process group: Ctrl-C reaches only this launcher, which stops children in order.
    return subprocess.Popen(argv, cwd=BASE_DIR, start_new_session=True)  # noqa: S603 - our argv


def wait_ready(url: str, children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with status {proc.returncode} during start")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our own URL
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT_S} s: {last}")


def stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for name, proc in children.items():
        if proc.poll() is None:
            log(f"stopping {name}")
            # The main process only: gunicorn's arbiter and Celery's worker each stop their own
            # children (a signal to the whole group can leave Celery's pool hanging at exit).
            proc.terminate()
    deadline = time.monotonic() + 20
    for name, proc in children.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in time; killing it")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    t0 = time.monotonic()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    embedded_db = "DATABASE_URL" not in os.environ
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    # SIGINT explicitly too: a shell that starts us in the background sets it to "ignore".
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    status = 0
    try:
        if embedded_db:
            endpoint = embedded.start()
            log(f"embedded PostgreSQL ready ({endpoint.socket_dir})")
        setup_steps()
        children["api"] = spawn(
            "api",
            [
                PY, "-m", "gunicorn", "config.wsgi:application",
                "--config", "config/gunicorn.py",  # threaded workers, WEB_CONCURRENCY, ...
                "--bind", f"{HOST}:{PORT}",
            ],
        )  # fmt: skip
        children["sequencer"] = spawn("sequencer", [PY, "manage.py", "ledger_sequencer"])
        children["relay"] = spawn("relay", [PY, "manage.py", "outbox_relay"])
        children["worker"] = spawn(
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--without-gossip",
            ],
        )
        base = f"http://{HOST}:{PORT}"
        wait_ready(f"{base}/readyz", children)
        log(f"ready in {time.monotonic() - t0:.1f} s")
        print(
            f"""
  Consentry is running.
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
""",
            flush=True,
        )
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {proc.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping")
    except (Exception, SystemExit) as exc:  # any failure: report it, stop what was started
        log(f"error: {exc}")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
        if embedded_db and embedded.stop():
            log("embedded PostgreSQL stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
