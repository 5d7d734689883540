"""Music-industry identifiers and ISO 3166-1 territory lists: validate, then normalise.

Pure: no Django, DRF or Celery. Each ``normalize_*`` takes what people type or what a CSV
holds and returns the canonical compact string, or raises :class:`IdentifierError` saying in
plain English what is wrong. The check digits are verified, never just the shape.

=========  ===================================  ==========================  ==============
scheme     standard                             accepted                    canonical
=========  ===================================  ==========================  ==============
ISRC       ISO 3901 (recordings)                ``US-RC1-76-07839``         ``USRC17607839``
ISWC       ISO 15707 (musical works)            ``T-034.524.680-1``         ``T0345246801``
UPC/EAN    GS1 EAN-13 / UPC-A (releases)        ``0 36000 29145 2``         ``0036000291452``
ISNI       ISO 27729 (parties), ISO 7064 11-2   ``0000 0001 2103 2683``     16 characters
IPI        CISAC IPI name number (parties)      ``14107338``                ``00014107338``
language   ISO 639-1 / 639-2 / 639-3            ``eng``, ``fre``, ``zxx``   ``en``, ``fr``, ``zxx``
=========  ===================================  ==========================  ==============

ISRC, ISNI and EAN-13 are checked by python-stdnum, languages and territories by pycountry;
ISWC and IPI are written here because neither library has them:

* ISWC: ``T`` + nine digits d1..d9 + check digit C, with S = 1 + sum(i * di for i in 1..9)
  and C = (10 - S mod 10) mod 10 (ISO 15707).
* IPI name number: eleven digits, the last two a check over the first nine:
  r = sum(di * (11 - i) for i in 1..9) mod 101 (weights 10 down to 2), and the check is
  ``00`` when r is 0, else (101 - r) mod 100 (so r = 1 gives ``00`` too: two digits cannot
  hold 100). We have not seen CISAC's own text; this is
  the algorithm of django-music-publisher (``validators.check_ipi_digit``), and it agrees
  with published numbers (see the tests). Old nine-digit CAE numbers are IPI name
  numbers with the two leading zeros dropped, so shorter inputs are zero-padded to eleven.

Territory specs (as CSV files and the API write them) become ``(mode, codes)``::

    ""  "WW"  "Worldwide"       -> ("worldwide", frozenset())
    "FR,DE BE"                  -> ("include", {"FR", "DE", "BE"})
    "-FR,-DE"  "WW -FR -DE"     -> ("exclude", {"FR", "DE"})

Codes are ISO 3166-1 alpha-2 plus ``XK`` (Kosovo: user-assigned in ISO 3166-1 but used by
DDEX and the ISRC agency). ``Worldwide`` is DDEX's own spelling of ``WW``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Final

import pycountry
from stdnum import ean, isni, isrc
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_2


class IdentifierError(ValueError):
    """An identifier or territory spec is malformed; the message says what and why."""


# --- recordings, works, releases, parties ---------------------------------------------------

_ISRC_SHAPE: Final = "CC-XXX-YY-NNNNN"
_DIGITS: Final = re.compile(r"[0-9]*")  # ASCII only: str.isdigit() also accepts "²" and "٣"


_COMPACT_ISRC: Final = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
"""An ISRC written as :func:`normalize_isrc` returns it (ASCII only)."""


@functools.cache
def _isrc_country_valid(country: str) -> bool:
    """Whether stdnum accepts ``country`` (two capitals) as an ISRC's country code."""
    return isrc.is_valid(country + "AAA0000000")


def normalize_isrc(value: str) -> str:
    """ISO 3901 ISRC -> 12 upper-case characters, e.g. ``USRC17607839``. The country code
    may be an ISO 3166-1 code or one of the IFPI's own allocations (``QM``, ``QZ``, ``ZZ``,
    ...), which stdnum keeps a list of.

    One already in that form is returned as it is once its country code is known good (stdnum
    would return it unchanged; its character-by-character cleaning is most of a manifest
    line's parsing)."""
    if _COMPACT_ISRC.fullmatch(value) and _isrc_country_valid(value[:2]):
        return value
    number = isrc.compact(value)
    if len(number) != 12:
        raise IdentifierError(f"ISRC must be 12 characters ({_ISRC_SHAPE}), got {len(number)}")
    country, registrant, rest = number[:2], number[2:5], number[5:]
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise IdentifierError(f"ISRC country code must be two letters, got {country!r}")
    if not re.fullmatch(r"[A-Z0-9]{3}", registrant):
        raise IdentifierError(
            f"ISRC registrant code must be 3 letters or digits, got {registrant!r}"
        )
    if not _DIGITS.fullmatch(rest):
        raise IdentifierError(f"ISRC year and designation (YY-NNNNN) must be digits, got {rest!r}")
    try:
        return str(isrc.validate(number))
    except ValidationError:
        # The shape is checked above, so stdnum can only be refusing the country code.
        raise IdentifierError(
            f"ISRC country code {country!r} is neither ISO 3166-1 nor an IFPI allocation"
        ) from None


