"""The opening bundle's framing (``ledger.opening_bundles``): what is written is read back,
and a body that is not a bundle is refused, saying why."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.opening_bundles import MAGIC, decode_bundle, encode_bundle

LEAF = bytes(range(32))
SALT = bytes(range(32, 64))

records = st.lists(
    st.tuples(
        st.integers(0, 2**40),
        st.binary(min_size=32, max_size=32),
        st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
        st.binary(min_size=32, max_size=32),
        st.binary(max_size=300),
    ),
    max_size=8,
).map(lambda rs: sorted(rs, key=lambda r: r[0]))


@given(records)
def test_every_bundle_reads_back_as_the_records_written(written) -> None:  # type: ignore[no-untyped-def]
    assert decode_bundle(encode_bundle(written)) == written


def test_the_format_is_the_documented_one() -> None:
    body = encode_bundle([(41, LEAF, "share", SALT, b'"50.000"')])
    assert body == (
        b"consentry.ledger.openings.v1\n"
        + struct.pack(">Q", 41)
        + LEAF
        + b"\x05share"
        + SALT
        + struct.pack(">I", 8)
        + b'"50.000"'
    )


def test_a_record_cut_short_anywhere_is_refused() -> None:
    body = encode_bundle([(1, LEAF, "trace", SALT, b'{"a":1}'), (2, LEAF, "share", SALT, b'"1"')])
    first_end = len(encode_bundle([(1, LEAF, "trace", SALT, b'{"a":1}')]))
    for cut in range(len(MAGIC) + 1, len(body)):
        if cut == first_end:  # a whole record less: read as such (the verifier misses it)
            assert len(decode_bundle(body[:cut])) == 1
            continue
        with pytest.raises(ValueError, match=r"cut short|malformed"):
            decode_bundle(body[:cut])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"entries":[]}', "magic"),
        (b"consentry.ledger.openings.v2\n", "magic"),
        (encode_bundle([(2, LEAF, "a", SALT, b"1"), (1, LEAF, "a", SALT, b"1")]), "after entry 2"),
        (MAGIC + struct.pack(">Q32sB", 1, LEAF, 0) + SALT + struct.pack(">I", 0), "malformed"),
        (MAGIC + struct.pack(">Q32sB", 1, LEAF, 1) + b"\xff" + SALT + b"\0\0\0\0", "ASCII"),
    ],
)
def test_a_body_that_is_not_a_bundle_is_refused_saying_why(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_bundle(body)


def test_an_opening_that_cannot_be_framed_is_not_written() -> None:
    with pytest.raises(ValueError, match="cannot be bundled"):
        encode_bundle([(1, LEAF, "share", b"short", b"1")])
