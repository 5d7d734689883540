"""Identifiers and territory specs: known-answer values with their source, the messages people
see, and Hypothesis properties against reference formulas written out again here from the
standards. Pure functions: no database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from governance.identifiers import (
    ALL_TERRITORIES,
    SCHEMES,
    IdentifierError,
    ipi_check_digits,
    iswc_check_digit,
    normalize_ipi,
    normalize_isni,
    normalize_isrc,
    normalize_iswc,
    normalize_language,
    normalize_territories,
    normalize_upc,
    territory_covers,
    territory_sets_overlap,
)

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
digit = st.integers(min_value=0, max_value=9)


def test_an_identifier_error_is_a_value_error() -> None:
    assert issubclass(IdentifierError, ValueError)


def test_the_module_imports_no_django() -> None:
    code = "import sys, governance.identifiers; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- ISRC (ISO 3901) ------------------------------------------------------------------------


# US-RC1-76-07839 is the example of the Wikipedia article on the ISRC.
@pytest.mark.parametrize(
    "value", ["USRC17607839", "US-RC1-76-07839", "us-rc1-76-07839", " US RC1 76 07839 "]
)
def test_it_compacts_and_upper_cases_an_isrc(value: str) -> None:
    assert normalize_isrc(value) == "USRC17607839"


# Shape examples (not real recordings): QM and QZ are US overflow allocations, ZZ is the
# International ISRC Agency's own; none is an ISO 3166-1 code.
@pytest.mark.parametrize("value", ["QM-ABC-24-00001", "QZ-ABC-24-00001", "ZZ-ABC-24-00001"])
def test_it_accepts_the_isrc_agency_country_codes_that_are_not_iso(value: str) -> None:
    assert normalize_isrc(value) == value.replace("-", "")


def _isrc_by_stdnum(value: str) -> str | IdentifierError:
    """What normalize_isrc makes of ``value`` through stdnum's cleaning (a leading space, which
    it strips, keeps the value off the fast path for ISRCs already in their form)."""
    try:
        return normalize_isrc(" " + value)
    except IdentifierError as exc:
        return exc


def _isrc_as_is(value: str) -> str | IdentifierError:
    try:
        return normalize_isrc(value)
    except IdentifierError as exc:
        return exc


@pytest.mark.parametrize("country", [a + b for a in "AZQUGX" for b in "ABMKSTZX"])
def test_an_isrc_in_its_form_is_judged_as_stdnum_judges_it_whatever_its_country(
    country: str,
) -> None:
    value = country + "RC17607839"
    fast, slow = _isrc_as_is(value), _isrc_by_stdnum(value)
    assert type(fast) is type(slow)
    assert str(fast) == str(slow)


@given(
    st.from_regex(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", fullmatch=True)
    | st.from_regex(r"[A-Za-z]{2}[A-Z0-9a-z\-]{3,4}[0-9\uff10]{7}", fullmatch=True)
    | st.text(alphabet="USRCQMZ01789-a \u00e9\uff10", min_size=10, max_size=14)
)
def test_the_fast_path_for_an_isrc_in_its_form_agrees_with_stdnum(value: str) -> None:
    fast, slow = _isrc_as_is(value), _isrc_by_stdnum(value)
    assert type(fast) is type(slow)
    assert str(fast) == str(slow)


def test_it_rejects_an_isrc_with_a_bad_country() -> None:
    with pytest.raises(IdentifierError, match="country code 'XX' is neither ISO 3166-1"):
        normalize_isrc("XX-RC1-76-07839")


def test_it_rejects_an_isrc_of_the_wrong_length() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_isrc("USRC176078")
    assert str(caught.value) == "ISRC must be 12 characters (CC-XXX-YY-NNNNN), got 10"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("U1RC17607839", "country code must be two letters, got 'U1'"),
        ("USR!17607839", "registrant code must be 3 letters or digits, got 'R!1'"),
        ("USRC1760783O", "year and designation .* must be digits, got '760783O'"),
    ],
)
def test_it_says_which_part_of_a_malformed_isrc_is_wrong(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_isrc(value)


# --- ISWC (ISO 15707) -----------------------------------------------------------------------


def _reference_iswc_check(body: str) -> int:
    """ISO 15707 as Wikipedia states it: S = 1 + sum(i * d_i), C = (10 - S mod 10) mod 10."""
    s = 1 + sum(i * int(d) for i, d in zip(range(1, 10), body, strict=True))
    return (10 - s % 10) % 10


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        # The worked example of the Wikipedia article on the ISWC (S = 179, C = 1).
        ("T-034.524.680-1", "T0345246801"),
        ("T0345246801", "T0345246801"),
        ("t-034524680-1", "T0345246801"),
        # The first ISWC ever assigned, ABBA's "Dancing Queen" (Wikipedia).
        ("T-000.000.001-0", "T0000000010"),
        # Benny Hill's "Ernie" (ohahs.org, "What is an IPI (CAE) number").
        ("T 010 171 314 7", "T0101713147"),
    ],
)
def test_it_accepts_real_iswcs_in_any_common_notation(value: str, canonical: str) -> None:
    assert normalize_iswc(value) == canonical


def test_it_rejects_an_iswc_with_a_bad_check_digit() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_iswc("T-034.524.680-7")
    assert str(caught.value) == "ISWC check digit is 7, expected 1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0345246801", "must start with T, got '0'"),
        ("", "must start with T, got ''"),
        ("T-034.524.680", "must be T and 10 digits .*, got 9"),
        ("T-034.524.680-12", "must be T and 10 digits .*, got 11"),
        ("T-034.524.68O-1", "must be T followed by digits only"),
    ],
)
def test_it_rejects_a_malformed_iswc(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_iswc(value)


@given(body=nine_digits, wrong=digit)
def test_an_iswc_validates_only_with_its_own_check_digit(body: str, wrong: int) -> None:
    check = _reference_iswc_check(body)
    assert iswc_check_digit(body) == check
    assert normalize_iswc(f"T-{body[:3]}.{body[3:6]}.{body[6:]}-{check}") == f"T{body}{check}"
    if wrong != check:
        with pytest.raises(IdentifierError, match=f"check digit is {wrong}, expected {check}"):
            normalize_iswc(f"T{body}{wrong}")


# --- UPC-A / EAN-13 (GS1) -------------------------------------------------------------------


def _reference_ean13_check(body: str) -> int:
    """GS1: weights 1, 3, 1, 3, ... from the left over the first 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return (10 - total % 10) % 10


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        # The UPC-A example of the Wikipedia article on the Universal Product Code.
        ("036000291452", "0036000291452"),
        ("0 36000 29145 2", "0036000291452"),
        # The EAN-13 example of the Wikipedia article on the International Article Number.
        ("4006381333931", "4006381333931"),
        # An ISBN-13 is an EAN-13 (python-stdnum's documentation).
        ("978-0-471-11709-4", "9780471117094"),
    ],
)
def test_it_returns_an_ean13_for_a_upc_or_an_ean(value: str, canonical: str) -> None:
    assert normalize_upc(value) == canonical


