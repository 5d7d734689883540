"""``python -m ledger.verify --replay``: replay the decisions of a log as it is verified, with no
database.

:func:`ledger.verify.verify_log` fetches the log's pages of entries once and checks each
(canonical JSON, leaf hashes, its part of the tree) in its worker processes; a
:class:`VerifiedReplay` hooks into that pass (:class:`ledger.verify.pages.PageHook`). With each
page, the openings of its entries are fetched (``GET /api/v1/ledger/openings/?values=jcs``, with
an auditor's token in ``LEDGER_VERIFY_TOKEN``), or taken from a downloaded file (``--openings
FILE``). Where the page was checked, :func:`open_page` decodes the entries that commit fields
from the very bytes checked and hashed into the tree, and checks every opening against its
commitment; this process decodes the page's entries (the same bytes, handed back), puts in the
clear values opened and replays them with :mod:`governance.replaying`, page after page in log
order, as ``manage.py replay_decisions`` does from the database. No page is fetched twice, and
the entries replayed are those whose leaf hashes give the signed root: the replay counts only
once :func:`~ledger.verify.verify_log` has verified the log (:meth:`VerifiedReplay.result`),
which is also when an error met by the replay (openings that cannot be fetched or read) is
raised.

Pure: the standard library and the pure ledger and governance modules only (import-linter).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.replaying import Difference, Replay, fewer_collections, open_entry
from governance.replaying.chunks import NOT_REPLAYED
from ledger import canonical, commitments, opening_bundles
from ledger.exceptions import VerificationError
from ledger.verify.client import FetchError, HttpLogClient, LocalInputError, b64_bytes
from ledger.verify.pages import PageHook

__all__ = [
    "OPENINGS_PATH",
    "FileOpenings",
    "PageOpenings",
    "ServedBytes",
    "VerifiedReplay",
    "open_page",
    "parse_openings",
]

OPENINGS_PATH = "/api/v1/ledger/openings/"
"""Where the service serves the openings, below its base URL."""

OpeningsByLeaf = dict[bytes, list["commitments.Opening | ServedBytes"]]


def parse_openings(document: object, *, where: str) -> OpeningsByLeaf:
    """The openings of a ``GET /api/v1/ledger/openings/`` answer, by leaf hash; ``ValueError``
    naming ``where`` if it is not one."""
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{where}: not an object with an 'entries' list")
    found: OpeningsByLeaf = {}
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("openings"), list):
            raise ValueError(f"{where}: an entry is not an object with an 'openings' list")
        what = f"{where}: entry {item.get('index')!r}"
        try:
            leaf = b64_bytes(item.get("leaf_hash"), what=f"{what} 'leaf_hash'")
        except VerificationError as exc:
            raise ValueError(str(exc)) from None
        openings = found.setdefault(leaf, [])
        for o in item["openings"]:
            if not isinstance(o, dict) or not isinstance(o.get("field"), str):
                raise ValueError(f"{what}: an opening is not an object with a 'field'")
            try:
                salt = bytes.fromhex(o["salt"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{what}: the salt of {o['field']!r} is not hex") from None
            openings.append(_opening(o, salt, what=what))
    return found


def _opening(served: dict[str, Any], salt: bytes, *, what: str) -> commitments.Opening:
    """An opening as served: its value given as ``value``, or as ``value_jcs`` (the RFC 8785
    text committed, ``values=jcs``), or both, which must then agree.

    From ``value_jcs``, the opening hashes the text's UTF-8 bytes as they are when they are
    the RFC 8785 form of the value they read as (the value replayed), which is checked;
    otherwise it hashes that form, as for a value given as JSON. Either way a commitment opens
    to one value only: the value whose RFC 8785 form it commits to."""
    field = served["field"]
    text = served.get("value_jcs")
    if text is None:
        return commitments.Opening(field, salt, served.get("value"))
    if not isinstance(text, str):
        raise ValueError(f"{what}: the value_jcs of {field!r} is not a string")
    try:
        data = text.encode("utf-8")
        value, is_canonical = canonical.decode_json(data)
    except (ValueError, RecursionError):
        raise ValueError(f"{what}: the value_jcs of {field!r} is not JSON") from None
    # Bytes that are not the RFC 8785 form of their value are not hashed as they are.
    opening = (
        commitments.Opening.from_canonical(field, salt, value, data)
        if is_canonical
        else commitments.Opening(field, salt, value)
    )
    if "value" in served:
        try:
            same = commitments.encode_value(served["value"]) == opening.value_bytes
        except commitments.CommitmentError:
            same = False
        if not same:
            raise ValueError(f"{what}: the value and value_jcs of {field!r} differ")
    return opening


class FileOpenings:
    """Openings from a file of the endpoint's answers: one JSON object, or one a line."""

    def __init__(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LocalInputError(f"cannot read openings file {path}: {exc}") from None
        try:
            documents: list[Any] = [json.loads(text)]
        except (ValueError, RecursionError):
            try:
                documents = [json.loads(line) for line in text.splitlines() if line.strip()]
            except (ValueError, RecursionError):
                raise LocalInputError(
                    f"openings file {path} is neither JSON nor JSON Lines"
                ) from None
        self._by_leaf: OpeningsByLeaf = {}
        try:
            for number, document in enumerate(documents, 1):
                where = f"openings file {path}" + (f" line {number}" if len(documents) > 1 else "")
                for leaf, openings in parse_openings(document, where=where).items():
                    self._by_leaf.setdefault(leaf, []).extend(openings)
        except ValueError as exc:
            raise LocalInputError(str(exc)) from None

    def by_leaf(self) -> OpeningsByLeaf:
        return self._by_leaf


_read: dict[tuple[Path, str], FileOpenings] = {}
"""The openings file of the current replay, by its path and the replay's ``run`` key."""


def _file_openings(path: Path, run: str) -> FileOpenings:
    """The openings file, read once per replay and process (here, and in each worker process;
    a replay's ``run`` key tells it from the file of an earlier replay in this process)."""
    key = (path, run)
    if key not in _read:
        _read.clear()
        _read[key] = FileOpenings(path)
    return _read[key]


@dataclass(frozen=True, slots=True)
class PageOpenings:
    """What :func:`open_page` needs besides a page's entries: where its openings are."""

    checked: bool
    """The verifier checked the entries for canonical JSON (so they are decoded unchecked)."""
    body: bytes | None = None
    """The openings endpoint's answer for the page: an opening bundle
    (:mod:`ledger.opening_bundles`, ``values=bytes``), or JSON."""
    url: str = ""
    error: Exception | None = None
    """Why the openings could not be fetched (raised if the page commits any field)."""
    file: Path | None = None
    """The openings file, instead of ``body``."""
    run: str = ""
    """With ``file``: the replay's key (:func:`_file_openings`)."""

    def by_leaf(self) -> OpeningsByLeaf:
        if self.error is not None:
            raise self.error
        if self.file is not None:
            return _file_openings(self.file, self.run).by_leaf()
        body = self.body or b""
        if body.startswith(opening_bundles.MAGIC):
            return _bundle_openings(body, where=f"GET {self.url}")
        try:
            return parse_openings(json.loads(body), where=f"GET {self.url}")
        except (ValueError, RecursionError) as exc:
            raise VerificationError(str(exc) or f"GET {self.url}: not JSON") from None


def _bundle_openings(body: bytes, *, where: str) -> OpeningsByLeaf:
    """The openings of an opening bundle, by leaf hash, each as the bytes served
    (:class:`ServedBytes`), read where it is known whether replay reads them
    (:func:`open_page`)."""
    try:
        records = opening_bundles.decode_bundle(body)
    except ValueError as exc:
        raise VerificationError(f"{where}: {exc}") from None
    found: OpeningsByLeaf = {}
    for index, leaf, field, salt, value in records:
        served = ServedBytes(field, salt, value, f"{where}: entry {index}")
        found.setdefault(leaf, []).append(served)
    return found


@dataclass(frozen=True, slots=True)
class ServedBytes:
    """An opening whose value was served as bytes (an opening bundle), not yet read."""

    field: str
    salt: bytes
    data: bytes
    what: str
    """Names the opening in a message."""

    def opening(self, *, read: bool) -> commitments.Opening:
        """The opening to hash: for a value replay reads (``read``), the value the bytes read
        as, the bytes checked to be its RFC 8785 form (:func:`_opening_of_bytes`); for a value
        it does not read (:data:`~governance.replaying.chunks.NOT_REPLAYED`: a decision's
        trace), the bytes as served, neither read nor their form checked. Either way the
        commitment recomputed is compared with the entry's: bytes that match it are the bytes
        the writer committed."""
        if read:
            return _opening_of_bytes(self.field, self.salt, self.data, what=self.what)
        return commitments.Opening.from_canonical(self.field, self.salt, None, self.data)


def _opening_of_bytes(field: str, salt: bytes, data: bytes, *, what: str) -> commitments.Opening:
    """An opening whose value is served as bytes: hashed as they are when they are the
    RFC 8785 form of the value they read as (which is checked, as for ``value_jcs``),
    otherwise in that form; ``VerificationError`` if they are not UTF-8 JSON."""
    try:
        value, is_canonical = canonical.decode_json(data)
    except (ValueError, RecursionError):
        raise VerificationError(f"{what}: the value of {field!r} is not JSON") from None
    if is_canonical:
        return commitments.Opening.from_canonical(field, salt, value, data)
    return commitments.Opening(field, salt, value)


Hashed = tuple[str, str, str | None, Any]
"""An opening as :func:`open_page` hands it back: the field, the commitment recomputed from
its salt and value (or ``""``), why it could not be (or None), and the clear value (None for
a field that replay does not read: :data:`~governance.replaying.chunks.NOT_REPLAYED`)."""

Opened = tuple[int, list[Hashed]]
"""An entry of a page that commits fields: its position in the page, and the openings
served for it, hashed."""

PageOpened = tuple[int, list[bytes], list[Opened], Exception | None]
"""What :func:`open_page` gives: the page's start, its entries' bytes, the :data:`Opened`
entries that commit fields, and the exception that stopped it, if one did."""

_COMMITTED = b'{"%s":' % commitments.MEMBER.encode()
"""How a committed field begins in an entry's canonical bytes (a member ``{"commitment":
"sha256:..."}``): an entry without it commits no field."""


def _kind(data: bytes, checked: bool, index: int) -> str:
    """An entry's type: in canonical bytes, the string before the last member (``"type":
    "<it>","v":1}``); otherwise read from the decoded entry."""
    if checked:
        return data.rsplit(b'"', 4)[1].decode("ascii", "replace")
    return _decoded(canonical.decode_entry, data, index).kind


def open_page(
    start: int, entries: list[bytes], leaves: list[bytes], openings: PageOpenings
) -> PageOpened:
    """The openings served for the entries ``start, start + 1, ...`` (their bytes as checked,
    and their leaf hashes) that may commit fields, each hashed: its commitment recomputed from
    its salt and the value's bytes (:func:`_opening_of_bytes`). The verifier's
    :attr:`~ledger.verify.pages.PageHook.work`: it runs where the page was checked, and gives
    back little (the commitments, and the clear values replay reads). The verifier's process
    decodes each entry where it replays it and compares the commitments recomputed here with
    the entry's own (:meth:`VerifiedReplay._take`): the entries are not decoded here."""
    opened: list[Opened] = []
    with fewer_collections():
        try:
            # Canonical, a committed field is written as _COMMITTED begins.
            sealed = [position for position, data in enumerate(entries) if _COMMITTED in data]
            by_leaf = openings.by_leaf() if sealed else {}
            for position in sealed:
                served = by_leaf.get(leaves[position], ())
                unread: frozenset[str] = frozenset()
                if served:
                    kind = _kind(entries[position], openings.checked, start + position)
                    unread = NOT_REPLAYED.get(kind, frozenset())
                hashed: list[Hashed] = []
                for o in served:
                    field = o.field
                    read = field not in unread
                    if isinstance(o, ServedBytes):
                        o = o.opening(read=read)
                    h = commitments.HashedOpening.of(o, value=None)
                    hashed.append((field, h.recomputed, h.error, o.value if read else None))
                opened.append((position, hashed))
        except Exception as exc:  # raised by the replay once the log is verified
            return start, entries, opened, exc
    return start, entries, opened, None


def _decoded(
    decode: Callable[[bytes], canonical.Entry], data: bytes, index: int
) -> canonical.Entry:
    try:
        return decode(data)
    except ValueError as exc:
        raise VerificationError(f"entry {index}: not canonical JSON: {exc}") from None


class VerifiedReplay:
    """The replay of a log's decisions as :func:`ledger.verify.verify_log` verifies it: pass
    :attr:`hook` to it, within ``with`` (the replay's collector thresholds,
    :func:`governance.replaying.fewer_collections`); then :meth:`result`.

    ``openings_file``: the openings downloaded (read now: :class:`LocalInputError` if it cannot
    be); otherwise fetched from ``client`` with each page. ``canonical_checked``: the verifier
    checks the entries for canonical JSON (``check_canonical``)."""

    def __init__(
        self,
        client: HttpLogClient,
        *,
        openings_file: Path | None,
        canonical_checked: bool,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._run = secrets.token_hex(8)
        if openings_file is not None:
            _file_openings(openings_file, self._run)  # first here, to name a bad file at once
        self._client = client
        self._file = openings_file
        self._checked = canonical_checked
        self._replay = Replay(progress=progress)
        self._error: Exception | None = None
        self.hook = PageHook(fetch=self._fetch, work=open_page, take=self._take)

    def __enter__(self) -> VerifiedReplay:
        self._collecting = contextlib.ExitStack()
        self._collecting.enter_context(fewer_collections())
        return self

    def __exit__(self, *exc: object) -> None:
        self._collecting.close()

    def _fetch(self, start: int, end: int) -> PageOpenings:
        """In a fetching thread: the page's openings (an error kept, for a page that needs
        them)."""
        if self._file is not None:
            return PageOpenings(self._checked, file=self._file, run=self._run)
        # values=bytes: an opening bundle, each value the bytes committed, hashed as they are.
        url = f"{self._client.base_url}{OPENINGS_PATH}?start={start}&end={end}&values=bytes"
        try:
            body = self._client.get(url, accept=opening_bundles.CONTENT_TYPE)
        except FetchError as exc:
            return PageOpenings(self._checked, url=url, error=exc)
        return PageOpenings(self._checked, body, url)

    def _take(self, worked: PageOpened) -> None:
        """In this process, page after page: decode the entries, check the commitments
        recomputed from their openings against each entry's own, put in the clear values and
        replay them."""
        start, entries, opened, error = worked
        if self._error is not None:
            return  # the replay stopped; the log is still verified to the end
        if error is not None:
            self._error = error
            return
        decode = canonical.decode_checked_entry if self._checked else canonical.decode_entry
        feed = self._replay.feed
        served = dict(opened)
        try:
            for position, data in enumerate(entries):
                entry = _decoded(decode, data, start + position)
                hashed = served.get(position)
                if hashed is None:
                    feed(start + position, entry)
                    continue
                payload = entry.payload
                unread = NOT_REPLAYED.get(entry.kind, frozenset())
                checked = [
                    commitments.HashedOpening(
                        field, payload.get(field) if field in unread else value, found, why
                    )
                    for field, found, why, value in hashed
                ]
                feed(start + position, *open_entry(entry, checked))
        except Exception as exc:  # raised once the log is verified (result), not before
            self._error = exc

    def result(self) -> tuple[int, list[Difference]]:
        """(decisions replayed, differences), as :func:`governance.replay.replay`; or the
        exception that stopped the replay (:class:`VerificationError` for entries or openings
        that cannot be read, :class:`FetchError` for openings that could not be fetched)."""
        if self._error is not None:
            raise self._error
        return self._replay.replayed, self._replay.differences
