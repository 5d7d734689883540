"""`make run`'s launcher, end to end: from an empty var/ it starts the embedded PostgreSQL, the
API and a worker, answers /readyz, serves the demo tokens, every process of the service connects
as the application role, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg

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


def test_make_run_serves_the_demo_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
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
    finally:
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(timeout=60)
    assert code == 0, "".join(lines[-40:])
    deadline = time.monotonic() + 10
    while (left := processes_of(var_dir, port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [p.info["cmdline"] for p in left]
