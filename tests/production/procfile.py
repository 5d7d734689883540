"""TEMPORARY stand-in for honcho, until honcho is in the test extras: reads deploy/Procfile and
starts instances of its process types the way ``honcho start`` does (each line run by
``/bin/sh -c`` in its own session, ``PORT`` = base (a multiple of 1000) + 100 x the line's
position + the instance's number - 1), so the harness runs exactly the operator's command lines.

One manager per instance, not one for the whole stack: honcho stops every process when one
exits, and the faults kill some on purpose.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^([A-Za-z0-9_]+):\s*(.+)$")  # honcho's


def read_procfile(path: Path) -> dict[str, str]:
    """``{process type: command}`` in the file's order (comments and blank lines skipped)."""
    processes: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}: not a Procfile line: {raw!r}")
        processes[match.group(1)] = match.group(2)
    return processes


@dataclass
class Instance:
    """One started process of the Procfile: ``api.1``, ``worker.3``..."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, or the OOM killer (main process and its
        children, such as Celery's pool or gunicorn's workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the main process (what honcho and systemd send), then whatever is left."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Manager:
    """Starts Procfile instances in ``root`` with ``env``; logs go to ``log_dir``."""

    def __init__(self, procfile: Path, *, root: Path, env: dict[str, str], log_dir: Path,
                 base_port: int) -> None:  # fmt: skip
        self.processes = read_procfile(procfile)
        self.root, self.env, self.log_dir, self.base_port = root, env, log_dir, base_port
        self.instances: list[Instance] = []

    def port(self, kind: str, number: int) -> int:
        return self.base_port + 100 * list(self.processes).index(kind) + number - 1

    def start(self, kind: str, number: int) -> Instance:
        name = f"{kind}.{number}"
        port = self.port(kind, number)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", self.processes[kind]],
                cwd=self.root,
                env={**self.env, "PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        instance = Instance(name=name, port=port, proc=proc, log=log)
        self.instances.append(instance)
        return instance

    def of(self, kind: str) -> list[Instance]:
        return [i for i in self.instances if i.name.startswith(kind + ".")]

    def stop_all(self) -> None:
        for instance in self.instances:
            if instance.alive():
                instance.proc.terminate()
        deadline = time.monotonic() + 20
        for instance in self.instances:
            instance.stop(timeout=max(0.1, deadline - time.monotonic()))
