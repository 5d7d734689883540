"""deploy/: the Procfile and the systemd units start the same commands, as the application role.

The production test (tests/production) runs the Procfile; an operator may run the units
instead, so a command changed in one and not the other would go untested. Milliseconds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.production.procfile import read_procfile

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = {
    "api": "consentry-api.service",
    "worker": "consentry-worker@.service",
    "sequencer": "consentry-sequencer@.service",
    "relay": "consentry-relay.service",
}


def fixed_part(argv: list[str]) -> list[str]:
    """The command's words up to the first that the manager fills in ($PORT, %i...)."""
    words: list[str] = []
    for word in argv:
        if "$" in word or "%" in word:
            break
        words.append(word)
    return words


def unit_command(unit: str) -> list[str]:
    text = (DEPLOY / "systemd" / unit).read_text()
    (line,) = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    argv = shlex.split(line)
    assert argv[0].endswith("/.venv/bin/python"), argv[0]
    return ["python", *argv[1:]]


def test_the_procfile_and_the_units_start_the_same_commands() -> None:
    processes = read_procfile(DEPLOY / "Procfile")
    assert list(processes) == ["api", "worker", "sequencer", "relay"]
    for kind, command in processes.items():
        argv = shlex.split(command)
        assert argv[0] == "exec", f"{kind}: a signal must reach the service, not a shell"
        procfile = fixed_part(argv[1:])
        unit = fixed_part(unit_command(UNITS[kind]))
        assert procfile == unit, (kind, procfile, unit)
        assert len(procfile) >= 3, procfile  # the module or manage.py and what it runs


def test_no_process_gets_the_owners_url_and_every_unit_restarts() -> None:
    for path in [DEPLOY / "Procfile", DEPLOY / "consentry.env.example",
                 *(DEPLOY / "systemd").glob("*.service")]:  # fmt: skip
        text = path.read_text()
        assert not re.search(r"^\s*DATABASE_MIGRATION_URL\s*=", text, re.MULTILINE), path
        assert "consentry_owner" not in text, path
        if path.suffix == ".service":
            assert "Restart=always" in text, path
            assert "EnvironmentFile=/etc/consentry/consentry.env" in text, path
