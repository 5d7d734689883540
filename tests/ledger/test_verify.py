"""The offline verifier, ``python -m ledger.verify``, against a fake log served over HTTP.

Each tampering of the log must fail with exit status 1 and a message naming the entry or the
problem; network and HTTP failures exit 2; a good log exits 0 and remembers its checkpoint.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import verify
from ledger.canonical import decode_entry, encode_entry
from ledger.merkle import MemoryTree, leaf_hash
from ledger.tiles import TileRef
from ledger.verification import VerificationError
from ledger.verify import (
    CanonicalChecker,
    FetchError,
    HttpLogClient,
    State,
    main,
    verify_log,
    verify_receipt,
)
from tests.ledger.fakelog import ENTRY_TIME, FakeLog, b64, flip_bit, make_entry, make_signer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def log() -> Iterator[FakeLog]:
    with FakeLog() as fake:
        fake.append_test_entries(57)
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_log(capsys: pytest.CaptureFixture[str], log: FakeLog, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "--url", log.url, "--vkey", log.vkey, "--quiet", *extra)


def edited_entry(i: int) -> bytes:
    return encode_entry(kind="test", time=ENTRY_TIME, payload={"i": i, "note": "edited"})


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
    monkeypatch.setattr(verify, "PROGRESS_EVERY", 20)
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


# ---- receipts -----------------------------------------------------------------------------


def write_receipt(tmp_path: Path, receipt: dict[str, object]) -> str:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return str(path)


def test_a_good_receipt_verifies(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_receipt(tmp_path, log.receipt(41))

    status, out, _ = run(capsys, "receipt", path, "--vkey", log.vkey, "--origin", log.origin)

    assert status == 0
    assert out == (
        f"entry 41 is included in {log.origin} at size 57, checkpoint signed by "
        f"{log.signer.name}+{log.signer.key_id.hex()}\n"
    )


def test_the_entry_endpoints_answer_verifies_as_a_receipt(log: FakeLog) -> None:
    served = json.loads(HttpLogClient(log.url).get(f"{log.url}/ledger/entries/7", accept="*/*"))

    result = verify_receipt(served, log.signer.verifier())

    assert (result.index, result.tree_size, result.entry.payload) == (
        7,
        57,
        {"i": 7, "note": "entry 7"},
    )


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("entry", "entry 41: the receipt's leaf_hash does not match SHA-256(0x00 || entry)"),
        ("inclusion_proof", "entry 41: inclusion proof does not reach the root of tree size 57"),
        ("checkpoint", "checkpoint: signature does not verify"),
    ],
)
def test_a_receipt_with_a_flipped_bit_fails(
    log: FakeLog,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    member: str,
    expected: str,
) -> None:
    receipt = log.receipt(41)
    if member == "entry":
        receipt["entry"] = b64(flip_bit(base64.b64decode(receipt["entry"]), byte=30))
    elif member == "inclusion_proof":
        proof = receipt["inclusion_proof"]
        proof[2] = b64(flip_bit(base64.b64decode(proof[2]), bit=7))
    else:
        text, signature_line = receipt["checkpoint"].split("\n\n")
        name, encoded = signature_line.rstrip("\n").rsplit(" ", 1)
        flipped = b64(flip_bit(base64.b64decode(encoded), byte=20))
        receipt["checkpoint"] = f"{text}\n\n{name} {flipped}\n"
    path = write_receipt(tmp_path, receipt)

    status, _, err = run(capsys, "receipt", path, "--vkey", log.vkey)

    assert status == 1
    assert expected in err


def test_a_receipt_whose_tree_size_is_not_its_checkpoints_fails(log: FakeLog) -> None:
    receipt = {**log.receipt(41), "tree_size": 56}

    with pytest.raises(VerificationError, match="'tree_size' is 56 but its checkpoint has size 57"):
        verify_receipt(receipt, log.signer.verifier())


def test_a_receipt_for_another_origin_fails(log: FakeLog) -> None:
    with pytest.raises(VerificationError, match="checkpoint: it is for origin"):
        verify_receipt(log.receipt(3), log.signer.verifier(), origin="other.example/log")


def test_a_receipt_with_a_non_canonical_entry_fails(log: FakeLog) -> None:
    log.rewrite(5, make_entry(5).replace(b'"v":1', b'"v":1 '))

    with pytest.raises(VerificationError, match="entry 5: not canonical JSON"):
        verify_receipt(log.receipt(5), log.signer.verifier())


def test_a_missing_receipt_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vkey = make_signer().verifier().key_string

    status, _, err = run(capsys, "receipt", str(tmp_path / "none.json"), "--vkey", vkey)

    assert status == 2
    assert "cannot read receipt" in err


def test_a_receipt_file_that_is_not_json_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text("not json")

    status, _, err = run(
        capsys, "receipt", str(path), "--vkey", make_signer().verifier().key_string
    )

    assert status == 1
    assert "is not JSON" in err


# ---- the fast canonical check agrees with decode_entry ------------------------------------

GOOD = make_entry(0)
CASES = [
    GOOD,
    make_entry(1, kind="consent.granted"),
    encode_entry(kind="party", time=ENTRY_TIME, payload={"name": "Zoë Ünal", "x": "\u2028"}),
    encode_entry(kind="party", time=ENTRY_TIME, payload={"\ue000": 1, "\U0001f600": 2}),
    encode_entry(kind="t", time=ENTRY_TIME, payload={"f": 1.5, "g": 1e21, "h": -0.0001}),
    encode_entry(kind="t", time=ENTRY_TIME, payload={"big": 2**53 - 1, "neg": -(2**53 - 1)}),
    encode_entry(kind="t", time=ENTRY_TIME, payload={"c": '\x01\x1f"\\/\b\f\n\r\t', "n": None}),
    encode_entry(kind="t", time=ENTRY_TIME, payload={"deep": [[[{"a": [True, False]}]]]}),
    GOOD.replace(b'"v":1', b'"v": 1'),
    GOOD.replace(b'"v":1}', b'"v":1} '),
    b'{"v":1,' + GOOD[1:].replace(b',"v":1', b""),
    GOOD.replace(b'"v":1', b'"v":1,"v":1'),
    GOOD.replace(b'"v":1', b'"v":2'),
    GOOD.replace(b'"v":1', b'"v":true'),
    GOOD.replace(b'"v":1', b'"v":1.0'),
    GOOD.replace(b'"v":1', b'"v":1,"w":1'),
    GOOD.replace(b'"type":"test"', b'"type":"Test"'),
    GOOD.replace(b'"type":"test"', b'"type":7'),
    GOOD.replace(b"2026-11-25T19:52:18.123Z", b"2026-02-30T19:52:18.123Z"),
    GOOD.replace(b"2026-11-25T19:52:18.123Z", b"2026-11-25T24:52:18.123Z"),
    GOOD.replace(b"2026-11-25T19:52:18.123Z", b"2026-11-25T19:52:18.12Z"),
    GOOD.replace(b'{"i":0', b'{"i":1.0'),
    GOOD.replace(b'{"i":0', b'{"i":1e2'),
    GOOD.replace(b'{"i":0', b'{"i":-0'),
    GOOD.replace(b'{"i":0', b'{"i":9007199254740993'),
    GOOD.replace(b'{"i":0', b'{"i":NaN'),
    GOOD.replace(b'"note"', b'"n\\u006fte"'),
    GOOD.replace(b'"note"', b'"no\\/te"'),
    GOOD.replace(b'"note"', b'"\\ud800"'),
    GOOD.replace(b'"note"', b'"\\ud83d\\ude00"'),
    GOOD.replace(b'"note"', '"\U0001f600"'.encode()),
    GOOD.replace(b'{"i":0,"note"', b'{"note":"x","i":0,"note"'),
    GOOD.replace(b'{"i":0,', b'{"zz":0,"i":0,'),
    GOOD.replace(b"entry 0", b"entry\xff0"),
    GOOD.replace(b'"payload":{', b'"payload":[').replace(b'"},"time"', b'"],"time"'),
    b"\xef\xbb\xbf" + GOOD,
    b"[]",
    b"",
]


def decode_verdict(data: bytes) -> bool:
    try:
        decode_entry(data)
    except ValueError:
        return False
    return True


def check_verdict(entries: list[bytes], *, first_index: int = 0) -> str | None:
    try:
        CanonicalChecker().check(entries, first_index=first_index)
    except VerificationError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_the_fast_canonical_check_agrees_with_decode_entry(data: bytes) -> None:
    canonical = decode_verdict(data)

    alone = check_verdict([data], first_index=9)
    among_good = check_verdict([GOOD, make_entry(2), data, make_entry(3)], first_index=100)

    if canonical:
        assert (alone, among_good) == (None, None)
    else:
        assert alone is not None
        assert alone.startswith("entry 9: not canonical JSON: ")
        assert among_good is not None
        assert among_good.startswith("entry 102: not canonical JSON: ")


def test_the_fast_canonical_check_rejects_entries_that_are_json_only_together() -> None:
    # Joined with plain commas these parse as three canonical entries (the first holding the
    # string ","); each on its own is not JSON.
    good = make_entry(5)
    first, second = good.split(b'"note":"entry 5"')
    parts = [first + b'"note":"', b'"' + second, good + b"," + good]
    assert json.loads(b"[" + b",".join(parts) + b"]")[0]["payload"]["note"] == ","

    message = check_verdict(parts)

    assert message is not None
    assert message.startswith("entry 0: not canonical JSON: entry is not JSON")


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    payload=st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=4),
    sort_keys=st.booleans(),
    compact=st.booleans(),
    ensure_ascii=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_fast_canonical_check_agrees_with_decode_entry_on_any_serialisation(
    payload: dict[str, object], sort_keys: bool, compact: bool, ensure_ascii: bool
) -> None:
    document = {"v": 1, "type": "t", "time": "2026-11-25T19:52:18.123Z", "payload": payload}
    separators = (",", ":") if compact else None
    data = json.dumps(
        document, sort_keys=sort_keys, separators=separators, ensure_ascii=ensure_ascii
    ).encode()
    try:
        canonical = encode_entry(kind="t", time=ENTRY_TIME, payload=payload)
    except ValueError:
        canonical = None

    for entry in (data, canonical):
        if entry is not None:
            verdict = check_verdict([GOOD, entry])
            assert (verdict is None) == decode_verdict(entry), verdict
    if canonical is not None:
        assert check_verdict([canonical]) is None


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


# ---- several worker processes --------------------------------------------------------------


class CompactClient(HttpLogClient):
    """The fake log's pages as the real log writes them: compact JSON, which has a fast path."""

    def entries_body(self, start: int, end: int) -> bytes:
        document = json.loads(super().entries_body(start, end))
        return json.dumps(document, separators=(",", ":")).encode()


