"""C2SP signed notes (Ed25519) and tlog-checkpoint bodies.

Golden vectors:

* golang/mod ``sumdb/note/note_test.go`` (TestNewVerifier, TestNewSigner, TestSign, TestOpen):
  the "PeterNeumann" and "EnochRoot" keys, the signed text and its exact signature lines;
* C2SP ``signed-note.md`` and ``tlog-checkpoint.md``: the example note and checkpoint.
"""

from __future__ import annotations

import base64
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.exceptions import VerificationError
from ledger.note import (
    MAX_SIGNATURES,
    Checkpoint,
    Signer,
    Verifier,
    key_id,
    make_signer_key_string,
    make_verifier_key_string,
    open_checkpoint,
    open_note,
    parse_note,
    parse_signer_key_string,
    parse_verifier_key_string,
    sign_checkpoint,
    sign_note,
)

# From golang/mod sumdb/note/note_test.go.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
    "ngotpRZb6KE6RyyBwJnAM=\n"
).encode()
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnW"
    "Lox33WWd1RvMc+QQ=\n"
).encode()

# From C2SP signed-note.md (the key is not published) and tlog-checkpoint.md.
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \u00e8 subito sera.\n"
    "\n"
    "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKON"
    "rMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
).encode()
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
).encode()

PETER = parse_verifier_key_string(PETER_VKEY)
ENOCH = parse_verifier_key_string(ENOCH_VKEY)
ROOT = bytes(range(32))


def flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def new_signer(name: str = "log.example/consentry") -> Signer:
    return Signer(name=name, private_key=Ed25519PrivateKey.generate())


