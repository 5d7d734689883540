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
from ledger import canonical, commitments
from ledger.exceptions import VerificationError
from ledger.verify.client import FetchError, HttpLogClient, LocalInputError, b64_bytes
from ledger.verify.pages import PageHook

__all__ = [
    "OPENINGS_PATH",
    "FileOpenings",
    "PageOpenings",
    "VerifiedReplay",
    "open_page",
    "parse_openings",
]

OPENINGS_PATH = "/api/v1/ledger/openings/"
"""Where the service serves the openings, below its base URL."""

OpeningsByLeaf = dict[bytes, list[commitments.Opening]]


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
    """The openings endpoint's answer for the page."""
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
        try:
            return parse_openings(json.loads(self.body or b""), where=f"GET {self.url}")
        except (ValueError, RecursionError) as exc:
            raise VerificationError(str(exc) or f"GET {self.url}: not JSON") from None


Opened = tuple[int, dict[str, Any] | None, str | None]
"""An entry of a page that commits fields: its position in the page, and the clear values of
those committed fields that replay reads (not a decision's trace), or None and why they could
not be opened."""

PageOpened = tuple[int, list[bytes], list[Opened], Exception | None]
"""What :func:`open_page` gives: the page's start, its entries' bytes, the :data:`Opened`
entries that commit fields, and the exception that stopped it, if one did."""

_COMMITTED = b'{"%s":' % commitments.MEMBER.encode()
"""How a committed field begins in an entry's canonical bytes (a member ``{"commitment":
"sha256:..."}``): an entry without it commits no field."""


def open_page(
    start: int, entries: list[bytes], leaves: list[bytes], openings: PageOpenings
) -> PageOpened:
    """The openings of the entries ``start, start + 1, ...`` (their bytes as checked, and their
    leaf hashes) that commit fields, each checked against its commitment (the entry decoded and
    opened by :func:`governance.replaying.open_entry`). The verifier's
    :attr:`~ledger.verify.pages.PageHook.work`: it runs where the page was checked, and gives
    back little (each entry's bytes are decoded again where it is replayed, which costs less
    than sending it decoded)."""
    # The verifier checked these very bytes for canonical JSON (unless told not to): read, not
    # checked again. Canonical, a committed field is written as _COMMITTED begins.
    decode = canonical.decode_checked_entry if openings.checked else canonical.decode_entry
    opened: list[Opened] = []
    with fewer_collections():
        try:
            sealed = []
            for position, data in enumerate(entries):
                if _COMMITTED in data:
                    entry = _decoded(decode, data, start + position)
                    committed = commitments.commitments_of(entry.payload)
                    if committed:
                        sealed.append((position, entry, committed))
            by_leaf = openings.by_leaf() if sealed else {}
            for position, entry, committed in sealed:
                clear, unopened = open_entry(
                    entry, by_leaf.get(leaves[position], ()), committed=committed
                )
                if unopened is not None:
                    opened.append((position, None, unopened))
                    continue
                unread = NOT_REPLAYED.get(entry.kind, frozenset())
                values = {k: clear.payload[k] for k in committed if k not in unread}
                opened.append((position, values, None))
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
        # values=jcs: each value as the text committed, hashed as it is (not written again).
        url = f"{self._client.base_url}{OPENINGS_PATH}?start={start}&end={end}&values=jcs"
        try:
            body = self._client.get(url, accept="application/json")
        except FetchError as exc:
            return PageOpenings(self._checked, url=url, error=exc)
        return PageOpenings(self._checked, body, url)

    def _take(self, worked: PageOpened) -> None:
        """In this process, page after page: decode the entries, put in the clear values
        opened, and replay them."""
        start, entries, opened, error = worked
        if self._error is not None:
            return  # the replay stopped; the log is still verified to the end
        if error is not None:
            self._error = error
            return
        decode = canonical.decode_checked_entry if self._checked else canonical.decode_entry
        feed = self._replay.feed
        clear = {position: (values, unopened) for position, values, unopened in opened}
        try:
            for position, data in enumerate(entries):
                entry = _decoded(decode, data, start + position)
                found = clear.get(position)
                if found is None:
                    feed(start + position, entry)
                    continue
                values, unopened = found
                if values is not None:
                    payload = {**entry.payload, **values}
                    entry = canonical.Entry(entry.v, entry.kind, entry.time, payload)
                feed(start + position, entry, unopened)
        except Exception as exc:  # raised once the log is verified (result), not before
            self._error = exc

    def result(self) -> tuple[int, list[Difference]]:
        """(decisions replayed, differences), as :func:`governance.replay.replay`; or the
        exception that stopped the replay (:class:`VerificationError` for entries or openings
        that cannot be read, :class:`FetchError` for openings that could not be fetched)."""
        if self._error is not None:
            raise self._error
        return self._replay.replayed, self._replay.differences
