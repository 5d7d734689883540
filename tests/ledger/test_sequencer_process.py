"""The ledger sequencer as a process (``manage.py ledger_sequencer``) on a database of its own:

* each step of the rewrite attack of issue 12, made by a database superuser while the sequencer
  runs, or before a fresh one starts, ends in a refused signature, an error-level alert naming
  the first entry that disagrees, and exit status 3;
* a key rotation during a stream of writes leaves no entry uncovered by a checkpoint for more
  than 2 s, and every checkpoint after the rotation entry is signed by the new key.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import canonical, merkle_trees, note
from ledger.keys import create_signing_key, load_signing_key
from tests.ledger.tamper import Through, rewrite_entry

BASE_DIR = Path(__file__).resolve().parents[2]
EXIT_TAMPERED = 3
VICTIM = 7


def manage(env: dict[str, str], *argv: str) -> list[str]:
    return [sys.executable, "manage.py", *argv]


@contextmanager
def sequencer(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        manage(env, "ledger_sequencer", "--idle-sleep", "0.02"),
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write(conn: psycopg.Connection[Any], i: int) -> None:
    """One ordinary write: what ``entry_append`` does in a writer's transaction."""
    now = dt.datetime.now(dt.UTC)
    data = canonical.encode_entry(kind="test", time=now, payload={"i": i})
    with conn.transaction():
        conn.execute(
            "INSERT INTO ledger_pending (data, kind, created_at) VALUES (%s, 'test', %s)",
            [data, now],
        )


def scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    return None if row is None else row[0]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def signed_size(conn: psycopg.Connection[Any]) -> int:
    return int(scalar(conn, "SELECT coalesce(max(size), 0) FROM ledger_checkpoint"))


def head_size(conn: psycopg.Connection[Any]) -> int:
    return int(scalar(conn, "SELECT size FROM ledger_head"))


def alerts(stderr: str) -> list[dict[str, Any]]:
    out = []
    for line in stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "ledger tampered":
            out.append(event)
    return out


def forged() -> bytes:
    return canonical.encode_entry(
        kind="test", time=dt.datetime.now(dt.UTC), payload={"i": "forged"}
    )


def attack(conn: psycopg.Connection[Any], *, through: Through) -> None:
    """As the superuser: bypass the triggers, rewrite entry VICTIM up to ``through``; then one
    ordinary write."""
    with conn.transaction():
        rewrite_entry(conn.cursor(), index=VICTIM, data=forged(), through=through)
    write(conn, 1000)


@pytest.fixture
def env(scratch_database: dict[str, str]) -> dict[str, str]:
    return {**scratch_database, "LEDGER_CHECKPOINT_INTERVAL": "0.2"}


