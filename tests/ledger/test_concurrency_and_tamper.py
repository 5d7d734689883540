"""Several OS processes append at once: indexes come out gapless, every entry exactly once,
and the tree verifies. An entry edited behind the triggers' back is found and named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ledger import canonical, merkle, services
from ledger.audit import ledger_audit
from ledger.exceptions import VerificationError
from ledger.models import Entry
from tests.dbroles import as_superuser
from tests.ledger.helpers import append_many, sequence

BASE_DIR = Path(__file__).resolve().parents[2]
WRITERS, PER_WRITER = 4, 250


def test_concurrent_writers_get_gapless_indexes_and_a_verifying_tree(
    scratch_database: dict[str, str],
) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.concurrent_writer", str(w), str(PER_WRITER)],
            cwd=BASE_DIR,
            env=scratch_database,
        )
        for w in range(WRITERS)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0] * WRITERS
    check = (
        "import django, json; django.setup()\n"
        "from django.utils import timezone\n"
        "from ledger import services\n"
        "from ledger.audit import ledger_audit\n"
        "from ledger.models import Entry\n"
        "services.sequence_and_sign(now=timezone.now())\n"
        "r = ledger_audit()\n"
        "rows = list(Entry.objects.order_by('index').values_list('index', 'data'))\n"
        "print(json.dumps({'size': r.size, 'checkpoints': r.checkpoints,\n"
        "  'indexes': [i for i, _ in rows], 'data': [bytes(d).decode() for _, d in rows]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check],
        cwd=BASE_DIR,
        env=scratch_database,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The migrations ledger the consent matrix's first version; the writers' entries follow.
    entries = [canonical.decode_entry(d.encode()) for d in result["data"]]
    seeded = [e for e in entries if e.kind != "test"]
    assert [e.kind for e in seeded] == ["consent_matrix"]
    assert result["size"] == len(seeded) + WRITERS * PER_WRITER
    assert result["indexes"] == list(range(result["size"]))
    seen = [(e.payload["writer"], e.payload["i"]) for e in entries if e.kind == "test"]
    assert sorted(seen) == [(w, i) for w in range(WRITERS) for i in range(PER_WRITER)]
    assert result["checkpoints"] >= 1


@pytest.mark.django_db
def test_an_entry_edited_with_triggers_disabled_is_named_by_the_audit() -> None:
    append_many(20)
    sequence()
    ledger_audit()  # holds before the edit
    victim = Entry.objects.order_by("index")[7]
    forged = canonical.encode_entry(kind="test", time=timezone.now(), payload={"i": "forged"})
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("UPDATE ledger_entry SET data = %s WHERE idx = %s", [forged, victim.index])
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
    with pytest.raises(VerificationError, match=rf"entry {victim.index}: stored leaf hash"):
        ledger_audit()
    # Editing the leaf hash too is caught by the tree nodes.
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE ledger_entry SET leaf_hash = %s WHERE idx = %s",
            [merkle.leaf_hash(forged), victim.index],
        )
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
    with pytest.raises(VerificationError, match=rf"entry {victim.index}: tree node"):
        ledger_audit()


@pytest.mark.django_db
def test_the_verify_command_exits_non_zero_naming_the_entry(capsys) -> None:  # type: ignore[no-untyped-def]
    append_many(5)
    sequence()
    call_command("ledger_verify")
    assert "ledger verifies" in capsys.readouterr().out
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("UPDATE ledger_entry SET data = 'x'::bytea WHERE idx = 2")
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
    with pytest.raises(SystemExit) as exit_info:
        call_command("ledger_verify")
    assert exit_info.value.code == 1
    assert "entry 2: not a canonical entry" in capsys.readouterr().err


@pytest.mark.django_db
def test_key_rotation_is_ledgered_and_the_old_key_signs_a_last_checkpoint(
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from ledger.keys import create_signing_key
    from ledger.models import Checkpoint, SigningKey

    key_file = tmp_path / "ledger.pem"
    create_signing_key(key_file)
    settings.LEDGER_KEY_FILE = key_file
    services.key_register(signer=services.current_signer(), now=timezone.now())
    append_many(3)
    sequence()
    old_vkey = services.current_signer().verifier().key_string
    call_command("ledger_rotate_key")
    new_vkey = services.current_signer().verifier().key_string
    assert new_vkey != old_vkey
    keys = {k.vkey: k for k in SigningKey.objects.all()}
    assert keys[old_vkey].valid_until is not None
    assert keys[new_vkey].valid_until is None
    rotation = Entry.objects.order_by("-index").first()
    assert rotation is not None
    decoded = canonical.decode_entry(bytes(rotation.data))
    assert decoded.payload["event"] == "rotated"
    assert decoded.payload["previous_vkey"] == old_vkey
    last_old = Checkpoint.objects.order_by("-size").first()
    assert last_old is not None
    assert last_old.size == rotation.index + 1
    assert last_old.key_name == old_vkey
    append_many(2)
    newest = sequence()
    assert newest.key_name == new_vkey
    ledger_audit()
    assert len(list(tmp_path.glob("ledger.retired-*.pem"))) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("committed")
def test_a_write_with_a_smaller_id_committed_during_a_rotation_is_signed_by_the_new_key(
    settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Ids are taken at insert, commits come in any order: a writer that took its id before
    the rotation entry's and commits while the rotation integrates must be left for after the
    rotation entry (signed by the new key), not sequenced behind it under the old key."""
    from ledger.keys import create_signing_key
    from ledger.models import Checkpoint, PendingEntry
    from tests.dbroles import app_connection

    key_file = tmp_path / "ledger.pem"
    create_signing_key(key_file)
    settings.LEDGER_KEY_FILE = key_file
    services.key_register(signer=services.current_signer(), now=timezone.now())
    append_many(2)
    sequence()
    old_vkey = services.current_signer().verifier().key_string
    late = canonical.encode_entry(kind="test", time=timezone.now(), payload={"late": True})
    other = app_connection()
    other.autocommit = False
    other.execute(  # takes its id now, before the rotation entry's; commits later
        "INSERT INTO ledger_pending (data, kind, created_at) VALUES (%s, 'test', now())", [late]
    )
    real_integrate = services.integrate

    def integrate_then_commit_the_writer(**kwargs):  # type: ignore[no-untyped-def]
        done = real_integrate(**kwargs)
        if not other.closed:
            other.commit()  # between two of the rotation's batches
            other.close()
        return done

    monkeypatch.setattr(services, "integrate", integrate_then_commit_the_writer)
    call_command("ledger_rotate_key")
    assert other.closed
    entries = [bytes(e.data) for e in Entry.objects.order_by("index")]
    events = [canonical.decode_entry(d).payload.get("event") for d in entries]
    rotation = events.index("rotated")
    assert rotation == len(entries) - 1, "nothing is sequenced behind the rotation entry"
    last_old = Checkpoint.objects.filter(key_name=old_vkey).order_by("-size").first()
    assert last_old is not None
    assert last_old.size == rotation + 1
    assert late not in entries
    assert PendingEntry.objects.filter(data=late).exists()  # the new key's, next round
