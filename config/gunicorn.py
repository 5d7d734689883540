"""Gunicorn's settings for the API, read by ``make run`` and the benchmarks
(``gunicorn -c config/gunicorn.py config.wsgi:application``).

Threaded workers (``gthread``): a process serves ``WEB_THREADS`` requests at once, which lets
the synchronous checks that arrive together be decided in one transaction (group commit,
governance/services/checks.py), and keeps a slow upload from holding a whole process.
``WEB_CONCURRENCY`` processes (one per core is the usual start). Each thread keeps its own
database connection (CONN_MAX_AGE), so the database must allow processes x threads of them.
"""

from __future__ import annotations

import gc
import os
from typing import Any

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