class MemoryClient:
    """A log client without HTTP: the fake log's content, straight from memory."""

    def __init__(self, fake: FakeLog) -> None:
        self.fake = fake
        self.http = HttpLogClient(fake.url)

    def checkpoint(self) -> bytes:
        return self.fake.note()

    def entries(self, start: int, end: int) -> list[Any]:
        end = min(end, start + self.fake.page_limit, self.fake.size)
        return [
            {"index": i, "data": b64(self.fake.data(i)), "leaf_hash": b64(self.fake.served_hash(i))}
            for i in range(start, end)
        ]

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return self.fake.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.fake.consistency_proof(first, second)

    def tile(self, ref: TileRef) -> bytes:
        return self.http.tile(ref)


CLIENTS: dict[str, type[HttpLogClient]] = {"json": HttpLogClient, "compact": CompactClient}


@pytest.fixture(scope="module")
def big_log() -> Iterator[FakeLog]:
    """Four pages: 0-999, 1000-1999, 2000-2999, 3000-3499."""
    with FakeLog() as fake:
        fake.append_test_entries(3500)
        yield fake


@pytest.fixture
def tampered(big_log: FakeLog) -> Iterator[FakeLog]:
    """The big log, restored after each test's tampering."""
    original = list(big_log.entries)
    yield big_log
    big_log.served_data.clear()
    big_log.served_leaf_hash.clear()
    big_log.skip_index = None
    big_log.page_limit = 1000
    if big_log.entries != original:
        big_log.entries[:] = original
        big_log.tree = MemoryTree(leaf_hash(e) for e in original)


