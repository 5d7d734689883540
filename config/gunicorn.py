"""Gunicorn's settings for the API, read by ``make run`` and the benchmarks
(``gunicorn -c config/gunicorn.py config.wsgi:application``).

Threaded workers (``gthread``): a process serves ``WEB_THREADS`` requests at once, which lets
the synchronous checks that arrive together be decided in one transaction (group commit,
governance/services/checks.py), and keeps a slow upload from holding a whole process.
``WEB_CONCURRENCY`` processes (one per core is the usual start). Each thread keeps its own
database connection (CONN_MAX_AGE), so the database must allow processes x threads of them.

Requests gunicorn refuses itself, before Django sees them (a control byte in a header, a header
over ``limit_request_field_size``, a request line over ``limit_request_line``: 400, 431, 414),
are answered in the API's common error body, ``{"code", "message", "fields"}``, instead of
gunicorn's HTML page: see ``write_error`` below and docs/api-errors.md.
"""

from __future__ import annotations

import gc
import json
import os
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]  # gunicorn ships no type hints

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
graceful_timeout = 10
# The default control socket is one per user: two instances would share it.
control_socket_disable = True
# No access log: django-structlog logs every request as a JSON line, with its request id,
# status and caller.


def post_fork(server: Any, worker: Any) -> None:
    # What the app loaded at start-up lives as long as the process: keep it out of the cyclic
    # collector's passes, which would otherwise walk all of it again and again.
    gc.freeze()


# --- Errors gunicorn answers itself -------------------------------------------------------------
# The limits are gunicorn's defaults, stated so that docs/api-errors.md can name them.
limit_request_line = 4094
limit_request_field_size = 8190
limit_request_fields = 100

_ERROR_CODES = {
    400: "bad_request",
    403: "permission_denied",
    414: "request_line_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "server_error",
    501: "not_implemented",
}


def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error`` (same signature, same framing), with the common error
    body in JSON instead of an HTML page. The server's own message names what it refused; a
    500 says no more than Django's does."""
    message = (mesg or reason) if status_int != 500 else "The server failed; the error is logged."
    body = json.dumps(
        {"code": _ERROR_CODES.get(status_int, "bad_request"), "message": message, "fields": {}}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


# gunicorn has no setting for its error page: its workers call ``util.write_error`` by name, so
# replacing it here (the config file runs in the master, before the workers fork) changes it.
util.write_error = write_error