def iswc_check_digit(body: str) -> int:
    """The ISO 15707 check digit of the nine digits after the ``T``."""
    total = 1 + sum(i * int(d) for i, d in enumerate(body, start=1))
    return (10 - total % 10) % 10


def normalize_iswc(value: str) -> str:
    """ISO 15707 ISWC -> ``T`` + 10 digits, e.g. ``T-034.524.680-1`` -> ``T0345246801``."""
    number = re.sub(r"[\s.\-]", "", value).upper()
    if not number.startswith("T"):
        raise IdentifierError(f"ISWC must start with T, got {number[:1]!r}")
    digits = number[1:]
    if not _DIGITS.fullmatch(digits):
        raise IdentifierError("ISWC must be T followed by digits only (T-NNN.NNN.NNN-C)")
    if len(digits) != 10:
        raise IdentifierError(f"ISWC must be T and 10 digits (T-NNN.NNN.NNN-C), got {len(digits)}")
    expected = iswc_check_digit(digits[:9])
    if int(digits[9]) != expected:
        raise IdentifierError(f"ISWC check digit is {digits[9]}, expected {expected}")
    return number


def normalize_upc(value: str) -> str:
    """GS1 UPC-A (12 digits) or EAN-13 -> the 13-digit EAN-13 (a UPC-A gains a leading 0,
    which leaves its check digit unchanged)."""
    number = ean.compact(value)
    if not number or not _DIGITS.fullmatch(number):
        raise IdentifierError(f"UPC/EAN must be digits only, got {number!r}")
    if len(number) not in (12, 13):
        raise IdentifierError(
            f"UPC/EAN must be 12 digits (UPC-A) or 13 digits (EAN-13), got {len(number)}"
        )
    try:
        ean.validate(number)
    except ValidationError:
        expected = ean.calc_check_digit(number[:-1])
        raise IdentifierError(f"UPC/EAN check digit is {number[-1]}, expected {expected}") from None
    return number.zfill(13)


def normalize_isni(value: str) -> str:
    """ISO 27729 ISNI -> 16 characters, the last a digit or ``X`` (ISO 7064 Mod 11-2)."""
    number = isni.compact(value)
    if len(number) != 16:
        raise IdentifierError(
            f"ISNI must be 16 characters (NNNN NNNN NNNN NNNC), got {len(number)}"
        )
    if not re.fullmatch(r"[0-9]{15}[0-9X]", number):
        raise IdentifierError("ISNI must be 15 digits followed by a digit or X")
    try:
        return str(isni.validate(number))
    except ValidationError:
        expected = mod_11_2.calc_check_digit(number[:-1])
        raise IdentifierError(
            f"ISNI check character is {number[-1]}, expected {expected}"
        ) from None


