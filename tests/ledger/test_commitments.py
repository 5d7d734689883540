"""Salted commitments to confidential fields (ledger.commitments): known answers and
properties. The known answers were computed independently of the module, with coreutils:

    printf 'consentry.ledger.commitment.v1\\x00share\\x00' > in.bin
    python3 -c "import sys; sys.stdout.buffer.write(bytes(range(32)))" >> in.bin
    printf '"50.000"' >> in.bin
    sha256sum in.bin   # c46d89d0...15d26f
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger import commitments as c

SALT = bytes(range(32))  # 00 01 02 ... 1f

KNOWN = [
    ("share", "50.000",
     "sha256:c46d89d067328690341ce060b01f1f1706ba44cfe66bbedf0391e70ad815d26f"),
    ("licensees", ["0d893589-43c0-4a6e-9c4b-b702e5538f99"],
     "sha256:d05617669752167d9403f129b6577235264caa1c5f4d933f8ca4fb3b15380d95"),
    ("note", "Yes to this lab only.",
     "sha256:fc02ff80d2e184cb44b0d2cf14800f4a13c6e4cb64d6cb782ffbbe6729dbd743"),
    ("note", "",
     "sha256:9560cba87a0199e3a3c62bf45fa2c26584e495b9f17e416e813d727b03b22fdb"),
    # RFC 8785 sorts the members and writes 1.5 and é as JCS does: {"a":[1.5,"é"],"b":1}
    ("trace", {"b": 1, "a": [1.5, "é"]},
     "sha256:3f66b869af858ee5482134aa5cca91a49299e703cf910f317023795111591eaa"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "expected"), KNOWN)
def test_each_known_answer_is_reproduced(field: str, value: Any, expected: str) -> None:
    assert c.commit(field, value, salt=SALT) == expected
    c.verify(expected, c.Opening(field, SALT, value))


def test_the_hashed_bytes_are_the_documented_ones() -> None:
    data = c.commitment_input("share", b'"50.000"', salt=SALT)
    assert data == b"consentry.ledger.commitment.v1\x00share\x00" + SALT + b'"50.000"'
    assert c.commit("share", "50.000", salt=SALT) == "sha256:" + hashlib.sha256(data).hexdigest()


def test_the_docs_worked_example_holds() -> None:
    salt = hashlib.sha256(b"consentry documentation example salt").digest()
    assert salt.hex() == "4a106ecd77363e076228002ecf1bf38d1b1c4db2c3006c4faac1ef8905af4c2d"
    assert c.commit("share", "50.000", salt=salt) == (
        "sha256:806a84994cafe7d17ef0e1988af92298e9245c5b756015d7d8f9016dddfcb0d1"
    )


def test_an_opening_for_another_field_does_not_open_the_commitment() -> None:
    commitment = c.commit("note", "Yes to this lab only.", salt=SALT)
    with pytest.raises(c.CommitmentError, match="'licensees' does not match"):
        c.verify(commitment, c.Opening("licensees", SALT, "Yes to this lab only."))


def test_a_changed_value_or_salt_is_refused() -> None:
    commitment = c.commit("share", "50.000", salt=SALT)
    with pytest.raises(c.CommitmentError):
        c.verify(commitment, c.Opening("share", SALT, "50.001"))
    with pytest.raises(c.CommitmentError):
        c.verify(commitment, c.Opening("share", bytes(32), "50.000"))


def test_malformed_salts_fields_and_commitments_are_refused() -> None:
    with pytest.raises(c.CommitmentError, match="salt is 16 bytes"):
        c.commit("share", "1", salt=bytes(16))
    with pytest.raises(c.CommitmentError, match="not a lowercase identifier"):
        c.commit("Share\x00", "1", salt=SALT)
    with pytest.raises(c.CommitmentError, match="not a commitment"):
        c.verify("sha256:ABC", c.Opening("share", SALT, "1"))
    with pytest.raises(c.CommitmentError, match="cannot be canonicalised"):
        c.commit("share", float("nan"), salt=SALT)


def test_seal_replaces_the_fields_and_unseal_restores_them() -> None:
    payload = {"id": "r1", "licensees": ["a", "b"], "note": "n", "uses": ["train"]}
    salts = iter([SALT, bytes(32)])
    sealed, openings = c.seal(payload, ("licensees", "note", "absent"), salt=lambda n: next(salts))
    assert sealed == {
        "id": "r1",
        "uses": ["train"],
        "licensees": {"commitment": c.commit("licensees", ["a", "b"], salt=SALT)},
        "note": {"commitment": c.commit("note", "n", salt=bytes(32))},
    }
    assert c.commitments_of(sealed).keys() == {"licensees", "note"}
    assert c.unseal(sealed, openings) == payload


def test_unseal_names_a_missing_or_foreign_opening() -> None:
    sealed, openings = c.seal({"share": "1", "id": "x"}, ("share",))
    with pytest.raises(c.CommitmentError, match="no opening for the committed field 'share'"):
        c.unseal(sealed, [])
    with pytest.raises(c.CommitmentError, match="'id', not committed"):
        c.unseal(sealed, [*openings, c.Opening("id", SALT, "x")])


def test_each_seal_draws_a_new_salt_so_equal_values_do_not_look_equal() -> None:
    first, _ = c.seal({"share": "50.000"}, ("share",))
    second, _ = c.seal({"share": "50.000"}, ("share",))
    assert first != second


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
fields = st.from_regex(c.FIELD_PATTERN, fullmatch=True)


@given(field=fields, value=json_values, salt=st.binary(min_size=32, max_size=32))
def test_every_opening_verifies_against_its_own_commitment(
    field: str, value: Any, salt: bytes
) -> None:
    opening = c.Opening(field, salt, value)
    c.verify(opening.commitment(), opening)
    # What is stored (the value's canonical bytes) hashes to the same commitment.
    assert c.commit_bytes(field, opening.value_bytes, salt=salt) == opening.commitment()


@given(
    field=fields,
    value=json_values,
    other=json_values,
    salt=st.binary(min_size=32, max_size=32),
)
def test_no_other_value_opens_a_commitment(field: str, value: Any, other: Any, salt: bytes) -> None:
    assume(c.encode_value(other) != c.encode_value(value))  # not the same JSON value again
    with pytest.raises(c.CommitmentError):
        c.verify(c.commit(field, value, salt=salt), c.Opening(field, salt, other))


@given(value=json_values | st.floats(allow_nan=False, allow_infinity=False))
def test_the_fast_encoding_of_a_value_is_rfc_8785(value: Any) -> None:
    import rfc8785

    assert c.encode_value(value) == rfc8785.dumps(value)
    assert c.encode_value({"v": value}) == rfc8785.dumps({"v": value})


def test_an_opening_from_its_stored_bytes_checks_those_bytes_and_reads_them() -> None:
    stored = c.encode_value({"b": 1, "a": [True, "é"]})
    opening = c.Opening.from_bytes("trace", SALT, stored)
    assert opening.value == {"a": [True, "é"], "b": 1}
    assert opening.commitment() == c.commit("trace", {"a": [True, "é"], "b": 1}, salt=SALT)
    # bytes other than those committed (the same value written otherwise) do not open it
    other = c.Opening.from_bytes("trace", SALT, b'{"b":1,"a":[true,"\\u00e9"]}')
    assert other.value == opening.value
    with pytest.raises(c.CommitmentError, match="does not match"):
        c.verify(opening.commitment(), other)


def test_unseal_with_the_commitments_given_gives_what_it_finds_itself() -> None:
    payload = {"id": "r1", "note": "n"}
    sealed, openings = c.seal(payload, ("note",))
    committed = c.commitments_of(sealed)
    assert c.unseal(sealed, openings, committed=committed) == payload
    with pytest.raises(c.CommitmentError, match="no opening"):
        c.unseal(sealed, [], committed=committed)
