"""The licence token format (ledger.licence_tokens, no database): signing and verifying, every
one-byte change refused, malformed claims refused even when signed, tokens and checkpoints
never taken for each other, the documentation's worked example, and the command line, which
imports no Django."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import licence_tokens as t
from ledger.canonical import encode_json
from ledger.exceptions import VerificationError
from ledger.note import Checkpoint, Signer, sign_note

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "lifecycle-tokens.md"

EXAMPLE_KEY = Signer(
    name="consentry.localhost/ledger",
    private_key=Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"consentry documentation example key").digest()
    ),
)
EXAMPLE_VKEY = "consentry.localhost/ledger+c11e7a5c+AV+Qdcix4yxcQZncZVntXWRUNWMX5ZZl/VOIonrXaeY1"
EXAMPLE_CLAIMS: dict[str, Any] = {
    "v": 1,
    "log": "consentry.localhost/ledger",
    "decision": "7d1f0c62-3b5e-4d8a-9c1e-2f4a6b8d0e13",
    "request": "c0a8f3e2-5d71-4b9c-8e26-1f3d5a7b9c04",
    "item": 0,
    "licensee": {"id": "5b2e9d14-8c3a-4f61-b7d0-9e8a2c4f6b17", "name": "Sonora AI Labs"},
    "use": "train",
    "commercial": True,
    "outcome": "conditional",
    "code": "consent.conditional",
    "decided_at": "2026-11-25T19:52:20.412Z",
    "at": "2026-11-25T19:52:20.412Z",
    "period": {"start": "2026-12-01T00:00:00.000Z", "end": "2027-12-01T00:00:00.000Z"},
    "territories": ["FR", "GB"],
    "works": [
        {
            "id": "3a9c7e15-2b4d-4f8e-a6c1-0d2e4f6a8b9c",
            "kind": "recording",
            "title": "Northern Lights",
            "isrc": "USRC17607839",
            "iswc": None,
        }
    ],
    "artists": [],
    "obligations": {"ai_disclosure": True, "attribution": "Ada Vale"},
    "rule_versions": [
        {"rule": "0e6b2f4a-7c9d-4e1f-8a3b-5c7d9e1f2a4b", "version": 2},
        {"rule": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "version": 1},
    ],
    "matrix_version": 1,
    "entry": {"index": 41, "leaf_hash": "nwoRxtlx9N+3wTks79PRZg5tysCvXBe08QOZbT78UvA="},
    "settlement": None,
}


def example_token() -> str:
    return t.sign_token(EXAMPLE_CLAIMS, EXAMPLE_KEY)


def test_a_token_verifies_with_its_key_and_returns_its_claims() -> None:
    token = example_token()
    claims = t.verify_token(token, [EXAMPLE_KEY.verifier()])
    assert dict(claims.document) == EXAMPLE_CLAIMS
    assert claims.signed_by == ("consentry.localhost/ledger+c11e7a5c",)
    assert (claims.decision, claims.use, claims.outcome) == (
        EXAMPLE_CLAIMS["decision"],
        "train",
        "conditional",
    )
    assert claims.final_entry.index == 41
    assert claims.rule_versions == [
        ("0e6b2f4a-7c9d-4e1f-8a3b-5c7d9e1f2a4b", 2),
        ("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", 1),
    ]


def test_every_one_byte_change_is_refused() -> None:
    data = example_token().encode()
    verifier = EXAMPLE_KEY.verifier()
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= flip
            with pytest.raises(t.TokenError):
                t.verify_token(bytes(changed), verifier)


def test_body_and_signature_changes_are_signature_errors() -> None:
    token = example_token()
    with pytest.raises(t.TokenSignatureError, match="signature does not verify"):
        t.verify_token(token.replace("Ada Vale", "Ada Vali"), EXAMPLE_KEY.verifier())
    text, line = token[:-1].rsplit("\n", 1)
    raw = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    raw[-1] ^= 0x01
    forged = f"{line.rsplit(' ', 1)[0]} {base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(t.TokenSignatureError):
        t.verify_token(f"{text}\n{forged}\n", EXAMPLE_KEY.verifier())
    other = Signer(name="consentry.localhost/ledger", private_key=Ed25519PrivateKey.generate())
    with pytest.raises(t.TokenSignatureError, match="no valid signature by a known key"):
        t.verify_token(token, other.verifier())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(outcome="deny"), "'outcome' must be allow or conditional"),
        (lambda c: c.pop("log"), r"missing \['log'\]"),
        (lambda c: c.update(extra=1), r"unknown \['extra'\]"),
        (lambda c: c.update(territories=["GB", "FR"]), "'territories' must be sorted"),
        (lambda c: c.update(decision="7D1F0C62-3B5E-4D8A-9C1E-2F4A6B8D0E13"), "'decision'"),
        (lambda c: c["entry"].update(leaf_hash="AAAA"), "'entry'"),
        (lambda c: c["works"][0].pop("iswc"), r"'works\[0\]' must be"),
        (lambda c: c.update(artists=["not-a-uuid"]), "'artists'"),
        (lambda c: c.update(at="2026-11-25T19:52:20Z"), "'at' must be a time"),
        (lambda c: c.update(settlement={"index": 3, "leaf_hash": c["entry"]["leaf_hash"]}),
         "'settlement'"),
    ],
)  # fmt: skip
def test_malformed_claims_are_refused_even_when_signed(edit: Any, message: str) -> None:
    claims = copy.deepcopy(EXAMPLE_CLAIMS)
    edit(claims)
    with pytest.raises(ValueError, match=message):
        t.sign_token(claims, EXAMPLE_KEY)
    text = f"{t.TOKEN_HEADER}\n".encode() + encode_json(claims) + b"\n"
    with pytest.raises(t.MalformedToken, match=message):
        t.verify_token(sign_note(text, [EXAMPLE_KEY]), EXAMPLE_KEY.verifier())


def test_claims_not_in_their_canonical_form_are_refused() -> None:
    spaced = encode_json(EXAMPLE_CLAIMS).replace(b'"v":1', b'"v": 1')
    note = sign_note(f"{t.TOKEN_HEADER}\n".encode() + spaced + b"\n", [EXAMPLE_KEY])
    with pytest.raises(t.MalformedToken, match="not RFC 8785 canonical"):
        t.verify_token(note, EXAMPLE_KEY.verifier())


def test_tokens_and_checkpoints_are_never_taken_for_each_other() -> None:
    token = example_token().encode()
    text = token[: token.rindex(b"\n\n") + 1]
    with pytest.raises(ValueError, match="needs origin, tree size and root hash lines"):
        Checkpoint.from_body(text)
    with pytest.raises(ValueError, match="not a canonical decimal"):  # were a line added
        Checkpoint.from_body(text + b"UuzZFXxhTLkPe++LPVxA009rUK/73LEE7DP0fM1Gyww=\n")
    checkpoint = Checkpoint(origin="consentry.localhost/ledger", size=3, root_hash=bytes(32))
    note = sign_note(checkpoint.to_body(), [EXAMPLE_KEY])
    with pytest.raises(t.MalformedToken, match="not 'consentry/licence-token/v1'"):
        t.verify_token(note, EXAMPLE_KEY.verifier())


def test_the_c2pa_assertion_carries_the_token_verbatim() -> None:
    token = example_token()
    claims = t.verify_token(token, EXAMPLE_KEY.verifier())
    assertion = t.c2pa_assertion(token, claims, vkey=EXAMPLE_VKEY)
    assert assertion["label"] == "org.consentry.licence"
    assert assertion["data"]["token"] == token
    assert t.verify_token(assertion["data"]["token"], EXAMPLE_KEY.verifier()) == claims


def _doc_block(name: str) -> str:
    """The fenced block after ``<!-- example: name -->`` in docs/lifecycle-tokens.md."""
    text = DOC.read_text()
    match = re.search(rf"<!-- example: {name} -->\n```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert match is not None, f"no example {name} in {DOC}"
    return match.group(1)


def test_the_docs_worked_example_is_the_token_of_its_claims() -> None:
    assert EXAMPLE_KEY.verifier().key_string == EXAMPLE_VKEY
    token = example_token()
    assert _doc_block("token") == token
    assert _doc_block("claims") == encode_json(EXAMPLE_CLAIMS).decode() + "\n"
    claims = t.verify_token(_doc_block("token"), EXAMPLE_KEY.verifier())
    assert dict(claims.document) == EXAMPLE_CLAIMS


def test_the_command_verifies_offline_and_imports_no_django(tmp_path: Path) -> None:
    path = tmp_path / "token.txt"
    path.write_text(example_token())
    command = [sys.executable, "-m", "ledger.verify", "token", str(path), "--vkey", EXAMPLE_VKEY]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "conditional train to Sonora AI Labs" in done.stdout
    assert "offline mode cannot know" in done.stdout
    path.write_text(example_token().replace("Sonora", "Sonoro"))
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr
    path.write_text("not a token\n")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 3, done.stderr
    probe = (
        "import sys, ledger.licence_tokens, ledger.verify.token; "
        "print(sorted(m for m in sys.modules "
        "if m.partition('.')[0] in ('django', 'rest_framework', 'celery', 'governance')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"


def test_the_verification_error_family() -> None:
    assert issubclass(t.TokenSignatureError, VerificationError)
    assert issubclass(t.MalformedToken, t.TokenError)