def not_canonical(i: int) -> bytes:
    return make_entry(i).replace(b'"v":1', b'"v": 1')


def verify_outcome(log: FakeLog, *, workers: int, client: str = "json") -> str:
    """The root verified, or the failure."""
    reader = MemoryClient(log) if client == "memory" else CLIENTS[client](log.url)
    try:
        result = verify_log(reader, log.signer.verifier(), workers=workers, samples=2)
    except VerificationError as exc:
        return f"FAILED {exc}"
    return f"verified {b64(result.root_hash)} size {result.size}"


@pytest.mark.parametrize("client", ["json", "compact", "memory"])
def test_one_and_two_workers_verify_the_same_log(tampered: FakeLog, client: str) -> None:
    one = verify_outcome(tampered, workers=1, client=client)

    assert one == f"verified {b64(tampered.tree.root())} size 3500"
    assert verify_outcome(tampered, workers=2, client=client) == one


# (what is tampered with, at which entries) -> the entry named
EARLIEST_FAILURES = {
    "canonical in an earlier page, hash in a later": (
        [("canonical", 1500), ("hash", 2700)],
        "entry 1500: not canonical JSON: entry bytes are not RFC 8785 canonical",
    ),
    "hash in an earlier page, canonical in a later": (
        [("hash", 1500), ("canonical", 2700)],
        "entry 1500: served leaf hash does not match its data",
    ),
    "first page and last page": (
        [("hash", 3499), ("canonical", 400)],
        "entry 400: not canonical JSON",
    ),
    "canonical before a hash in one page": (
        [("canonical", 1100), ("hash", 1900)],
        "entry 1100: not canonical JSON",
    ),
    "hash before canonical in one page": (
        [("hash", 1100), ("canonical", 1900)],
        "entry 1100: served leaf hash does not match its data",
    ),
    "a missing entry before a bad page": (
        [("skip", 2100), ("canonical", 2900), ("hash", 3100)],
        "entry 2100: the log served index 2101 in its place",
    ),
    "a page of failures after a good one": (
        [("hash", i) for i in range(1999, 1000, -7)] + [("canonical", 1000)],
        "entry 1000: not canonical JSON",
    ),
}