def test_it_rejects_a_upc_with_a_bad_check_digit() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_upc("036000291453")
    assert str(caught.value) == "UPC/EAN check digit is 3, expected 2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("73513537", "12 digits .* or 13 digits .*, got 8"),  # a valid EAN-8: not a release
        ("98412345678908", "got 14"),  # a valid GTIN-14: a carton, not a release
        ("03600029145A", "must be digits only, got '03600029145A'"),
        ("", "must be digits only"),
    ],
)
def test_it_rejects_a_upc_of_the_wrong_shape(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_upc(value)


@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12), wrong=digit)
def test_an_ean13_validates_only_with_its_own_check_digit(body: str, wrong: int) -> None:
    check = _reference_ean13_check(body)
    assert normalize_upc(f"{body}{check}") == f"{body}{check}"
    if body.startswith("0"):  # the same number written as a UPC-A
        assert normalize_upc(f"{body[1:]}{check}") == f"{body}{check}"
    if wrong != check:
        with pytest.raises(IdentifierError, match=f"check digit is {wrong}, expected {check}"):
            normalize_upc(f"{body}{wrong}")


# --- ISNI (ISO 27729) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        # A widely quoted example ISNI (its Mod 11-2 check verified, not its holder).
        ("0000 0001 2103 2683", "0000000121032683"),
        # python-stdnum's documentation; the check character is X, here in lower case.
        ("0000 0001 2281 955x", "000000012281955X"),
        ("0000-0001-2281-955X", "000000012281955X"),
    ],
)
def test_it_compacts_an_isni(value: str, canonical: str) -> None:
    assert normalize_isni(value) == canonical


