"""The system checks fail fast, naming the variable, when the configuration cannot work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def manage_check(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env["CONSENTRY_VAR_DIR"] = str(tmp_path / "var")
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def test_it_requires_secret_key_outside_embedded_mode(tmp_path: Path) -> None:
    result = manage_check(tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "consentry.E001" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_it_names_the_embedded_database_when_it_is_not_running(tmp_path: Path) -> None:
    result = manage_check(tmp_path)
    assert result.returncode != 0
    assert "consentry.E002" in result.stderr
    assert "DATABASE_URL is not set" in result.stderr


def test_it_refuses_an_unsupported_broker(tmp_path: Path) -> None:
    result = manage_check(tmp_path, CELERY_BROKER_URL="kafka://127.0.0.1:9092")
    assert "consentry.E003" in result.stderr
    assert "'kafka'" in result.stderr


def test_it_names_a_missing_ledger_key(tmp_path: Path) -> None:
    result = manage_check(tmp_path, LEDGER_KEY_FILE=str(tmp_path / "nope.pem"))
    assert "consentry.E004" in result.stderr
    assert "nope.pem does not exist" in result.stderr


def test_the_embedded_mode_generates_its_secret_key_privately(tmp_path: Path) -> None:
    manage_check(tmp_path)
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) > 40


@pytest.mark.django_db
def test_pgvector_is_enabled_by_a_migration() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    assert row is not None
    assert tuple(int(p) for p in row[0].split(".")[:2]) >= (0, 8)


def test_it_warns_when_mp3s_cannot_be_decoded_by_libmpg123(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.checks import check_mp3_decoder
    from governance.content import mpg123

    assert check_mp3_decoder() == []  # installed here (make test installs it)
    monkeypatch.setattr(mpg123, "available", lambda: False)

    (warning,) = check_mp3_decoder()

    assert warning.id == "consentry.W003"
    assert "libmpg123-0" in warning.hint