@pytest.fixture
def db(env: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(env["SCRATCH_CONNINFO"], autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize(
    ("through", "first", "last"),
    # Data or leaf hash edited: the scrub names the entry. The stored tree rewritten too: the
    # right edge the sequencer verified, [0, 16), holds it.
    [("data", VICTIM, VICTIM), ("leaf", VICTIM, VICTIM), ("nodes", 0, 15)],
)
def test_a_running_sequencer_refuses_to_sign_after_each_step_of_the_rewrite(
    env: dict[str, str], db: psycopg.Connection[Any], through: Through, first: int, last: int
) -> None:
    with sequencer(env) as proc:
        for i in range(20):
            write(db, i)
        # The seeded consent matrix, the sequencer's key entry and the 20 writes.
        wait_for(lambda: signed_size(db) == 22, timeout=30, what="a checkpoint of size 22")

        attack(db, through=through)

        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the sequencer kept running over a rewritten history")
        _, err = proc.communicate()
    assert proc.returncode == EXIT_TAMPERED, err
    assert signed_size(db) == 22, "no checkpoint covers the write after the rewrite"
    [alert] = alerts(err)
    assert alert["level"] == "error"
    assert (alert["first_index"], alert["last_index"]) == (first, last)
    assert "LEDGER TAMPERED, nothing signed" in err


@pytest.mark.parametrize(
    ("through", "first", "last"),
    # With one checkpoint only, a consistent rewrite is bounded by it: [0, 22).
    [("data", VICTIM, VICTIM), ("leaf", VICTIM, VICTIM), ("nodes", 0, 21)],
)
def test_a_freshly_started_sequencer_refuses_to_sign_after_each_step_of_the_rewrite(
    env: dict[str, str], db: psycopg.Connection[Any], through: Through, first: int, last: int
) -> None:
    for i in range(20):
        write(db, i)
    once = manage(env, "ledger_sequencer", "--once")
    subprocess.run(once, cwd=BASE_DIR, env=env, check=True, timeout=60)
    assert signed_size(db) == head_size(db) == 22

    attack(db, through=through)
    result = subprocess.run(once, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == EXIT_TAMPERED, result.stderr
    assert signed_size(db) == head_size(db) == 22, "nothing integrated, nothing signed"
    [alert] = alerts(result.stderr)
    assert (alert["first_index"], alert["last_index"]) == (first, last)


def test_a_rotation_during_a_stream_of_writes_signs_every_entry_with_the_right_key(
    scratch_database: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "ledger.pem"
    create_signing_key(key_file)
    # The default checkpoint interval (1 s), as operators run it. How soon an entry is signed is
    # a measured figure (benchmarks/ledger_append.py), not a clock in a test: this checks order.
    env = {**scratch_database, "LEDGER_KEY_FILE": str(key_file)}
    env.pop("LEDGER_CHECKPOINT_INTERVAL", None)
    stop_writing = threading.Event()
    written = 0

    def writer() -> None:
        nonlocal written
        with psycopg.connect(env["SCRATCH_CONNINFO"], autocommit=True) as conn:
            while not stop_writing.is_set():
                write(conn, written)
                written += 1
                time.sleep(0.005)

    with (
        psycopg.connect(env["SCRATCH_CONNINFO"], autocommit=True) as db,
        sequencer(env) as proc,
    ):
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            time.sleep(2.5)
            rotated = subprocess.run(
                manage(env, "ledger_rotate_key"),
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            time.sleep(3.5)
        finally:
            stop_writing.set()
            thread.join()
        assert rotated.returncode == 0, rotated.stderr
        wait_for(
            lambda: signed_size(db) == head_size(db) and head_size(db) >= written,
            timeout=10,
            what="the last writes to be signed",
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        entries = db.execute(
            "SELECT idx, data, sequenced_at FROM ledger_entry ORDER BY idx"
        ).fetchall()
        checkpoints = db.execute(
            "SELECT size, note, key_name, signed_at FROM ledger_checkpoint ORDER BY size"
        ).fetchall()
        keys = {
            vkey: valid_until
            for vkey, valid_until in db.execute("SELECT vkey, valid_until FROM ledger_key")
        }

    assert written > 300
    rotation = [
        idx
        for idx, data, _ in entries
        if (e := canonical.decode_entry(bytes(data))).kind == "key"
        and e.payload["event"] == "rotated"
    ]
    assert len(rotation) == 1
    [old_vkey] = [k for k, until in keys.items() if until is not None]
    [new_vkey] = [k for k, until in keys.items() if until is None]
    # Up to the rotation entry the old key signs; after it, only the new one. The old key's
    # last checkpoint ends at the rotation entry, however many writes commit meanwhile.
    assert (rotation[0] + 1, old_vkey) in [(c[0], c[2]) for c in checkpoints], (
        f"rotation entry {rotation[0]} sequenced at {entries[rotation[0]][2]}; keys {keys}; "
        f"checkpoints {[(c[0], c[2][-8:], c[3]) for c in checkpoints]}"
    )
    for size, text, key_name, _ in checkpoints:
        expected = old_vkey if size <= rotation[0] + 1 else new_vkey
        assert key_name == expected, f"checkpoint {size}"
        verifier = note.parse_verifier_key_string(expected)
        note.open_note(text.encode(), [verifier])
    assert checkpoints[-1][0] == len(entries)
    assert sum(1 for c in checkpoints if c[0] > rotation[0] + 1) >= 2
    # Every entry is covered by a checkpoint signed after it was integrated.
    sizes = [c[0] for c in checkpoints]
    position = 0
    for idx, _, sequenced_at in entries:
        while sizes[position] <= idx:
            position += 1
        assert checkpoints[position][3] >= sequenced_at, f"entry {idx}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_verifier_with_a_state_from_before_the_attack_refuses_a_rewritten_log_signed_anyway(
    env: dict[str, str], db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    for i in range(20):
        write(db, i)
    subprocess.run(
        manage(env, "ledger_sequencer", "--once"), cwd=BASE_DIR, env=env, check=True, timeout=60
    )
    bind = f"127.0.0.1:{free_port()}"
    url = f"http://{bind}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-w", "1", "-b", bind],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def serving() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/ledger/checkpoint", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(serving, timeout=60, what="the API")
        vkey = str(scalar(db, "SELECT vkey FROM ledger_key"))
        state = tmp_path / "state.json"
        verify = [sys.executable, "-m", "ledger.verify", "--url", url, "--vkey", vkey]
        verify += ["--quiet", "--workers", "1"]
        before = subprocess.run(
            [*verify, "--state", str(state)], capture_output=True, text=True, timeout=60
        )
        assert before.returncode == 0, before.stderr
        assert "verified:" in before.stdout

        # The whole attack, and more: the sequencer refuses to sign it (tests above), so the
        # attacker, who here also holds the key file, signs the rewritten tree itself.
        attack(db, through="nodes")
        data = [bytes(d) for (d,) in db.execute("SELECT data FROM ledger_entry ORDER BY idx")]
        root = merkle_trees.MemoryTree.from_entries(data).root()
        signer = note.Signer(
            name=env.get("LEDGER_KEY_NAME", "consentry.localhost/ledger"),
            private_key=load_signing_key(Path(env["LEDGER_KEY_FILE"])),
        )
        forged_note = note.sign_checkpoint(
            note.Checkpoint(origin="consentry.localhost/ledger", size=22, root_hash=root),
            [signer],
        )
        with db.transaction():
            db.execute("SET session_replication_role = replica")
            db.execute(
                "UPDATE ledger_checkpoint SET note = %s, root_hash = %s WHERE size = 22",
                [forged_note.decode(), root],
            )
            db.execute("UPDATE ledger_head SET root_hash = %s", [root])
            db.execute("SET session_replication_role = DEFAULT")

        without_state = subprocess.run(verify, capture_output=True, text=True, timeout=60)
        with_state = subprocess.run(
            [*verify, "--state", str(state)], capture_output=True, text=True, timeout=60
        )
    finally:
        server.terminate()
        server.wait(timeout=20)

    # Without memory, a rewritten log under a valid signature looks whole; with it, it does not.
    assert without_state.returncode == 0, without_state.stderr
    assert with_state.returncode == 1
    assert (
        f"history rewritten: the first 22 entries no longer have the root remembered in {state}"
        in with_state.stderr
    )