class TestGoldenVectors:
    def test_it_derives_go_s_verifier_key_from_go_s_signer_key(self) -> None:
        signer = parse_signer_key_string(PETER_SKEY)
        assert signer.name == "PeterNeumann"
        assert signer.key_id.hex() == "c74f20a3"
        assert signer.verifier().key_string == PETER_VKEY
        assert (
            make_verifier_key_string(
                name="PeterNeumann", public_key=signer.private_key.public_key()
            )
            == PETER_VKEY
        )

    def test_it_writes_go_s_signer_key_string_back(self) -> None:
        signer = parse_signer_key_string(PETER_SKEY)
        assert make_signer_key_string(name=signer.name, private_key=signer.private_key) == (
            PETER_SKEY
        )

    def test_it_signs_go_s_text_byte_for_byte_like_go(self) -> None:
        assert sign_note(TEXT, [parse_signer_key_string(PETER_SKEY)]) == TEXT + b"\n" + PETER_SIG

    def test_it_parses_go_s_verifier_keys(self) -> None:
        assert PETER.name == "PeterNeumann"
        assert PETER.key_id == bytes.fromhex("c74f20a3")
        assert ENOCH.key_id == bytes.fromhex("af0cfe78")
        assert PETER.key_string == PETER_VKEY
        assert ENOCH.key_string == ENOCH_VKEY

    def test_it_verifies_the_signature_it_knows_and_ignores_the_other(self) -> None:
        assert open_note(TEXT + b"\n" + PETER_SIG + ENOCH_SIG, [PETER]) == (
            TEXT,
            ["PeterNeumann"],
        )

    def test_it_verifies_both_go_signatures_when_it_knows_both_keys(self) -> None:
        assert open_note(TEXT + b"\n" + PETER_SIG + ENOCH_SIG, [PETER, ENOCH]) == (
            TEXT,
            ["PeterNeumann", "EnochRoot"],
        )

    def test_it_rejects_a_note_signed_by_no_known_key(self) -> None:
        with pytest.raises(VerificationError, match="no valid signature by a known key"):
            open_note(TEXT + b"\n" + PETER_SIG + ENOCH_SIG, [])

    def test_it_rejects_a_corrupted_signature_by_a_known_key(self) -> None:
        corrupted = PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
        with pytest.raises(VerificationError, match=r"invalid signature for key PeterNeumann\+c7"):
            open_note(TEXT + b"\n" + corrupted, [PETER])

    def test_it_accepts_repeated_signatures_and_ignores_unknown_corrupt_ones(self) -> None:
        enoch_corrupt = ENOCH_SIG[:60] + b"ABCD" + ENOCH_SIG[60:]
        note = TEXT + b"\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_corrupt
        assert open_note(note, [PETER]) == (TEXT, ["PeterNeumann"])

    def test_it_accepts_a_hundred_signatures_but_not_a_hundred_and_one(self) -> None:
        assert open_note(TEXT + b"\n" + PETER_SIG * MAX_SIGNATURES, [PETER])[1] == ["PeterNeumann"]
        with pytest.raises(VerificationError, match="101 signatures"):
            open_note(TEXT + b"\n" + PETER_SIG * (MAX_SIGNATURES + 1), [PETER])

    @pytest.mark.parametrize(
        "note",
        [
            TEXT,
            TEXT + b"\n",
            TEXT + b"\n" + PETER_SIG[:-1],
            b"\x01" + TEXT + b"\n" + PETER_SIG,
            b"\xff" + TEXT + b"\n" + PETER_SIG,
            TEXT + b"\n" + "\u2014 Bad Name ".encode() + PETER_SIG.split(b" ")[2][:-1],
            TEXT + b"\n" + PETER_SIG + b"Unexpected line.\n",
        ],
        ids=[
            "no-signatures",
            "blank-line-only",
            "no-final-newline",
            "control-character",
            "not-utf8",
            "space-in-name",
            "trailing-text",
        ],
    )
    def test_it_rejects_go_s_malformed_notes(self, note: bytes) -> None:
        with pytest.raises(VerificationError, match="malformed note"):
            open_note(note, [PETER])

    def test_it_ignores_a_signature_whose_name_or_key_id_is_unknown(self) -> None:
        misnamed = PETER_SIG.replace(b"PeterNeumann", b"CarmenSandiego")
        wrong_id = PETER_SIG.replace(b"x08g", b"xxxx")
        for signature in (misnamed, wrong_id):
            with pytest.raises(VerificationError, match="no valid signature"):
                open_note(TEXT + b"\n" + signature, [PETER])

    def test_it_rejects_every_mangling_of_go_s_verifier_key(self) -> None:
        # TestNewVerifier: every proper substring and every single-byte increment must fail.
        key = PETER_VKEY
        manglings = [
            key[i:j]
            for i, j in itertools.combinations(range(len(key) + 1), 2)
            if (i, j) != (0, len(key))
        ]
        manglings += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
        manglings += [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ]
        for mangled in manglings:
            with pytest.raises(ValueError):  # noqa: PT011 - each mangling fails its own way
                parse_verifier_key_string(mangled)

    def test_it_rejects_every_mangling_of_go_s_signer_key(self) -> None:
        # TestNewSigner: every proper substring and every single-byte increment must fail.
        key = PETER_SKEY
        manglings = [
            key[i:j]
            for i, j in itertools.combinations(range(len(key) + 1), 2)
            if (i, j) != (0, len(key))
        ]
        manglings += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
        for mangled in manglings:
            with pytest.raises(ValueError):  # noqa: PT011 - each mangling fails its own way
                parse_signer_key_string(mangled)

    def test_it_names_an_unknown_signature_type(self) -> None:
        with pytest.raises(ValueError, match="signature type 0x65"):
            parse_verifier_key_string(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )


class TestC2spExamples:
    def test_it_splits_the_c2sp_note_at_its_last_blank_line(self) -> None:
        parsed = parse_note(C2SP_NOTE)
        assert parsed.text == C2SP_NOTE.split(b"\n\n\xe2\x80\x94")[0] + b"\n"
        assert parsed.text.endswith("ed \u00e8 subito sera.\n".encode())
        assert [s.name for s in parsed.signatures] == ["quasimodo.example/salvatore"]
        assert len(parsed.signatures[0].signature) == 64

    def test_it_ignores_the_c2sp_signature_whose_key_it_does_not_know(self) -> None:
        with pytest.raises(VerificationError, match="no valid signature"):
            open_note(C2SP_NOTE, [PETER])

    def test_it_reads_the_c2sp_checkpoint_body(self) -> None:
        parsed = parse_note(C2SP_CHECKPOINT)
        checkpoint = Checkpoint.from_body(parsed.text)
        assert checkpoint.origin == "example.com/behind-the-sofa"
        assert checkpoint.size == 20852163
        assert checkpoint.root_hash == base64.b64decode(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        )
        assert checkpoint.to_body() == parsed.text
        assert parsed.signatures[0].name == "example.com/behind-the-sofa"


