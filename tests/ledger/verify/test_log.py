"""The offline verifier, ``python -m ledger.verify``, against a fake log served over HTTP.

Each tampering of the log must fail with exit status 1 and a message naming the entry or the
problem; a good log exits 0 and remembers its checkpoint.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.merkle import leaf_hash
from ledger.verify import (
    HttpLogClient,
    cli,
    main,
    verify_log,
)
from tests.ledger.fakelog import FakeLog, b64, flip_bit, make_entry, make_signer
from tests.ledger.verify.support import edited_entry, run, run_log

# ---- a good log ---------------------------------------------------------------------------


def test_a_good_log_verifies_and_writes_its_state(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"

    status, out, err = run_log(capsys, log, "--state", str(state))

    assert (status, err) == (0, "")
    assert f"origin: {log.origin} (not pinned" in out
    assert "size: 57" in out
    assert f"root: {b64(log.tree.root())}" in out
    assert "entries/s" in out
    assert json.loads(state.read_text()) == {
        "origin": log.origin,
        "size": 57,
        "root_hash": b64(log.tree.root()),
        "checkpoint": log.note().decode(),
    }
    assert not list(tmp_path.glob(".state.json.*")), "the temporary file is renamed into place"


def test_it_names_the_key_that_signed_by_its_hash_as_all_keys_share_the_name(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    # After a rotation an auditor passes the old and the new key; both have the log's name.
    retired = make_signer(log.signer.name)
    log.checkpoint_signer = log.signer

    status, out, _ = run(
        capsys,
        "--url",
        log.url,
        "--vkey",
        retired.verifier().key_string,
        "--vkey",
        log.vkey,
        "--quiet",
    )

    assert status == 0
    assert f"signed by: {log.signer.name}+{log.signer.key_id.hex()}\n" in out
    assert retired.key_id.hex() not in out


def test_a_second_run_checks_consistency_with_the_saved_state(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert run_log(capsys, log, "--state", str(state))[0] == 0
    log.append_test_entries(1200)
    log.requests.clear()

    status, out, _ = run_log(capsys, log, "--state", str(state), "--origin", log.origin)

    assert status == 0
    assert f"consistency: extends the state of size 57 in {state}" in out
    assert "/ledger/proof/consistency?first=57&second=1257" in log.requests
    assert json.loads(state.read_text())["size"] == 1257


def test_a_second_run_at_the_same_size_verifies(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert run_log(capsys, log, "--state", str(state))[0] == 0

    assert run_log(capsys, log, "--state", str(state))[0] == 0


def test_an_empty_log_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLog() as empty:
        status, out, _ = run_log(capsys, empty)

    assert status == 0
    assert "size: 0" in out


def test_it_pages_when_the_log_serves_fewer_entries_than_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeLog() as fake:
        fake.append_test_entries(2100)
        fake.page_limit = 333

        status, _, _ = run_log(capsys, fake)

    assert status == 0
    assert "/ledger/entries?start=333&end=1333" in fake.requests


def test_it_checks_the_first_and_last_inclusion_proofs_and_the_samples(log: FakeLog) -> None:
    result = verify_log(HttpLogClient(log.url), log.signer.verifier(), samples=5)

    asked = [r for r in log.requests if r.startswith("/ledger/proof/inclusion")]
    assert result.inclusion_proofs_checked == len(asked)
    assert 5 <= len(asked) <= 7
    assert "/ledger/proof/inclusion?index=0&tree_size=57" in asked
    assert "/ledger/proof/inclusion?index=56&tree_size=57" in asked


def test_it_shows_progress_on_stderr_unless_quiet(
    log: FakeLog, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_EVERY", 20)
    log.page_limit = 10

    assert main(["--url", log.url, "--vkey", log.vkey]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "checked 20 of 57 entries (35%)",
        "checked 40 of 57 entries (70%)",
        "checked 57 of 57 entries (100%)",
    ]
    assert main(["--url", log.url, "--vkey", log.vkey, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_it_accepts_any_of_several_keys(log: FakeLog, capsys: pytest.CaptureFixture[str]) -> None:
    other = make_signer("old-key").verifier().key_string

    assert run(capsys, "--url", log.url, "--vkey", other, "--vkey", log.vkey)[0] == 0


# ---- tampered logs ------------------------------------------------------------------------


def test_it_names_the_first_edited_entry(log: FakeLog, capsys: pytest.CaptureFixture[str]) -> None:
    log.served_data[41] = edited_entry(41)
    log.served_data[50] = edited_entry(50)

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert "entry 41: served leaf hash does not match its data" in err


def test_it_locates_an_entry_edited_with_its_leaf_hash_from_the_tiles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeLog() as fake:
        fake.append_test_entries(700)  # two full level-0 tiles and a partial one
        for index in (300, 650):
            fake.served_data[index] = edited_entry(index)
            fake.served_leaf_hash[index] = leaf_hash(edited_entry(index))

        status, _, err = run_log(capsys, fake)

    assert status == 1
    assert "root mismatch at size 700: recomputed " in err
    assert f"signed {b64(fake.tree.root())}" in err
    assert "entry 300 is the first that differs from the log's tiles" in err
    assert "/ledger/tile/0/001 has " + b64(leaf_hash(make_entry(300))) in err
    assert "/ledger/tile/0/000" not in fake.requests, "only the differing tile is fetched"


def test_it_locates_an_edit_in_the_partial_tile(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLog() as fake:
        fake.append_test_entries(700)
        fake.served_data[650] = edited_entry(650)
        fake.served_leaf_hash[650] = leaf_hash(edited_entry(650))

        status, _, err = run_log(capsys, fake)

    assert status == 1
    assert "entry 650 is the first that differs" in err
    assert "/ledger/tile/0/002.p/188" in err


def test_it_says_the_tree_misses_the_signed_root_when_the_tiles_agree(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.served_data[41] = edited_entry(41)
    log.served_leaf_hash[41] = leaf_hash(edited_entry(41))
    log.tiles_follow_edits = True

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert "root mismatch at size 57" in err
    assert "the tree does not reach the signed root" in err


def test_it_names_an_entry_that_is_not_canonical_json(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.rewrite(41, make_entry(41).replace(b'"v":1', b'"v": 1'))

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert "entry 41: not canonical JSON: entry bytes are not RFC 8785 canonical" in err


def test_skipping_the_canonical_check_still_checks_hashes(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.rewrite(41, make_entry(41).replace(b'"v":1', b'"v": 1'))

    assert run_log(capsys, log, "--no-canonical-check")[0] == 0
    log.served_data[3] = edited_entry(3)
    status, _, err = run_log(capsys, log, "--no-canonical-check")
    assert status == 1
    assert "entry 3: served leaf hash does not match its data" in err


def test_it_names_an_entry_the_log_left_out(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.skip_index = 12

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert "entry 12: the log served index 13 in its place" in err


def test_a_shrunk_log_fails(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    log.append_test_entries(1200 - 57)
    assert run_log(capsys, log, "--state", str(state))[0] == 0
    log.truncate(1000)

    status, _, err = run_log(capsys, log, "--state", str(state))

    assert status == 1
    assert "log shrank from 1200 to 1000 entries" in err
    assert json.loads(state.read_text())["size"] == 1200, "a failed run keeps the old state"


def test_rewritten_history_fails(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    log.append_test_entries(800 - 57)
    assert run_log(capsys, log, "--state", str(state))[0] == 0
    log.rewrite(41, edited_entry(41))
    log.append_test_entries(100)

    status, _, err = run_log(capsys, log, "--state", str(state))

    assert status == 1
    assert (
        f"history rewritten: the first 800 entries no longer have the root remembered in {state}"
        in err
    )


def test_a_checkpoint_for_another_origin_than_remembered_fails(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert run_log(capsys, log, "--state", str(state))[0] == 0
    log.origin = "elsewhere.example/log"

    status, _, err = run_log(capsys, log, "--state", str(state))

    assert status == 1
    assert "remembers origin 'consentry.localhost/ledger'" in err


def test_a_checkpoint_signed_by_another_key_fails(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.checkpoint_signer = make_signer(log.signer.name)

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert f"checkpoint: signature does not verify with key {log.signer.name}+" in err
    assert f"(the note is signed by {log.signer.name}+{log.checkpoint_signer.key_id.hex()})" in err


def test_a_checkpoint_with_a_flipped_signature_bit_fails(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    text, signature_line = log.note().decode().split("\n\n")
    name, encoded = signature_line.rstrip("\n").rsplit(" ", 1)
    flipped = base64.b64encode(flip_bit(base64.b64decode(encoded), byte=10)).decode()
    log.checkpoint_note = f"{text}\n\n{name} {flipped}\n".encode()

    status, _, err = run_log(capsys, log)

    assert status == 1
    assert "checkpoint: signature does not verify" in err
    assert "invalid signature for key" in err


def test_a_checkpoint_for_another_origin_than_pinned_fails(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_log(capsys, log, "--origin", "other.example/log")

    assert status == 1
    assert (
        "checkpoint: it is for origin 'consentry.localhost/ledger', not 'other.example/log'" in err
    )


def test_a_flipped_bit_in_an_inclusion_proof_fails(
    log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    log.flip_inclusion_proofs = True

    status, _, err = run_log(capsys, log, "--samples", "0")

    assert status == 1
    assert "entry 0: inclusion proof does not reach the root of tree size 57" in err


def test_a_flipped_bit_in_the_consistency_proof_fails(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert run_log(capsys, log, "--state", str(state))[0] == 0
    log.append_test_entries(30)
    log.flip_consistency_proofs = True

    status, _, err = run_log(capsys, log, "--state", str(state))

    assert status == 1
    assert "the log's consistency proof 57 -> 87" in err
