"""Faults during a large manifest (issue 13, items 9 and 10): ``make run``'s launcher on a
scratch ``var/`` of its own (its own embedded PostgreSQL and broker), a manifest of
``BENCH_FAULT_ITEMS`` items (50,000 by default) submitted, and once ``BENCH_FAULT_AT`` of its
items are decided (four fifths), one fault:

- ``pool-kill``: SIGKILL of a worker pool process in the middle of a chunk;
- ``worker-kill``: SIGKILL of the whole worker (main process and pool: what a crash or the
  OOM killer does), so the chunks it held come back through the broker's lease;
- ``db-restart``: PostgreSQL stopped, 6 s, started again.

For each, it prints the time from the fault to the manifest's completion, and checks one
decision and one ledger entry per item and that no process of the service was stopped apart
from the killed worker. Not run by default: ``python -m benchmarks fault_recovery`` (or
``make bench BENCH=fault_recovery``); ``BENCH_FAULTS`` picks some (comma-separated).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
ITEMS = int(os.environ.get("BENCH_FAULT_ITEMS", "50000"))
FAULT_AT = float(os.environ.get("BENCH_FAULT_AT", "0.8"))
FAULTS = os.environ.get("BENCH_FAULTS", "pool-kill,worker-kill,db-restart").split(",")
DEADLINE_S = 1800

SUBMIT = """
import sys, django; django.setup()
from django.utils import timezone
from governance import services
from governance.access import Actor
from governance.services import catalog, consent, request_specs as rs, requests as rq, shares
now = timezone.now()
label = services.party_create(name="Fault Records", kind="label")
licensee = services.party_create(name="Fault AI", kind="licensee")
user = services.user_create(username="fault")
services.membership_add(party=label, user=user, role="admin")
services.membership_add(party=licensee, user=user, role="admin")
la, li = Actor(user=user, party=label, role="admin"), Actor(user=user, party=licensee, role="admin")
for n in range(10):
    w = catalog.work_register(actor=la, spec=catalog.work_spec(
        {"kind": "recording", "title": f"F{n}", "isrc": f"USFLT250000{n}"}), now=now)
    shares.share_register(actor=la, work=w, spec=shares.share_spec(
        {"holder": str(label.pk), "right": "master", "share": "100"}), now=now)
consent.rule_create(actor=la, data={"scope": "all_works", "uses": ["analyze"], "effect": "allow"},
                    now=now)
items = [rs.ItemSpec(reference=f"isrc:USFLT250000{n % 10}") for n in range(int(sys.argv[1]))]
req, _ = rq.request_submit(actor=li, spec=rs.request_spec({"use": "analyze"}), items=items,
                           idempotency_key=None, now=now)