def test_it_rejects_an_isni_with_a_bad_check_character() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_isni("0000 0001 2103 268X")
    assert str(caught.value) == "ISNI check character is X, expected 3"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0000 0001 2103", "must be 16 characters .*, got 12"),
        ("0000 0001 2X03 2683", "15 digits followed by a digit or X"),
    ],
)
def test_it_rejects_a_malformed_isni(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_isni(value)


# --- IPI name number (CISAC) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        # Wikidata property P1828 (IPI name number), its listed examples: Brian May, Basshunter.
        ("00087038166", "00087038166"),
        ("00494248817", "00494248817"),
        # Benny Hill (ohahs.org, "What is an IPI (CAE) number"), with and without leading zeros.
        ("00014107338", "00014107338"),
        ("14107338", "00014107338"),
        # A nine-digit PRS CAE number quoted on a publisher's registration form (Maori Music).
        ("159 804 347", "00159804347"),
    ],
)
def test_it_accepts_real_ipi_name_numbers_and_pads_them_to_eleven_digits(
    value: str, canonical: str
) -> None:
    assert normalize_ipi(value) == canonical


def test_it_rejects_an_ipi_name_number_with_bad_check_digits() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_ipi("00087038167")
    assert str(caught.value) == "IPI name number check digits are 67, expected 66"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("000870381660", "at most 11 digits, got 12"),
        ("I-000087038-1", "digits only"),  # an IPI base number is not a name number
        ("", "digits only"),
        ("000", "must not be all zeros"),
    ],
)
def test_it_rejects_a_malformed_ipi_name_number(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_ipi(value)


@given(body=nine_digits, wrong=st.integers(min_value=0, max_value=99))
def test_an_ipi_name_number_validates_only_with_its_own_check_digits(body: str, wrong: int) -> None:
    check = ipi_check_digits(body)
    weighted = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
    # Weighting the two check digits by 1 makes the whole number 0 modulo 101, except where
    # that would need 100, which two digits cannot hold (written as 00).
    assert (weighted + int(check)) % 101 == 0 or (weighted % 101 == 1 and check == "00")
    assume(body.strip("0"))  # all zeros is refused outright
    assert normalize_ipi(body + check) == body + check
    assert normalize_ipi((body + check).lstrip("0")) == body + check
    if f"{wrong:02d}" != check:
        with pytest.raises(IdentifierError):
            normalize_ipi(f"{body}{wrong:02d}")


# --- languages (ISO 639) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("en", "en"),
        ("ENG", "en"),
        (" De ", "de"),
        ("fra", "fr"),  # ISO 639-2/T
        ("fre", "fr"),  # ISO 639-2/B, as older library records write it
        ("yue", "yue"),  # Cantonese: ISO 639-3 only, no two-letter code
        ("zxx", "zxx"),  # no linguistic content: instrumentals
        ("mul", "mul"),
    ],
)
def test_it_prefers_the_two_letter_language_code(value: str, canonical: str) -> None:
    assert normalize_language(value) == canonical


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xx", "'xx' is not an ISO 639 language code"),
        ("qqq", "'qqq' is not an ISO 639 language code"),
        ("english", "2- or 3-letter ISO 639 code .*, got 'english'"),
        ("en-US", "got 'en-US'"),
    ],
)
def test_it_rejects_what_is_not_an_iso_639_code(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_language(value)


# --- schemes --------------------------------------------------------------------------------


def test_each_scheme_name_maps_to_its_normalizer() -> None:
    assert set(SCHEMES) == {"isrc", "iswc", "upc", "isni", "ipi"}
    assert SCHEMES["iswc"]("T-034.524.680-1") == "T0345246801"
    assert SCHEMES["upc"]("036000291452") == "0036000291452"


# --- territories (ISO 3166-1) ---------------------------------------------------------------


def test_all_territories_are_the_iso_codes_and_kosovo() -> None:
    assert {"FR", "GB", "US", "XK"} <= ALL_TERRITORIES
    assert len(ALL_TERRITORIES) >= 250  # 249 ISO 3166-1 codes (2024) and XK
    assert all(len(c) == 2 and c.isupper() for c in ALL_TERRITORIES)
    assert "UK" not in ALL_TERRITORIES


@pytest.mark.parametrize("value", ["", "  ", "WW", "ww", "Worldwide", "WORLDWIDE", [], ["WW"]])
def test_nothing_or_ww_or_ddex_worldwide_means_worldwide(value: str | list[str]) -> None:
    assert normalize_territories(value) == ("worldwide", frozenset())


@pytest.mark.parametrize(
    "value", ["FR,DE BE", "fr; de ;be", "FR, DE, BE, FR", ["fr", "DE", "BE"], ("FR", "DE,BE")]
)
def test_plain_codes_include_those_territories(value: str | list[str]) -> None:
    assert normalize_territories(value) == ("include", frozenset({"FR", "DE", "BE"}))


@pytest.mark.parametrize(
    "value", ["-FR,-DE", "WW -FR -DE", "ww,-fr;-de", "Worldwide -FR -DE", ["-FR", "-DE"]]
)
def test_minus_codes_exclude_those_territories(value: str | list[str]) -> None:
    assert normalize_territories(value) == ("exclude", frozenset({"FR", "DE"}))


def test_kosovo_is_a_territory_as_ddex_has_it() -> None:
    assert normalize_territories("XK RS") == ("include", frozenset({"XK", "RS"}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("FR -DE", "either the territories to include .* not both: got FR and -DE"),
        ("WW FR", "WW means every territory; it cannot be combined with FR"),
        ("-WW", "cannot exclude worldwide"),
        ("FR XX", "unknown territory code 'XX'"),
        ("-ZZ", "unknown territory code 'ZZ'"),
        ("UK", r"unknown territory code 'UK'.*\(the United Kingdom is GB\)"),
        ("FRA", "unknown territory code 'FRA'"),
        ([1], "territory codes must be text, got int"),
    ],
)
def test_it_refuses_an_ambiguous_or_unknown_territory_spec(value: object, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_territories(value)  # type: ignore[arg-type]


def test_coverage_follows_the_mode() -> None:
    fr_de = frozenset({"FR", "DE"})
    assert territory_covers(mode="worldwide", codes=frozenset(), territory="JP")
    assert territory_covers(mode="include", codes=fr_de, territory="FR")
    assert territory_covers(mode="include", codes=fr_de, territory="fr")
    assert not territory_covers(mode="include", codes=fr_de, territory="JP")
    assert territory_covers(mode="exclude", codes=fr_de, territory="JP")
    assert not territory_covers(mode="exclude", codes=fr_de, territory="DE")


def test_an_unknown_territory_mode_is_an_error_not_a_no() -> None:
    with pytest.raises(IdentifierError, match="got 'everywhere'"):
        territory_covers(mode="everywhere", codes=frozenset(), territory="FR")
    with pytest.raises(IdentifierError, match="got 'some'"):
        territory_sets_overlap(
            a_mode="include", a_codes=frozenset({"FR"}), b_mode="some", b_codes=frozenset()
        )


FR, DE, FR_DE = frozenset({"FR"}), frozenset({"DE"}), frozenset({"FR", "DE"})
NONE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("a_mode", "a_codes", "b_mode", "b_codes", "overlap"),
    [
        ("worldwide", NONE, "worldwide", NONE, True),
        ("worldwide", NONE, "include", FR, True),
        ("worldwide", NONE, "exclude", FR, True),
        ("include", FR, "include", FR_DE, True),
        ("include", FR, "include", DE, False),
        ("include", FR_DE, "exclude", FR, True),
        ("include", FR, "exclude", FR_DE, False),
        ("exclude", FR, "include", FR, False),
        ("exclude", FR, "exclude", DE, True),
        ("exclude", FR, "exclude", FR, True),
    ],
)
def test_two_territory_specs_overlap_where_they_share_a_territory(
    a_mode: str, a_codes: frozenset[str], b_mode: str, b_codes: frozenset[str], overlap: bool
) -> None:
    assert (
        territory_sets_overlap(a_mode=a_mode, a_codes=a_codes, b_mode=b_mode, b_codes=b_codes)
        is overlap
    )


territory_sets = st.frozensets(st.sampled_from(["FR", "DE", "BE", "JP", "XK"]), max_size=4)
modes = st.sampled_from(["worldwide", "include", "exclude"])


@given(a_mode=modes, a_codes=territory_sets, b_mode=modes, b_codes=territory_sets)
def test_overlap_agrees_with_coverage_and_never_misses_a_shared_territory(
    a_mode: str, a_codes: frozenset[str], b_mode: str, b_codes: frozenset[str]
) -> None:
    a_codes = NONE if a_mode == "worldwide" else a_codes
    b_codes = NONE if b_mode == "worldwide" else b_codes
    shared = any(
        territory_covers(mode=a_mode, codes=a_codes, territory=t)
        and territory_covers(mode=b_mode, codes=b_codes, territory=t)
        for t in ALL_TERRITORIES
    )
    overlap = territory_sets_overlap(a_mode=a_mode, a_codes=a_codes, b_mode=b_mode, b_codes=b_codes)
    assert overlap == territory_sets_overlap(
        a_mode=b_mode, a_codes=b_codes, b_mode=a_mode, b_codes=a_codes
    )
    if "include" in (a_mode, b_mode):
        assert overlap == shared  # exact when one side is a finite list
    else:
        assert overlap  # conservative: the universe is open