def ipi_check_digits(body: str) -> str:
    """The two IPI name number check digits of the first nine digits (see the module doc)."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(body)) % 101
    return f"{(101 - remainder) % 100 if remainder else 0:02d}"


def normalize_ipi(value: str) -> str:
    """CISAC IPI name number -> 11 digits; shorter numbers (CAE) are zero-padded."""
    number = re.sub(r"[\s.\-]", "", value)
    if not number or not _DIGITS.fullmatch(number):
        raise IdentifierError(f"IPI name number must be digits only, got {number!r}")
    if len(number) > 11:
        raise IdentifierError(f"IPI name number must be at most 11 digits, got {len(number)}")
    number = number.zfill(11)
    if number == "0" * 11:
        raise IdentifierError("IPI name number must not be all zeros")
    expected = ipi_check_digits(number[:9])
    if number[9:] != expected:
        raise IdentifierError(f"IPI name number check digits are {number[9:]}, expected {expected}")
    return number


def normalize_language(value: str) -> str:
    """ISO 639 code -> the 639-1 two-letter code if the language has one, else the 639-3
    (or 639-2 special) code. Accepts 639-2/B codes (``fre``) and ``zxx`` (no linguistic
    content: instrumentals)."""
    code = value.strip().lower()
    if len(code) == 2:
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3:
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    else:
        raise IdentifierError(
            f"language must be a 2- or 3-letter ISO 639 code (en, eng, zxx), got {value.strip()!r}"
        )
    if language is None:
        raise IdentifierError(f"{code!r} is not an ISO 639 language code")
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


SCHEMES: Final[dict[str, Callable[[str], str]]] = {
    "isrc": normalize_isrc,
    "iswc": normalize_iswc,
    "upc": normalize_upc,
    "isni": normalize_isni,
    "ipi": normalize_ipi,
}

# --- territories ----------------------------------------------------------------------------

WORLDWIDE: Final = "worldwide"
INCLUDE: Final = "include"
EXCLUDE: Final = "exclude"
_MODES: Final = frozenset({WORLDWIDE, INCLUDE, EXCLUDE})

ALL_TERRITORIES: Final[frozenset[str]] = frozenset(
    {str(c.alpha_2) for c in pycountry.countries} | {"XK"}
)
"""Every ISO 3166-1 alpha-2 code, plus XK (Kosovo) as DDEX uses it."""

_WORLDWIDE_WORDS: Final = frozenset({"WW", "WORLDWIDE"})
_SEPARATORS: Final = re.compile(r"[\s,;]+")


def _tokens(value: str | Iterable[str]) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    tokens: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise IdentifierError(f"territory codes must be text, got {type(item).__name__}")
        tokens.extend(t.upper() for t in _SEPARATORS.split(item) if t)
    return tokens


def _territory(code: str) -> str:
    if code not in ALL_TERRITORIES:
        hint = " (the United Kingdom is GB)" if code == "UK" else ""
        raise IdentifierError(f"unknown territory code {code!r}: not ISO 3166-1 alpha-2{hint}")
    return code


def normalize_territories(value: str | Iterable[str]) -> tuple[str, frozenset[str]]:
    """Parse a territory spec (a string, or an iterable of codes such as ``["-FR", "-DE"]``)
    into ``(mode, codes)``, mode one of ``worldwide``, ``include``, ``exclude``.

    Nothing, ``WW`` or ``Worldwide`` means worldwide; plain codes include; ``-XX`` codes,
    alone or after ``WW``, exclude. Mixing plain and minus codes, or ``WW`` with plain
    codes, is refused rather than guessed at.
    """
    worldwide = False
    included: set[str] = set()
    excluded: set[str] = set()
    for token in _tokens(value):
        if token in _WORLDWIDE_WORDS:
            worldwide = True
        elif token.startswith("-"):
            if token[1:] in _WORLDWIDE_WORDS:
                raise IdentifierError("cannot exclude worldwide")
            excluded.add(_territory(token[1:]))
        else:
            included.add(_territory(token))
    if included and excluded:
        raise IdentifierError(
            "list either the territories to include (FR DE) or the ones to exclude (-FR -DE), "
            f"not both: got {' '.join(sorted(included))} and "
            f"{' '.join('-' + c for c in sorted(excluded))}"
        )
    if included and worldwide:
        raise IdentifierError(
            f"WW means every territory; it cannot be combined with {' '.join(sorted(included))} "
            "(write WW alone, or list the territories, or exclude some with -XX)"
        )
    if excluded:
        return EXCLUDE, frozenset(excluded)
    if included:
        return INCLUDE, frozenset(included)
    return WORLDWIDE, frozenset()


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise IdentifierError(f"territory mode must be worldwide, include or exclude, got {mode!r}")


def territory_covers(*, mode: str, codes: frozenset[str], territory: str) -> bool:
    """Whether ``(mode, codes)`` covers ``territory`` (an alpha-2 code)."""
    _check_mode(mode)
    if mode == WORLDWIDE:
        return True
    return (territory.upper() in codes) == (mode == INCLUDE)


def territory_sets_overlap(
    *, a_mode: str, a_codes: frozenset[str], b_mode: str, b_codes: frozenset[str]
) -> bool:
    """Whether two territory specs share a territory. Conservative: the universe is taken
    to be open (codes get added), so two exclusions, or worldwide and an exclusion, always
    overlap even if together they happen to list every code known today."""
    _check_mode(a_mode)
    _check_mode(b_mode)
    if b_mode == INCLUDE and a_mode != INCLUDE:
        a_mode, a_codes, b_mode, b_codes = b_mode, b_codes, a_mode, a_codes
    if a_mode != INCLUDE:
        return True
    if b_mode == INCLUDE:
        return not a_codes.isdisjoint(b_codes)
    if b_mode == EXCLUDE:
        return not a_codes <= b_codes
    return bool(a_codes)
