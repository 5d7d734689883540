"""The verifier's command line and state file: network and HTTP failures exit 2, local errors
too; the package runs as a command and imports no Django.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger import verify
from ledger.exceptions import VerificationError
from ledger.verify import (
    HttpLogClient,
    State,
    verify_log,
)
from tests.ledger.fakelog import FakeLog, make_signer
from tests.ledger.verify.support import REPO, run, run_log

# ---- network and local errors -------------------------------------------------------------


def test_an_http_error_exits_2_naming_the_url_and_status(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.fail_status = 500

    status, out, err = run_log(capsys, log)

    assert (status, out) == (2, "")
    assert f"GET {log.url}/ledger/checkpoint: HTTP 500 internal: The fake log" in err
    assert "Traceback" not in err


def test_an_unreachable_log_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    status, _, err = run(capsys, "--url", url, "--vkey", make_signer().verifier().key_string)

    assert status == 2
    assert f"error: GET {url}/ledger/checkpoint: " in err


def test_a_malformed_key_or_url_exits_2(log: FakeLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--url", log.url, "--vkey", "nonsense")[0] == 2
    assert run(capsys, "--url", "file:///etc/passwd", "--vkey", log.vkey)[0] == 2


def test_an_unreadable_state_file_exits_2(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")

    status, _, err = run_log(capsys, log, "--state", str(state))

    assert status == 2
    assert f"state file {state} is not a verifier state" in err


# ---- state and the command line ------------------------------------------------------------


def test_state_round_trips_through_its_file(tmp_path: Path) -> None:
    state = State(origin="o", size=3, root_hash=bytes(32), checkpoint="o\n3\nAAAA\n\n")
    path = tmp_path / "state.json"

    verify.save_state(path, state)

    assert verify.load_state(path) == state
    assert verify.load_state(tmp_path / "missing.json") is None


def test_verify_log_raises_when_the_checkpoint_is_not_signed_by_the_given_key(
    log: FakeLog,
) -> None:
    other = make_signer(log.signer.name).verifier()

    with pytest.raises(VerificationError, match="checkpoint: signature does not verify"):
        verify_log(HttpLogClient(log.url), other)


def test_the_module_runs_as_a_command_and_imports_no_django(log: FakeLog) -> None:
    command = [sys.executable, "-m", "ledger.verify", "--url", log.url, "--vkey", log.vkey]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "size: 57" in done.stdout

    probe = (
        "import sys, ledger.verify; "
        "print(sorted(m for m in sys.modules "
        "if m.partition('.')[0] in ('django', 'rest_framework', 'celery')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
