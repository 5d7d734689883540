"""The one test seam: faults that the process-level tests inject into the running service.

Each fault is off unless its setting is set, and every setting is 0 in service (docs/
configuration.md marks them "tests only"). Keeping them here, not inside the services, means the
code that decides reads as it runs in production, and a reader sees in one place every way a
test can bend it.
"""

from __future__ import annotations

import time

from django.conf import settings


def pause_inside_decision_transaction() -> None:
    """``CONSENTRY_FAULT_DECIDE_DELAY`` seconds of sleep after a chunk's decisions are written
    and before its transaction commits: the window in which tests/governance/test_worker_crash.py
    kills a worker mid-task, to show the chunk rolls back whole and is decided again once."""
    delay = float(settings.FAULT_DECIDE_DELAY)
    if delay:
        time.sleep(delay)
