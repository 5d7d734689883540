"""`make run`'s launcher, end to end: from an empty var/ it starts the embedded PostgreSQL, the
API and a worker, answers /readyz, serves the demo tokens, every process of the service connects
as the application role, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from config import embedded

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Api-Key {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def processes_of(var_dir: Path, port: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            environ = proc.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if (
            str(var_dir) in cmdline
            or f":{port}" in cmdline
            or environ.get("CONSENTRY_VAR_DIR") == str(var_dir)
        ):
            found.append(proc)
    return found


def service_roles(var_dir: Path) -> set[str]:
    """The roles every other client of the launched cluster's database is connected as."""
    endpoint = embedded.running_endpoint(var_dir / "pgdata")
    assert endpoint is not None
    with psycopg.connect(endpoint.conninfo("postgres")) as conn:
        rows = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            [embedded.DATABASE_NAME],
        ).fetchall()
    return {str(name) for (name,) in rows}


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """The launched service's ``var/``, outside pytest's base directory: the cluster runs as the
    ``pgserver`` user, which must traverse every parent, and a pytest session starting beside
    this one (another test run on the machine) resets ``/tmp/pytest-of-<user>`` to mode 0700."""
    folder = Path(tempfile.mkdtemp(prefix="consentry-launch-"))
    folder.chmod(0o755)
    try:
        yield folder / "var"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_make_run_serves_the_demo_and_ctrl_c_stops_everything(var_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"CONSENTRY_VAR_DIR": str(var_dir), "CONSENTRY_PORT": str(port), "WEB_CONCURRENCY": "1"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.launch"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            lines.append(line)
            if "Consentry is running" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=180), "".join(lines[-40:])
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/readyz")[0] == 200
        credentials = json.loads((var_dir / "demo" / "credentials.json").read_text())
        label_token = credentials["tokens"]["label"]
        assert label_token in "".join(lines), "the demo tokens are printed"
        status, body = get(f"{base}/api/v1/parties/", label_token)
        assert status == 200
        assert [p["name"] for p in body["results"]] == ["Northwind Records"]
        status, body = get(f"{base}/api/v1/parties/", "wrong.token")
        assert status == 401
        assert body["code"] == "authentication_failed"
        assert processes_of(var_dir, port), "the API, worker and PostgreSQL run"
        assert service_roles(var_dir) == {embedded.APP_ROLE}, "no process connects as more"
        # The banner names the pages and the demo artist's password, which signs her in.
        password = credentials["passwords"]["artist_ada"]
        assert f"Pages        {base}/ " in "".join(lines)
        assert f"Ada Vale is user 'ada', password {password}" in "".join(lines)
        assert sign_in(base, "ada", password).endswith("/consent/")
        # The pages' stylesheet and script are served by the app itself (collectstatic).
        for asset in ("web/site.css", "web/verify.js"):
            with urllib.request.urlopen(f"{base}/static/{asset}", timeout=30) as response:
                assert response.status == 200, asset
        # By the names with their content's hash the pages use (manifest storage).
        with urllib.request.urlopen(f"{base}/verify/", timeout=30) as response:
            page = response.read().decode()
        hashed = re.findall(r'"(/static/web/(?:site|verify)\.[0-9a-f]{12}\.(?:css|js))"', page)
        assert len(hashed) == 2, page[:800]
        for asset in hashed:
            with urllib.request.urlopen(f"{base}{asset}", timeout=30) as response:
                assert response.status == 200, asset
                assert "immutable" in response.headers["Cache-Control"], asset
    finally:
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(timeout=60)
    assert code == 0, "".join(lines[-40:])
    deadline = time.monotonic() + 10
    while (left := processes_of(var_dir, port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [p.info["cmdline"] for p in left]


def sign_in(base: str, username: str, password: str) -> str:
    """Sign in to the pages as a browser does (the form's CSRF token and cookie); the URL of
    the page it lands on."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/sign-in/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form[:500]
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(f"{base}/sign-in/", data=data,
                                     headers={"Referer": f"{base}/sign-in/"})  # fmt: skip
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
        return str(response.url)


def launched_children(launcher: subprocess.Popen[str]) -> dict[str, psutil.Process]:
    """The launcher's direct children by role (api, sequencer, relay, worker)."""
    found = {}
    for proc in psutil.Process(launcher.pid).children():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue  # exited, not reaped yet
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        for name, marker in (("api", "gunicorn"), ("sequencer", "ledger_sequencer"),
                             ("relay", "outbox_relay"), ("worker", "celery")):  # fmt: skip
            if marker in cmdline:
                found[name] = proc
    return found


def wait_for(what: str, condition, lines: list[str], timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}; last output:\n" + "".join(lines[-60:]))


def events(lines: list[str], event: str) -> list[dict]:  # type: ignore[type-arg]
    found = []
    for line in list(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


def test_the_launcher_heals_a_killed_worker_a_hung_worker_and_a_database_restart(
    var_dir: Path,
) -> None:
    """Supervision: a SIGKILLed worker is restarted while the API keeps serving; a worker that
    takes no work (its processes stopped) makes /readyz 503 naming it, and is restarted; a
    database restart leaves the relay and the sequencer running (they reconnect); Ctrl-C still
    stops everything."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"CONSENTRY_VAR_DIR": str(var_dir), "CONSENTRY_PORT": str(port), "WEB_CONCURRENCY": "1",
            "LOG_FORMAT": "json", "WORKER_HEARTBEAT_TIMEOUT": "3", "WORKER_HEARTBEAT_CACHE": "1",
            "CONSENTRY_PROBE_EVERY": "2", "CONSENTRY_RESTART_BACKOFF_MAX": "2",
            "CONSENTRY_WORKER_GRACE": "20"}  # fmt: skip
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.launch"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            lines.append(line)
            if "Consentry is running" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert ready.wait(timeout=180), "".join(lines[-40:])
        # The credentials come last: after every process's start-up lines.
        banner_at = next(n for n, line in enumerate(lines) if "Consentry is running" in line)
        assert events(lines[:banner_at], "process started")
        assert "admin      user 'operator' password" in "".join(lines[banner_at:])
        token = json.loads((var_dir / "demo" / "credentials.json").read_text())["tokens"]["label"]

        # 1. SIGKILL the worker: restarted, the API serves throughout.
        first = launched_children(launcher)
        assert set(first) == {"api", "sequencer", "relay", "worker"}
        first["worker"].kill()
        wait_for("the worker is restarted",
                 lambda: (w := launched_children(launcher).get("worker")) is not None
                 and w.pid != first["worker"].pid, lines)  # fmt: skip
        assert get(f"{base}/api/v1/parties/", token)[0] == 200
        exited = events(lines, "process exited; restarting it")
        assert [e["process"] for e in exited] == ["worker"]
        assert exited[0]["status"] == -signal.SIGKILL
        wait_for("/readyz is 200 again", lambda: get(f"{base}/readyz")[0] == 200, lines)
        others = {n: p.pid for n, p in launched_children(launcher).items() if n != "worker"}
        assert others == {n: p.pid for n, p in first.items() if n != "worker"}, "none stopped"

        # 2. A worker that takes no work: every process of it stopped (SIGSTOP), as a hung pool.
        worker = launched_children(launcher)["worker"]
        stopped = [worker, *worker.children(recursive=True)]
        for proc in stopped:
            proc.suspend()
        wait_for("/readyz says 503", lambda: get(f"{base}/readyz")[0] == 503, lines)
        status, body = get(f"{base}/readyz")
        if status == 503:  # (unless the launcher has restarted it already)
            assert body["checks"]["worker"]["ok"] is False
            assert "takes no work" in body["checks"]["worker"]["error"]
            assert body["checks"]["database"]["ok"] is True
        wait_for("the launcher kills and restarts the stuck worker",
                 lambda: (w := launched_children(launcher).get("worker")) is not None
                 and w.pid != worker.pid, lines)  # fmt: skip
        assert events(lines, "killing process")
        wait_for("/readyz is 200 again", lambda: get(f"{base}/readyz")[0] == 200, lines)

        # 3. A database restart: the relay and the sequencer reconnect, nothing is restarted.
        before = {n: p.pid for n, p in launched_children(launcher).items()}
        pgdata = var_dir / "pgdata"
        assert embedded.stop(pgdata)
        time.sleep(3)
        embedded.start(pgdata)
        relay_back, sequencer_back = (
            "outbox relay reconnected to the database",
            "sequencer reconnected to the database",
        )
        wait_for("the relay reconnects", lambda: events(lines, relay_back), lines)
        wait_for("the sequencer reconnects", lambda: events(lines, sequencer_back), lines)
        wait_for("/readyz is 200 again", lambda: get(f"{base}/readyz")[0] == 200, lines)
        assert get(f"{base}/api/v1/parties/", token)[0] == 200
        after = {n: p.pid for n, p in launched_children(launcher).items()}
        assert after["relay"] == before["relay"]
        assert after["sequencer"] == before["sequencer"]
        assert not [e for e in events(lines, "process exited; restarting it")
                    if e["process"] in ("relay", "sequencer", "api")]  # fmt: skip
    finally:
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(timeout=60)
    assert code == 0, "".join(lines[-40:])
    deadline = time.monotonic() + 10
    while (left := processes_of(var_dir, port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [p.info["cmdline"] for p in left]