def tamper(log: FakeLog, how: str, index: int) -> None:
    if how == "canonical":
        log.rewrite(index, not_canonical(index))
    elif how == "hash":
        log.served_data[index] = edited_entry(index)
    else:
        log.skip_index = index


@pytest.mark.parametrize("case", sorted(EARLIEST_FAILURES))
def test_the_earliest_bad_entry_is_named_whatever_the_workers(tampered: FakeLog, case: str) -> None:
    edits, expected = EARLIEST_FAILURES[case]
    for how, index in edits:
        tamper(tampered, how, index)

    outcomes = {
        (workers, client): verify_outcome(tampered, workers=workers, client=client)
        for workers in (1, 2)
        for client in ("json", "compact")
    }

    assert len(set(outcomes.values())) == 1, outcomes
    assert outcomes[2, "compact"].startswith(f"FAILED {expected}")


def test_several_workers_page_on_when_the_log_serves_fewer_entries(
    tampered: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered.page_limit = 333
    tampered.requests.clear()

    status, out, _ = run_log(capsys, tampered, "--workers", "2", "--samples", "0")

    assert status == 0
    assert "in 2 processes" in out
    asked = [r for r in tampered.requests if r.startswith("/ledger/entries?")]
    assert "/ledger/entries?start=333&end=1333" in asked
    assert "/ledger/entries?start=3330&end=3500" in asked


def test_the_command_line_counts_workers_only_for_logs_of_several_pages(
    tampered: FakeLog, log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_log(capsys, tampered, "--workers", "2", "--samples", "0")
    assert status == 0
    assert "entries/s in 2 processes;" in out

    status, out, _ = run_log(capsys, log, "--workers", "2")
    assert status == 0
    assert "in 2 processes" not in out

    with pytest.raises(SystemExit) as exited:
        run_log(capsys, log, "--workers", "0")
    assert exited.value.code == 2
    assert "argument --workers: it must be at least 1" in capsys.readouterr().err


class FailingFrom(HttpLogClient):
    """Fails to fetch every page from ``start`` on."""

    def __init__(self, url: str, start: int) -> None:
        super().__init__(url)
        self.start = start

    def entries_body(self, start: int, end: int) -> bytes:
        if start >= self.start:
            url = self.entries_url(start, end)
            raise FetchError(f"GET {url}: HTTP 503", url=url, status=503)
        return super().entries_body(start, end)


def test_a_fetch_error_after_a_bad_entry_leaves_the_bad_entry_named(tampered: FakeLog) -> None:
    tampered.served_data[1234] = edited_entry(1234)

    client = FailingFrom(tampered.url, 2000)

    for workers in (1, 2):
        with pytest.raises(VerificationError, match="entry 1234: served leaf hash"):
            verify_log(client, tampered.signer.verifier(), workers=workers)
    tampered.served_data.clear()
    for workers in (1, 2):
        with pytest.raises(FetchError, match="start=2000&end=3000: HTTP 503"):
            verify_log(client, tampered.signer.verifier(), workers=workers)


class EmptyFrom(CompactClient):
    def entries_body(self, start: int, end: int) -> bytes:
        return b'{"entries":[]}' if start >= 3000 else super().entries_body(start, end)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_page_served_empty_is_named(big_log: FakeLog, workers: int) -> None:
    with pytest.raises(
        VerificationError,
        match="entry 3000: the log served no entries from 3000 to 3500 although its checkpoint "
        "has size 3500",
    ):
        verify_log(EmptyFrom(big_log.url), big_log.signer.verifier(), workers=workers)


def test_the_module_runs_workers_as_a_command(big_log: FakeLog) -> None:
    command = [sys.executable, "-m", "ledger.verify", "--url", big_log.url, "--vkey"]
    done = subprocess.run(
        [*command, big_log.vkey, "--workers", "2", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "size: 3500" in done.stdout
    assert "entries/s in 2 processes;" in done.stdout
    assert done.stderr == ""


# ---- the fast paths agree with the plain ones ---------------------------------------------


def compact_body(items: list[dict[str, object]]) -> bytes:
    return json.dumps({"entries": items}, separators=(",", ":")).encode()


def page_items(entries: list[bytes], start: int) -> list[dict[str, object]]:
    return [
        {"index": start + k, "data": b64(e), "leaf_hash": b64(leaf_hash(e))}
        for k, e in enumerate(entries)
    ]


BODY_EDITS = [" ", "\\/", "=", "==", "A", "/", '"', ",", "}", "{", "0", "1", "-", "é", "\\u0041"]


@given(
    count=st.integers(min_value=0, max_value=6),
    start=st.sampled_from([0, 1, 999, 4096]),
    asked=st.integers(min_value=1, max_value=8),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.sampled_from(BODY_EDITS), st.booleans()),
        max_size=2,
    ),
)
@settings(max_examples=400, deadline=None)
def test_a_page_body_is_checked_as_its_json_reads(
    count: int, start: int, asked: int, edits: list[tuple[float, str, bool]]
) -> None:
    entries = [make_entry(start + k) for k in range(count)]
    body = compact_body(page_items(entries, start))
    for where, text, replace in edits:
        at = int(where * len(body))
        body = body[:at] + text.encode() + body[at + (len(text) if replace else 0) :]
    task = verify._PageTask(start, start + asked, body, "u", True)

    checked = verify._check_page(task, CanonicalChecker())

    try:
        items = verify.parse_entries_body(body, url="u")
    except VerificationError as exc:
        not_json = str(exc)
    else:
        not_json = None
    if not_json is not None:
        assert (checked.count, checked.levels, checked.error) == (0, [], not_json)
        return
    as_json = verify._check_page(verify._PageTask(start, start + asked, items, "u", True))
    assert (checked.count, checked.levels, checked.error) == (
        as_json.count,
        as_json.levels,
        as_json.error,
    )


def test_a_compact_page_takes_the_fast_path() -> None:
    entries = [make_entry(k) for k in range(1000, 1300)]
    body = compact_body(page_items(entries, 1000))

    assert verify._compact_page(body, 1000, 2000) == (
        entries,
        b"".join(b64(leaf_hash(e)).encode() for e in entries),
    )
    assert verify._compact_page(body, 1001, 2000) is None, "the indexes must be those asked"
    assert verify._compact_page(body, 1000, 1299) is None, "more entries than asked"
    assert verify._compact_page(body.replace(b":", b": "), 1000, 2000) is None


def test_a_served_hash_with_stray_bits_matches_as_base64_decodes_it() -> None:
    entry = make_entry(7)
    served = b64(leaf_hash(entry))
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(served[-2])
    stray = (
        served[:-2]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last | 1]
        + "="
    )
    assert stray != served
    assert base64.b64decode(stray) == leaf_hash(entry)
    body = compact_body([{"index": 0, "data": b64(entry), "leaf_hash": stray}])

    checked = verify._check_page(verify._PageTask(0, 1000, body, "u", True))

    assert (checked.count, checked.error) == (1, None)


SHAPE_SCALARS = (
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(max_size=4)
    | st.booleans()
    | st.none()
    | st.lists(st.integers(min_value=-999, max_value=999), max_size=2)
)
ENTRY_EDITS = [b" ", b"\\", b"\\/", b"0", b"00", b"-", b"-0", b"1", b"9" * 16, b"\t", b"\x7f"]
ENTRY_EDITS += [b"\xff", "é".encode(), "\U0001f600".encode(), b'"', b",", b":", b"}", b"]", b"[]"]
ENTRY_EDITS += [b"true", b"e", b".", b"2026-02-30", b"24:", b"T", b"Z", b"type", b"Test", b"v"]


@given(
    keys=st.lists(st.sampled_from(["a", "b", "i", "zz", "\u00e9", "\U0001f600"]), unique=True),
    rows=st.lists(st.lists(SHAPE_SCALARS, min_size=6, max_size=6), min_size=1, max_size=6),
    kinds=st.lists(st.sampled_from(["t", "a.b", "x_y"]), min_size=1, max_size=3),
    edit=st.none()
    | st.tuples(
        st.integers(min_value=0, max_value=5),
        st.floats(min_value=0, max_value=1),
        st.sampled_from(ENTRY_EDITS),
        st.booleans(),
    ),
)
@settings(max_examples=400, deadline=None)
def test_the_check_by_shape_agrees_with_decode_entry(
    keys: list[str],
    rows: list[list[object]],
    kinds: list[str],
    edit: tuple[int, float, bytes, bool] | None,
) -> None:
    page = [
        encode_entry(
            kind=kinds[n % len(kinds)],
            time=ENTRY_TIME,
            payload=dict(zip(keys, row[: len(keys)], strict=True)),
        )
        for n, row in enumerate(rows)
    ]
    if edit is not None:
        which, where, text, replace = edit
        which %= len(page)
        at = int(where * len(page[which]))
        page[which] = page[which][:at] + text + page[which][at + (len(text) if replace else 0) :]

    expected = next((n for n, data in enumerate(page) if not decode_verdict(data)), None)
    verdict = check_verdict(page, first_index=10)

    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert verdict.startswith(f"entry {10 + expected}: not canonical JSON: "), verdict


def test_pages_of_alike_entries_take_the_check_by_shape() -> None:
    checker = CanonicalChecker()
    plain = [make_entry(i * 7919) for i in range(1000)]
    mixed = plain[:500] + [
        encode_entry(kind="party", time=ENTRY_TIME, payload={"name": f"Zoë {i}", "n": [i, -i]})
        for i in range(500)
    ]

    assert checker._fast_by_shape(plain)
    assert checker._fast_by_shape(mixed)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"i":5', b'"i":05'),
        (b'"i":5', b'"i":-0'),
        (b'"i":5', b'"i":5 '),
        (b'"v":1', b'"v":2'),
        (b'"i":5,"note"', b'"p":5,"note"'),
        (b'"test"', b'"Test"'),
        (b"2026-11-25T19:52:18.123Z", b"2026-11-31T19:52:18.123Z"),
        (b"2026-11-25T19:52:18.123Z", b"2026-11-25T19:60:18.123Z"),
        (b'"entry 5"', b'"entry\x015"'),
        (b'"entry 5"', b'"entry\\u00355"'),
        (b'"i":5,"note":"entry 5"', b'"note":"entry 5","i":5'),
    ],
)
def test_the_check_by_shape_names_an_entry_unlike_the_first(old: bytes, new: bytes) -> None:
    page = [make_entry(i) for i in range(10)]
    assert old in page[5]
    page[5] = page[5].replace(old, new)

    assert not CanonicalChecker()._fast_by_shape(page)
    message = check_verdict(page, first_index=100)
    assert message is not None
    assert message.startswith("entry 105: not canonical JSON: ")


