"""Canonical entry bytes: RFC 8785 JSON of {"v", "type", "time", "payload"}."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    ENTRY_FORMAT_VERSION,
    MAX_ENTRY_BYTES,
    Entry,
    decode_checked_entry,
    decode_entry,
    decode_json,
    encode_entries,
    encode_entry,
    format_time,
    parse_time,
    sha256_hex,
)

WHEN = datetime(2026, 11, 25, 19, 52, 18, 123456, tzinfo=UTC)
GOLDEN = (
    b'{"payload":{"track":42,"work":"sha256:abc"},"time":"2026-11-25T19:52:18.123Z",'
    b'"type":"consent.granted","v":1}'
)


def entry_bytes(**members: Any) -> bytes:
    document = {"v": 1, "type": "consent.granted", "time": "2026-11-25T19:52:18.123Z"}
    document["payload"] = {}
    document.update(members)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class TestTime:
    def test_it_writes_utc_with_milliseconds_and_a_z(self) -> None:
        assert format_time(WHEN) == "2026-11-25T19:52:18.123Z"

    def test_it_converts_other_offsets_to_utc(self) -> None:
        paris = timezone(timedelta(hours=1))
        assert format_time(datetime(2026, 1, 1, 0, 30, tzinfo=paris)) == "2025-12-31T23:30:00.000Z"

    def test_it_truncates_rather_than_rounds_microseconds(self) -> None:
        moment = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        assert format_time(moment) == "2026-12-31T23:59:59.999Z"

    def test_it_pads_small_years_to_four_digits(self) -> None:
        assert format_time(datetime(5, 1, 2, tzinfo=UTC)) == "0005-01-02T00:00:00.000Z"

    def test_it_refuses_a_naive_datetime(self) -> None:
        with pytest.raises(ValueError, match="no timezone"):
            format_time(datetime(2026, 11, 25, 19, 52, 18))

    def test_it_parses_what_it_writes(self) -> None:
        assert parse_time("2026-11-25T19:52:18.123Z") == datetime(
            2026, 11, 25, 19, 52, 18, 123000, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        "text",
        [
            "2026-11-25T19:52:18Z",
            "2026-11-25T19:52:18.12Z",
            "2026-11-25T19:52:18.1234Z",
            "2026-11-25T19:52:18.123+00:00",
            "2026-11-25T19:52:18.123z",
            "2026-11-25t19:52:18.123Z",
            "2026-11-25 19:52:18.123Z",
            "2026-02-30T00:00:00.000Z",
            "2026-11-25T24:00:00.000Z",
            "\uff12026-11-25T19:52:18.123Z",
            " 2026-11-25T19:52:18.123Z",
            "2026-11-25T19:52:18.123Z\n",
        ],
    )
    def test_it_rejects_any_other_time_form(self, text: str) -> None:
        with pytest.raises(ValueError, match="time"):
            parse_time(text)

    @given(st.datetimes(timezones=st.just(UTC)))
    def test_time_survives_a_round_trip_at_millisecond_precision(self, moment: datetime) -> None:
        parsed = parse_time(format_time(moment))
        assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        assert parsed.tzinfo is UTC
        assert format_time(parsed) == format_time(moment)

    def test_it_says_why_a_well_formed_time_is_not_a_date(self) -> None:
        with pytest.raises(ValueError, match="not a valid date and time: day is out of range"):
            parse_time("2026-02-30T00:00:00.000Z")


class TestEncoding:
    def test_it_produces_the_exact_canonical_bytes(self) -> None:
        payload = {"work": "sha256:abc", "track": 42}
        assert encode_entry(kind="consent.granted", time=WHEN, payload=payload) == GOLDEN

    def test_it_sorts_keys_by_utf16_code_units_as_rfc_8785_section_3_2_3_shows(self) -> None:
        # The sorting example of RFC 8785 §3.2.3.
        payload = {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        }
        data = encode_entry(kind="k", time=WHEN, payload=payload)
        order = list(json.loads(data)["payload"])
        assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
        assert b'"\\r":"Carriage Return"' in data
        assert "\u20ac".encode() in data

    @pytest.mark.parametrize(
        ("number", "written"),
        [
            (1.0, b"1"),
            (-0.0, b"0"),
            (1e21, b"1e+21"),
            (1e20, b"100000000000000000000"),
            (1e-7, b"1e-7"),
            (0.000001, b"0.000001"),
            (333333333.3333333, b"333333333.3333333"),
            (9007199254740991, b"9007199254740991"),
        ],
    )
    def test_it_writes_numbers_in_their_ecmascript_form(
        self, number: float, written: bytes
    ) -> None:
        data = encode_entry(kind="k", time=WHEN, payload={"n": number})
        assert data.startswith(b'{"payload":{"n":' + written + b"},")
        assert decode_entry(data).payload["n"] == number

    @pytest.mark.parametrize(
        "kind",
        [
            "",
            "Consent",
            "consent.",
            ".consent",
            "consent..granted",
            "1consent",
            "consent-granted",
            "consent granted",
            "consent.Granted",
            "a" * 65,
            "consent.\u00e9",
        ],
    )
    def test_it_rejects_malformed_kinds(self, kind: str) -> None:
        with pytest.raises(ValueError, match="entry kind"):
            encode_entry(kind=kind, time=WHEN, payload={})

    @pytest.mark.parametrize("kind", ["consent", "consent.granted", "usage_report.v2", "a.b_c.d9"])
    def test_it_accepts_dotted_and_underscored_kinds(self, kind: str) -> None:
        assert decode_entry(encode_entry(kind=kind, time=WHEN, payload={})).kind == kind

    @pytest.mark.parametrize(
        "payload",
        [
            {1: "non-string key"},
            {"big": 2**53},
            {"nan": float("nan")},
            {"inf": float("inf")},
            {"bytes": b"raw"},
            {"set": {1, 2}},
            {"lone surrogate": "\ud800"},
        ],
    )
    def test_it_refuses_payloads_json_cannot_carry_canonically(self, payload: Any) -> None:
        with pytest.raises(ValueError, match="canonicalised"):
            encode_entry(kind="k", time=WHEN, payload=payload)

    def test_it_refuses_a_payload_that_is_not_an_object(self) -> None:
        with pytest.raises(ValueError, match="JSON object"):
            encode_entry(kind="k", time=WHEN, payload=[1, 2])  # type: ignore[arg-type]

    def test_it_refuses_entries_too_large_for_an_entry_bundle(self) -> None:
        with pytest.raises(ValueError, match="limit is 65535"):
            encode_entry(kind="k", time=WHEN, payload={"blob": "x" * MAX_ENTRY_BYTES})

    def test_the_content_commitment_is_lowercase_hex_sha256(self) -> None:
        # FIPS 180-2 Appendix B.1 test vector.
        expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert sha256_hex(b"abc") == expected


class TestDecoding:
    def test_it_decodes_the_canonical_bytes(self) -> None:
        assert decode_entry(GOLDEN) == Entry(
            v=ENTRY_FORMAT_VERSION,
            kind="consent.granted",
            time=datetime(2026, 11, 25, 19, 52, 18, 123000, tzinfo=UTC),
            payload={"track": 42, "work": "sha256:abc"},
        )

    @pytest.mark.parametrize(
        "data",
        [
            GOLDEN.replace(b",", b", "),
            b" " + GOLDEN,
            GOLDEN + b"\n",
            GOLDEN.replace(
                b'{"track":42,"work":"sha256:abc"}', b'{"work":"sha256:abc","track":42}'
            ),
            GOLDEN.replace(b"42", b"42.0"),
            GOLDEN.replace(b"42", b"4.2e1"),
            GOLDEN.replace(b"abc", b"\\u0061bc"),
            GOLDEN.replace(b"abc", b"a\\/c"),
            entry_bytes(payload={"n": 9007199254740993}),
            entry_bytes(payload={"e": "\u00e9"}),
        ],
    )
    def test_it_rejects_bytes_that_are_not_canonical(self, data: bytes) -> None:
        with pytest.raises(ValueError, match="not RFC 8785 canonical"):
            decode_entry(data)

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"\xff", "not UTF-8"),
            (b"", "not JSON"),
            (b"[]", "not a JSON object"),
            (b'{"payload":{"n":NaN},"time":"x","type":"k","v":1}', "NaN"),
            (b'{"v":1,"v":1}', "repeats the member 'v'"),
            (entry_bytes(extra=1), "unexpected \\['extra'\\]"),
            (b'{"payload":{},"type":"k","v":1}', "missing \\['time'\\]"),
            (entry_bytes(v=2), "version 2 is not supported"),
            (entry_bytes(v="1"), "'v' must be an integer"),
            (entry_bytes(v=True), "'v' must be an integer"),
            (entry_bytes(v=1.5), "'v' must be an integer"),
            (entry_bytes(type=7), "'type' must be a string"),
            (entry_bytes(type="Bad Kind"), "entry kind"),
            (entry_bytes(time=0), "'time' must be a string"),
            (entry_bytes(time="2026-11-25T19:52:18Z"), "time"),
            (entry_bytes(payload=[]), "'payload' must be a JSON object"),
            (b"[" * 100_000, "limit is 65535"),
            (b"[" * 60_000, "nested too deeply"),
        ],
    )
    def test_it_says_why_it_rejects_malformed_entries(self, data: bytes, reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            decode_entry(data)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KINDS = st.from_regex(r"[a-z][a-z0-9_]{0,7}(\.[a-z][a-z0-9_]{0,7}){0,2}", fullmatch=True)


class TestProperties:
    @given(
        kind=KINDS,
        moment=st.datetimes(timezones=st.just(UTC)),
        payload=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5),
    )
    @settings(max_examples=150, deadline=None)
    def test_decoding_what_was_encoded_gives_back_the_entry_and_the_bytes(
        self, kind: str, moment: datetime, payload: dict[str, Any]
    ) -> None:
        data = encode_entry(kind=kind, time=moment, payload=payload)
        entry = decode_entry(data)
        assert entry.kind == kind
        assert entry.time == parse_time(format_time(moment))
        assert entry.payload == payload
        assert encode_entry(kind=entry.kind, time=entry.time, payload=entry.payload) == data

    @given(payload=st.dictionaries(st.text(max_size=8), JSON_VALUES, min_size=2, max_size=6))
    @settings(max_examples=50, deadline=None)
    def test_the_bytes_do_not_depend_on_key_insertion_order(self, payload: dict[str, Any]) -> None:
        reordered = dict(reversed(list(payload.items())))
        assert encode_entry(kind="k", time=WHEN, payload=payload) == encode_entry(
            kind="k", time=WHEN, payload=reordered
        )


# The fast path of encode_entry must give the rfc8785 library's bytes, for every value it takes.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(blacklist_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(max_codepoint=127), max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(_json_values)
def test_the_fast_path_agrees_with_the_rfc8785_library(value: object) -> None:
    from ledger.canonical import _fast_canonical

    document = {"v": 1, "type": "t", "time": "2026-01-01T00:00:00.000Z", "payload": {"x": value}}
    fast = _fast_canonical(document)
    assert fast is not None
    assert fast == rfc8785.dumps(document)


def test_the_fast_path_leaves_floats_and_non_ascii_keys_to_the_library() -> None:
    from ledger.canonical import _fast_canonical

    assert _fast_canonical({"payload": {"x": 1.5}}) is None
    assert _fast_canonical({"payload": {"\U0001f600": 1, "\uffff": 2}}) is None
    assert _fast_canonical({"payload": {"x": 2**60}}) is None


class _Key(str):
    pass


class _Count(int):
    pass


# _plain walks a value by exact type and leaves any other type to the recursive check: the two
# must agree on everything, floats, unsafe integers, non-ASCII keys and subclasses included.
_any_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**54), max_value=2**54)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.builds(_Count, st.integers(min_value=0, max_value=9))
    | st.tuples(st.integers()),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=3), children, max_size=4)
        | st.dictionaries(st.builds(_Key, st.text(max_size=3)), children, max_size=2)
        | st.dictionaries(st.integers(min_value=0, max_value=3) | st.none(), children, max_size=2)
    ),
    max_leaves=20,
)


@given(_any_values)
def test_the_plain_check_agrees_with_the_recursive_one(value: object) -> None:
    from ledger.canonical import _plain, _plain_value

    assert _plain(value) == _plain_value(value)


def test_the_plain_check_of_a_value_that_contains_itself_fails_as_it_always_did() -> None:
    from ledger.canonical import _plain

    looped: list[object] = ["x"]
    looped.append(looped)
    with pytest.raises(RecursionError):
        _plain(looped)


def test_a_committed_string_takes_the_fast_path_with_the_library_s_bytes() -> None:
    from ledger.commitments import encode_value

    for value in ("100", "é\u2028\n\x7f", "", True, None, 7, [1, "a"]):
        assert encode_value(value) == rfc8785.dumps(value)


# decode_entry's fast path (the standard library alone) must return exactly what the thorough
# path returns, and leave to it every entry it cannot vouch for (so the errors stay its own).
_RFC_EXAMPLE = {
    "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
}  # fmt: skip


def _thorough(data: bytes) -> Entry | str:
    from ledger.canonical import _decode_thorough

    try:
        return _decode_thorough(data, data.decode("utf-8"))
    except ValueError as exc:
        return str(exc)


def _decoded(data: bytes) -> Entry | str:
    try:
        return decode_entry(data)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "data",
    [
        GOLDEN.replace(b",", b", "),
        GOLDEN.replace(b'{"track":42,"work":"sha256:abc"}', b'{"work":"sha256:abc","track":42}'),
        GOLDEN.replace(b"42", b"42.0"),
        GOLDEN.replace(b"42", b"4.2e1"),
        GOLDEN.replace(b"abc", b"\\u0061bc"),
        GOLDEN.replace(b'"track":42', b'"track":42,"track":42'),
        GOLDEN.replace(b'"track":42', b'"track":NaN'),
        entry_bytes(payload={"n": 9007199254740993}),
        entry_bytes(payload={"n": 9007199254740992}),
        entry_bytes(payload={"e": "\u00e9"}),
        encode_entry(kind="k", time=WHEN, payload=_RFC_EXAMPLE),
        encode_entry(kind="k", time=WHEN, payload={"x": 1.5}),
        GOLDEN.replace(b"abc", b"\\ud800"),
        GOLDEN.replace(b"abc", b"\\ud83d\\ude00"),
        json.dumps(
            {
                "v": 1,
                "type": "k",
                "time": "2026-11-25T19:52:18.123Z",
                "payload": {"\U0001f600": 1, "\ufb33": 2},
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode(),
        entry_bytes(v=True),
        entry_bytes(type="Bad Kind"),
        entry_bytes(time="2026-11-25T19:52:18Z"),
        entry_bytes(extra=1),
        b'{"v":1,"v":1}',
        b"[]",
    ],
)
def test_the_fast_decoding_leaves_what_it_cannot_vouch_for_to_the_thorough_path(
    data: bytes,
) -> None:
    from ledger.canonical import _decode_fast

    assert _decode_fast(data, data.decode("utf-8")) is None
    assert _decoded(data) == _thorough(data)


@pytest.mark.parametrize(
    "payload",
    [
        {"track": 42, "work": "sha256:abc"},
        {"title": "Chanson d\u2019\u00e9t\u00e9", "\u00e9": [1, None, True, {"a": "\n"}]},
        {"n": 9007199254740991, "m": -9007199254740991, "nested": [[[]], {}]},
    ],
)
def test_the_fast_decoding_gives_what_the_thorough_path_gives(payload: dict[str, Any]) -> None:
    from ledger.canonical import _decode_fast

    data = encode_entry(kind="consent.granted", time=WHEN, payload=payload)
    fast = _decode_fast(data, data.decode("utf-8"))
    assert fast is not None
    assert fast == _thorough(data)
    assert fast.payload == payload


@given(payload=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), cut=st.integers())
@settings(max_examples=200, deadline=None)
def test_decoding_is_the_thorough_paths_whatever_the_bytes(
    payload: dict[str, Any], cut: int
) -> None:
    data = encode_entry(kind="k", time=WHEN, payload=payload)
    assert _decoded(data) == _thorough(data)
    # and a byte changed, or the entry re-written by json.dumps (not canonical for every value)
    changed = bytearray(data)
    changed[cut % len(data)] ^= 0x01
    try:
        changed_data = bytes(changed)
        changed_data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert _decoded(changed_data) == _thorough(changed_data)
    document = json.loads(data)
    for ascii_only in (True, False):
        rewritten = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only
        ).encode("utf-8", "surrogatepass")
        try:
            rewritten.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert _decoded(rewritten) == _thorough(rewritten)


_JSON_OR_FLOAT = JSON_VALUES | st.floats(allow_nan=False, allow_infinity=False)


@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 1]))
@settings(max_examples=300, deadline=None)
def test_decode_json_reads_a_value_and_says_if_the_bytes_are_its_rfc8785_form(
    value: Any, indent: int | None
) -> None:
    canonical_bytes = rfc8785.dumps(value)
    try:  # a float as large as 2.0**53 reads as an int, outside RFC 8785's integers
        assume(rfc8785.dumps(json.loads(canonical_bytes)) == canonical_bytes)
    except rfc8785.CanonicalizationError:
        assume(False)
    assert decode_json(canonical_bytes) == (json.loads(canonical_bytes), True)
    other = json.dumps(value, indent=indent, ensure_ascii=indent is None).encode()
    read, is_canonical = decode_json(other)
    assert read == json.loads(other)
    assert is_canonical is (other == canonical_bytes)


@pytest.mark.parametrize(
    ("data", "is_canonical"),
    [
        (rb'{"a":1,"b":[true,null,"\u00e9"]}', False),  # RFC 8785 writes the character
        ('{"a":1,"b":[true,null,"\u00e9"]}'.encode(), True),
        (b'{"a":1,"a":1}', False),  # a repeated member
        (b'{"b":1,"a":2}', False),
        (b"1.0", False),
        (b"1.5", True),
        (b"1e21", False),
        (b"1e+21", True),
        (b"9007199254740993", False),
        (b"NaN", False),
        (rb'"\ud800"', False),  # a lone surrogate
        (rb'{"\ud83d\ude00":1,"\uffff":2}', False),
        ('{"\U0001f600":1,"\uffff":2}'.encode(), True),  # UTF-16 order, not code points
        ('{"\uffff":2,"\U0001f600":1}'.encode(), False),
    ],
)
def test_decode_json_tells_the_rfc8785_form_from_others(data: bytes, is_canonical: bool) -> None:
    assert decode_json(data)[1] is is_canonical


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"", "Expecting value"), (b"{", "Expecting property name"), (b"\xff", "can't decode"),
     (b"[1,]", "Expecting value")],
)  # fmt: skip
def test_decode_json_refuses_what_is_not_json(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode_json(data)


@given(payload=st.dictionaries(st.text(max_size=8), _JSON_OR_FLOAT, max_size=5))
@settings(max_examples=200, deadline=None)
def test_decoding_checked_bytes_gives_the_entry_decode_entry_gives(payload: dict[str, Any]) -> None:
    data = encode_entry(kind="k", time=WHEN, payload=payload)
    assert decode_checked_entry(data) == decode_entry(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"[]", "not a JSON object"),
        (b'{"v":2}', "members must be exactly"),
        (b"\xff", "not UTF-8"),
        (entry_bytes(type="Bad Kind"), "must be lowercase identifiers"),
    ],
)
def test_decoding_checked_bytes_that_are_no_entry_says_why_as_decode_entry_does(
    data: bytes, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        decode_entry(data)
    with pytest.raises(ValueError, match=why):
        decode_checked_entry(data)


def test_encode_entries_are_encode_entry_each() -> None:
    """The batch an import seals with is, entry by entry, what ``encode_entry`` writes: the
    fast path, the library's (a float, a non-ASCII key) and the refusals alike."""
    items: list[tuple[str, Any]] = [
        ("work", {"id": "a", "version": 1, "languages": ["en"], "credits": [{"name": "é"}]}),
        ("rights_share", {"share": {"commitment": "sha256:" + "0" * 64}, "territories": []}),
        ("work", {"ключ": 1.5, "n": None}),
        ("party", {}),
    ]
    assert encode_entries(items=items, time=WHEN) == [
        encode_entry(kind=k, time=WHEN, payload=p) for k, p in items
    ]
    bad_ones = [
        ([("Bad Kind", {})], "entry kind"),
        ([("work", {1: "x"})], "keys must be strings"),
        ([("work", {"n": 2**60})], "safe integer"),
    ]
    for bad, why in bad_ones:
        with pytest.raises(ValueError, match=why) as one:
            encode_entry(kind=bad[0][0], time=WHEN, payload=bad[0][1])
        with pytest.raises(ValueError, match=why) as batch:
            encode_entries(items=bad, time=WHEN)
        assert str(batch.value) == str(one.value)