print(req.pk)
"""
STATE = """
import django, json, sys; django.setup()
from django.db.models import Count
from governance.models import Decision, UseRequest
from ledger.models import PendingEntry, Entry
r = UseRequest.objects.get(pk=sys.argv[1])
items = Decision.objects.filter(request=r).values("item").distinct().count()
print(json.dumps({"status": r.status, "done": r.done_count,
  "decisions": Decision.objects.filter(request=r).count(), "items_decided": items,
  "entries": PendingEntry.objects.filter(kind="decision").count()
             + Entry.objects.filter(kind="decision").count()}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(launcher: subprocess.Popen[str]) -> dict[str, int]:
    """The launcher's children by role (from ``pgrep`` and /proc)."""
    pids = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True,
                          text=True).stdout.split()  # fmt: skip
    found = {}
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name, marker in (("api", "gunicorn"), ("sequencer", "ledger_sequencer"),
                             ("relay", "outbox_relay"), ("worker", "celery")):  # fmt: skip
            if marker in cmdline:
                found[name] = int(pid)
    return found


def exits(lines: list[str]) -> list[str]:
    """The launcher's ``process exited; restarting it`` lines, as ``name (status)``."""
    found = []
    for line in list(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "process exited; restarting it":
            found.append(f"{record['process']} ({record['status']})")
    return found


def run(fault: str) -> None:
    with tempfile.TemporaryDirectory(dir=BASE_DIR / "var") as tmp:
        var_dir = Path(tmp) / "var"
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "LEDGER_KEY_FILE")}  # fmt: skip
        env |= {"CONSENTRY_VAR_DIR": str(var_dir), "CONSENTRY_PORT": str(port),
                "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}  # fmt: skip
        launcher = subprocess.Popen([sys.executable, "-m", "config.launch"], cwd=BASE_DIR,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)  # fmt: skip
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert launcher.stdout is not None
            for line in launcher.stdout:
                lines.append(line)
                if "Consentry is running" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not ready.wait(300):
                raise SystemExit("the service did not start:\n" + "".join(lines[-30:]))

            def py(code: str, *args: str) -> str:
                out = subprocess.run([sys.executable, "-c", code, *args], cwd=BASE_DIR, env=env,
                                     check=True, capture_output=True, text=True)  # fmt: skip
                return out.stdout.strip().splitlines()[-1]

            t_submit = time.monotonic()
            request_id = py(SUBMIT, str(ITEMS))
            state = json.loads(py(STATE, request_id))
            while state["done"] < ITEMS * FAULT_AT:
                time.sleep(0.5)
                state = json.loads(py(STATE, request_id))
            before = children(launcher)
            worker = before["worker"]
            t_fault = time.monotonic()
            # What the rest would take at the rate so far (the first chunk's start included).
            expected = (ITEMS - state["done"]) * (t_fault - t_submit) / state["done"]
            state_at_fault = state["done"]
            if fault == "pool-kill":
                pool = subprocess.run(["pgrep", "-P", str(worker)], capture_output=True,
                                      text=True).stdout.split()  # fmt: skip
                os.kill(int(pool[0]), signal.SIGKILL)
            elif fault == "worker-kill":
                os.killpg(worker, signal.SIGKILL)
            elif fault == "db-restart":
                pgdata = var_dir / "pgdata"
                embedded.stop(pgdata)
                time.sleep(6)
                embedded.start(pgdata)
            else:
                raise SystemExit(f"unknown fault {fault!r}")
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                try:
                    state = json.loads(py(STATE, request_id))
                except subprocess.CalledProcessError:
                    time.sleep(1)  # the database is still coming back
                    continue
                if state["status"] == "completed":
                    break
                time.sleep(0.5)
            t_done = time.monotonic()
            after = children(launcher)
            kept = [n for n in ("api", "sequencer", "relay") if after.get(n) == before[n]]
            ok = (state["status"] == "completed" and state["decisions"] == ITEMS
                  and state["items_decided"] == ITEMS and state["entries"] == ITEMS)  # fmt: skip
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as r:
                    ready_status = r.status
            except urllib.error.HTTPError as exc:
                ready_status = exc.code
            print(
                f"{fault}: {ITEMS:,} items; fault after {t_fault - t_submit:.1f} s "
                f"({state_at_fault:,} decided); completed {t_done - t_fault:.1f} s after the fault "
                f"(at the rate before it, the rest would have taken {expected:.0f} s); "
                f"decisions {state['decisions']:,}, items decided {state['items_decided']:,}, "
                f"ledger entries {state['entries']:,} ({'ok' if ok else 'WRONG'}); "
                f"kept running: {', '.join(kept) or 'none'}; exits seen by the launcher: "
                f"{', '.join(exits(lines)) or 'none'}; worker heartbeats failed "
                f"{sum('worker heartbeat failed' in line for line in lines)}; "
                f"/readyz {ready_status}",
                flush=True,
            )
            if not ok:
                raise SystemExit(f"{fault}: {state}\n" + "".join(lines[-30:]))
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(timeout=120)


def main() -> None:
    print(f"## Faults during a {ITEMS:,}-item manifest (make run's launcher)", flush=True)
    for fault in FAULTS:
        run(fault.strip())


if __name__ == "__main__":
    main()