class TestCheckpoint:
    def test_it_writes_three_lines_and_no_extensions(self) -> None:
        checkpoint = Checkpoint(origin="log.example/consentry", size=0, root_hash=ROOT)
        assert checkpoint.to_body() == (
            b"log.example/consentry\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        )

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"o\n020\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "canonical decimal"),
            (b"o\n+20\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "canonical decimal"),
            (b"o\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "canonical decimal"),
            (b"o\n 2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "canonical decimal"),
            (b"o\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "canonical decimal"),
            ("o\n\uff12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n".encode(), "decimal"),
            (
                b"o\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                r"outside 0..2\*\*64-1",
            ),
            (b"o\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "31 bytes"),
            (b"o\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", "not valid base64"),
            (b"o\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", "not canonical base64"),
            (b"o\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "end with a newline"),
            (b"o\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nextension\n", "extension"),
            (b"o\n2\n", "needs origin, tree size and root hash"),
            (b"\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin must not be empty"),
            (b"o\r\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "control character"),
            (b"\xffo\n2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "not UTF-8"),
        ],
    )
    def test_it_rejects_malformed_bodies(self, body: bytes, reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            Checkpoint.from_body(body)

    @given(
        origin=st.text(st.characters(min_codepoint=0x20, codec="utf-8"), min_size=1, max_size=30),
        size=st.integers(min_value=0, max_value=2**64 - 1),
        root=st.binary(min_size=32, max_size=32),
    )
    def test_a_checkpoint_survives_a_round_trip(self, origin: str, size: int, root: bytes) -> None:
        checkpoint = Checkpoint(origin=origin, size=size, root_hash=root)
        assert Checkpoint.from_body(checkpoint.to_body()) == checkpoint

    def test_it_opens_a_signed_checkpoint_of_the_expected_origin(self) -> None:
        signer = new_signer()
        checkpoint = Checkpoint(origin=signer.name, size=41, root_hash=ROOT)
        note = sign_checkpoint(checkpoint, [signer])
        assert open_checkpoint(note, verifiers=[signer.verifier()], origin=signer.name) == (
            checkpoint
        )

    def test_it_rejects_a_signed_checkpoint_of_another_origin(self) -> None:
        signer = new_signer()
        note = sign_checkpoint(Checkpoint(origin="other.example", size=1, root_hash=ROOT), [signer])
        with pytest.raises(VerificationError, match=r"origin 'other\.example'"):
            open_checkpoint(note, verifiers=[signer.verifier()], origin=signer.name)

    def test_it_rejects_a_signed_note_that_is_not_a_checkpoint(self) -> None:
        signer = new_signer()
        note = sign_note(b"hello\n", [signer])
        with pytest.raises(VerificationError, match="not a checkpoint"):
            open_checkpoint(note, verifiers=[signer.verifier()], origin="hello")


class TestSigning:
    def test_a_signed_note_opens_with_its_verifier(self) -> None:
        signer = new_signer()
        text = b"log.example/consentry\n7\n" + base64.b64encode(ROOT) + b"\n"
        assert open_note(sign_note(text, [signer]), [signer.verifier()]) == (text, [signer.name])

    def test_a_note_can_carry_several_signatures(self) -> None:
        first, second = new_signer("a.example"), new_signer("b.example")
        note = sign_note(b"two\n", [first, second])
        assert open_note(note, [second.verifier()]) == (b"two\n", ["b.example"])
        assert open_note(note, [first.verifier(), second.verifier()])[1] == [
            "a.example",
            "b.example",
        ]

    def test_a_note_text_may_contain_blank_lines(self) -> None:
        signer = new_signer()
        text = b"one\n\ntwo\n\n"
        assert open_note(sign_note(text, [signer]), [signer.verifier()])[0] == text

    def test_it_rejects_a_signature_by_a_different_key_of_the_same_name(self) -> None:
        signer, impostor = new_signer(), new_signer()
        text = b"text\n"
        forged = base64.b64encode(signer.key_id + impostor.sign(text))
        note = text + b"\n" + f"\u2014 {signer.name} ".encode() + forged + b"\n"
        with pytest.raises(VerificationError, match="invalid signature for key"):
            open_note(note, [signer.verifier()])

    def test_it_ignores_a_note_signed_by_a_different_key(self) -> None:
        with pytest.raises(VerificationError, match="no valid signature by a known key"):
            open_note(sign_note(b"text\n", [new_signer()]), [new_signer().verifier()])

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            (b"no final newline", "end with a newline"),
            (b"", "end with a newline"),
            (b"tab\there\n", "control character"),
            (b"carriage\r\n", "control character"),
            (b"\xc3\x28\n", "not UTF-8"),
        ],
    )
    def test_it_refuses_to_sign_text_a_note_cannot_carry(self, text: bytes, reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            sign_note(text, [new_signer()])

    def test_it_refuses_to_sign_without_signers_or_with_one_key_twice(self) -> None:
        signer = new_signer()
        with pytest.raises(ValueError, match="at least one signer"):
            sign_note(b"text\n", [])
        with pytest.raises(ValueError, match="twice"):
            sign_note(b"text\n", [signer, signer])

    @pytest.mark.parametrize(
        "name", ["", "a+b", "a b", "a\tb", "a\nb", "a\u00a0b", "a\u2003b", "a\u3000b"]
    )
    def test_it_refuses_key_names_the_spec_forbids(self, name: str) -> None:
        with pytest.raises(ValueError, match="key name"):
            new_signer(name)

    def test_it_refuses_two_different_verifiers_for_one_name_and_key_id(self) -> None:
        signer = new_signer()
        real = signer.verifier()
        clash = object.__new__(Verifier)
        object.__setattr__(clash, "name", real.name)
        object.__setattr__(clash, "key_id", real.key_id)
        object.__setattr__(clash, "public_key", bytes(32))
        with pytest.raises(ValueError, match="ambiguous key"):
            open_note(sign_note(b"text\n", [signer]), [real, clash])

    def test_the_same_verifier_twice_is_not_ambiguous(self) -> None:
        signer = new_signer()
        note = sign_note(b"text\n", [signer])
        assert open_note(note, [signer.verifier(), signer.verifier()])[1] == [signer.name]

    def test_the_key_id_is_the_first_four_bytes_of_the_spec_hash(self) -> None:
        signer = parse_signer_key_string(PETER_SKEY)
        assert key_id(name="PeterNeumann", public_key=signer.verifier().public_key) == (
            bytes.fromhex("c74f20a3")
        )

    def test_it_rejects_a_verifier_key_with_uppercase_hex(self) -> None:
        with pytest.raises(ValueError, match="8 lowercase hex digits"):
            parse_verifier_key_string(PETER_VKEY.replace("c74f20a3", "C74F20A3"))


class TestTampering:
    SIGNER = parse_signer_key_string(PETER_SKEY)
    NOTE = sign_note(TEXT, [SIGNER])

    def test_it_rejects_a_note_with_any_bit_of_the_signature_flipped(self) -> None:
        line = self.NOTE[len(TEXT) + 1 :]
        prefix, encoded = line[:-1].rsplit(b" ", 1)
        raw = base64.b64decode(encoded)
        for bit in range(len(raw) * 8):
            tampered = TEXT + b"\n" + prefix + b" " + base64.b64encode(flip(raw, bit)) + b"\n"
            with pytest.raises(VerificationError):
                open_note(tampered, [PETER])

    def test_it_rejects_a_note_with_any_bit_of_the_text_flipped(self) -> None:
        for bit in range(len(TEXT) * 8):
            with pytest.raises(VerificationError):
                open_note(flip(self.NOTE, bit), [PETER])

    @given(st.binary(min_size=1, max_size=64).filter(lambda b: b != TEXT))
    @settings(max_examples=50, deadline=None)
    def test_it_rejects_the_signature_moved_onto_other_text(self, other: bytes) -> None:
        with pytest.raises(VerificationError):
            open_note(other + b"\n" + PETER_SIG, [PETER])
