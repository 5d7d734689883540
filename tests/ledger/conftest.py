"""Fixtures of the ledger tests: a scratch database that several processes can commit to."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config import embedded

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database() -> Iterator[dict[str, str]]:
    """A migrated database of its own, so several processes can commit to it. Yields the
    environment of a process that uses it; ``SCRATCH_CONNINFO`` connects to it as the embedded
    cluster's superuser (the attacker of the tamper tests)."""
    endpoint = embedded.running_endpoint()
    if endpoint is None or "DATABASE_URL" in os.environ:
        pytest.fail("the concurrency test runs on the embedded PostgreSQL (unset DATABASE_URL)")
    name = f"consentry_conc_{uuid.uuid4().hex[:8]}"
    embedded.create_database(endpoint, name)
    env = {**os.environ, "CONSENTRY_DATABASE_NAME": name, "LOG_LEVEL": "WARNING"}
    from django.conf import settings

    env["LEDGER_KEY_FILE"] = str(settings.LEDGER_KEY_FILE)
    env["SCRATCH_CONNINFO"] = endpoint.conninfo(name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    yield env
    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
