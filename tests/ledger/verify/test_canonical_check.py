"""The fast canonical-JSON check agrees with :func:`ledger.canonical.decode_entry`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import encode_entry
from ledger.verify import (
    CanonicalChecker,
)
from tests.ledger.fakelog import ENTRY_TIME, make_entry
from tests.ledger.verify.support import check_verdict, decode_verdict

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
