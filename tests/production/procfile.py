"""Starts instances of deploy/Procfile's process types with honcho, the process manager
docs/deployment.md tells an operator to run it with: ``honcho start -f deploy/Procfile -p PORT
TYPE`` for each instance, so the harness runs exactly the operator's command lines, with
honcho's ``PORT`` (given per instance here, as an operator gives each host or instance its own).

One honcho per instance, not one for the whole stack: honcho stops every process it manages
when one exits, and the faults kill some on purpose. The fault kills the service honcho
started (in a session of its own, with its children such as Celery's pool), as a crash or the
OOM killer would, not honcho.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from honcho.environ import parse_procfile


def read_procfile(path: Path) -> dict[str, str]:
    """``{process type: command}`` in the file's order, as honcho itself reads the file."""
    return dict(parse_procfile(path.read_text()).processes)


HONCHO = Path(sys.executable).with_name("honcho")


@dataclass
class Instance:
    """One started process of the Procfile: ``api.1``, ``worker.3``... ``proc`` is its honcho,
    ``pid`` the service honcho started (a shell that ``exec``-ed the command)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    pid: int

    def alive(self) -> bool:
        return self.proc.poll() is None and _running(self.pid)

    def kill(self) -> None:
        """SIGKILL the service's process group (it has a session of its own: the service and
        its children, such as Celery's pool or gunicorn's workers); its honcho then exits."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM honcho, which passes it on to the service and waits for it, then SIGKILL
        whatever is left."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        for group in (self.pid, self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.proc.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):  # a zombie has exited
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    return False


def _service_of(honcho: int, *, timeout: float = 60.0) -> int:
    """The pid of the service ``honcho`` started: the descendant leading a session of its own
    (honcho runs each process from a child of its own, through ``sh -c`` in a new session, and
    the Procfile's ``exec`` makes that shell the service)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(honcho).children(recursive=True):
                with contextlib.suppress(ProcessLookupError):
                    if os.getsid(child.pid) == child.pid:
                        return int(child.pid)
        time.sleep(0.05)
    raise RuntimeError(f"honcho (pid {honcho}) started no service in {timeout:.0f} s")


class Manager:
    """Starts Procfile instances in ``root`` with ``env``; logs go to ``log_dir``."""

    def __init__(self, procfile: Path, *, root: Path, env: dict[str, str], log_dir: Path,
                 base_port: int) -> None:  # fmt: skip
        self.procfile = procfile
        self.processes = read_procfile(procfile)
        self.root, self.env, self.log_dir, self.base_port = root, env, log_dir, base_port
        self.instances: list[Instance] = []

    def port(self, kind: str, number: int) -> int:
        return self.base_port + 100 * list(self.processes).index(kind) + number - 1

    def start(self, kind: str, number: int) -> Instance:
        if kind not in self.processes:
            raise ValueError(f"{self.procfile}: no process type {kind!r}")
        name = f"{kind}.{number}"
        port = self.port(kind, number)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(HONCHO), "start", "--no-colour", "--no-prefix", "-f", str(self.procfile),
                 "-d", str(self.root), "-p", str(port), kind],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        instance = Instance(name=name, port=port, proc=proc, log=log, pid=_service_of(proc.pid))
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