def test_the_tree_built_page_by_page_is_the_memory_tree() -> None:
    page_sizes = itertools.cycle([1, 2, 3, 333, 1000, 517, 1199, 64, 1000, 999])
    for size in (1, 2, 3, 8, 255, 257, 1000, 1025, 3000, 4097):
        leaves = [leaf_hash(str((size, i)).encode()) for i in range(size)]
        expected = MemoryTree(leaves)
        tree = verify._Tree()
        while tree.size < size:
            start = tree.size
            page = leaves[start : start + next(page_sizes)]
            tree.add_page(verify._page_levels(page, start))

        assert tree.size == size
        for level in range(size.bit_length()):
            for index in range(size >> level):
                assert tree.perfect_hash(level, index) == expected.perfect_hash(level, index)
        for first in {0, 1, size // 3, size - 1, size}:
            assert tree.root(first) == expected.root(first)
        with pytest.raises(ValueError, match="no complete subtree"):
            tree.perfect_hash(0, size)


WORKERS_OF_A_DYING_PROCESS = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from ledger import verify

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(2, mp_context=context, initializer=verify._start_worker)
    pids = {pool.submit(os.getpid).result() for _ in range(20)}
    print(*pids, flush=True)
    os._exit(0)  # no shutdown: as if killed
"""


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_processes_end_with_the_process_that_started_them() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WORKERS_OF_A_DYING_PROCESS],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    ) as started:
        assert started.stdout is not None
        pids = [int(pid) for pid in started.stdout.readline().split()]
        assert started.wait(timeout=60) == 0
    assert pids

    try:
        deadline = time.monotonic() + 20
        while any(map(running, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(running, pids))
    finally:
        for pid in filter(running, pids):
            os.kill(pid, signal.SIGKILL)
