"""What the HTTP server answers to requests it refuses before Django (issue 12): a real gunicorn
with config/gunicorn.py on a loopback port; each answer is the common error body."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    port = _free_port()
    env = os.environ | {"WEB_CONCURRENCY": "1", "WEB_THREADS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
         "-b", f"127.0.0.1:{port}", "config.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _send(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not answer within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _send(port: int, raw: bytes) -> tuple[int, str, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b"Connection: close" not in data.split(b"\r\n\r\n")[0]:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    content_type = next(
        (
            line.split(":", 1)[1].strip()
            for line in lines
            if line.lower().startswith("content-type")
        ),
        "",
    )
    return int(lines[0].split()[1]), content_type, body


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x01b\r\n\r\n", 400, "bad_request"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (
            b"GET /" + b"a" * 4096 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            414,
            "request_line_too_long",
        ),
    ],
    ids=["control-byte-in-a-header", "10-kB-header", "4-kB-request-line"],
)
def test_the_server_refuses_a_malformed_request_in_the_common_error_body(
    server: int, raw: bytes, status: int, code: str
) -> None:
    got_status, content_type, body = _send(server, raw)
    assert got_status == status
    assert content_type == "application/json"
    error = json.loads(body)
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert error["fields"] == {}
