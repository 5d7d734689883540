"""``python -m ledger.verify --replay``: replay the decisions of a verified log, with no database.

After :func:`ledger.verify.verify_log` has checked the log against its signed checkpoint,
:func:`replay_log` fetches the entries again (``GET /ledger/entries``), recomputes their tree and
requires the signed root (so the entries replayed are the ones verified), opens each entry's
committed fields with the openings an auditor downloads (``GET /api/v1/ledger/openings/``, with
an auditor's token in ``LEDGER_VERIFY_TOKEN``: :class:`HttpOpenings`; or a downloaded file,
``--openings FILE``: :class:`FileOpenings`), checks every opening against its commitment, and
replays the decisions with :mod:`governance.replaying`, as ``manage.py replay_decisions`` does
from the database.

Pure: the standard library and the pure ledger and governance modules only (import-linter).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from governance.replaying import Difference, Replay, fewer_collections, open_entry
from ledger import canonical, commitments
from ledger.exceptions import VerificationError
from ledger.merkle import leaf_hash, root_from_leaf_hashes
from ledger.verify.client import (
    ENTRIES_PAGE_SIZE,
    HttpLogClient,
    LocalInputError,
    b64_bytes,
    b64encode_text,
)

__all__ = ["OPENINGS_PATH", "FileOpenings", "HttpOpenings", "Openings", "replay_log"]

OPENINGS_PATH = "/api/v1/ledger/openings/"
"""Where the service serves the openings, below its base URL."""

OpeningsByLeaf = dict[bytes, list[commitments.Opening]]


class Openings(Protocol):
    """Where the openings come from."""

    def between(self, start: int, end: int) -> OpeningsByLeaf:
        """The openings of the entries ``[start, end)`` (at least), by the entry's leaf hash."""
        ...


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


class HttpOpenings:
    """Openings fetched from the service, 1,000 entries a call (an auditor sees them all)."""

    def __init__(self, client: HttpLogClient) -> None:
        self._client = client

    def between(self, start: int, end: int) -> OpeningsByLeaf:
        # values=jcs: each value as the text committed, hashed as it is (not written again).
        url = f"{self._client.base_url}{OPENINGS_PATH}?start={start}&end={end}&values=jcs"
        body = self._client.get(url, accept="application/json")
        try:
            return parse_openings(json.loads(body), where=f"GET {url}")
        except (ValueError, RecursionError) as exc:
            raise VerificationError(str(exc) or f"GET {url}: not JSON") from None


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

    def between(self, start: int, end: int) -> OpeningsByLeaf:
        return self._by_leaf


def _page(
    client: HttpLogClient, start: int, end: int, *, checked: bool
) -> list[tuple[int, bytes, canonical.Entry]]:
    """Entries ``[start, end)`` as served (index, leaf hash, decoded); the log may serve fewer.
    ``checked``: entries with these leaf hashes were checked for canonical JSON (if the root
    then differs, the replay fails anyway), so they are not checked again."""
    decode = canonical.decode_checked_entry if checked else canonical.decode_entry
    page = []
    for position, item in enumerate(client.entries(start, end)):
        index = start + position
        if not isinstance(item, dict) or item.get("index") != index:
            raise VerificationError(f"entry {index}: the log served another entry in its place")
        data = b64_bytes(item.get("data"), what=f"entry {index}: 'data'")
        try:
            entry = decode(data)
        except ValueError as exc:
            raise VerificationError(f"entry {index}: not canonical JSON: {exc}") from None
        page.append((index, leaf_hash(data), entry))
    return page


def replay_log(
    client: HttpLogClient,
    *,
    size: int,
    root_hash: bytes,
    openings: Openings,
    progress: Callable[[int], None] | None = None,
    canonical_checked: bool = False,
) -> tuple[int, list[Difference]]:
    """Replay the decisions of the first ``size`` entries, which must have the signed root
    ``root_hash``; (decisions replayed, differences), as :func:`governance.replay.replay`.
    Raise :class:`VerificationError` if the entries served are not those of that root.

    ``canonical_checked``: :func:`ledger.verify.verify_log` checked that the entries of that
    root are canonical JSON. Then the entries served for replay are decoded without checking
    it again: a leaf hash is the SHA-256 of the entry's bytes, so entries whose leaf hashes
    give the same root are the same bytes, and otherwise the replay fails at the end."""
    with fewer_collections():  # the replay keeps millions of objects alive: see GC_THRESHOLD
        return _replay_log(client, size=size, root_hash=root_hash, openings=openings,
                           progress=progress, canonical_checked=canonical_checked)  # fmt: skip


def _replay_log(
    client: HttpLogClient,
    *,
    size: int,
    root_hash: bytes,
    openings: Openings,
    progress: Callable[[int], None] | None,
    canonical_checked: bool,
) -> tuple[int, list[Difference]]:
    replay = Replay(progress=progress)
    leaves: list[bytes] = []
    while len(leaves) < size:
        start = len(leaves)
        page = _page(client, start, min(start + ENTRIES_PAGE_SIZE, size), checked=canonical_checked)
        if not page:
            raise VerificationError(f"entry {start}: the log served no entries to replay")
        committed = [commitments.commitments_of(e.payload) for _, _, e in page]
        by_leaf: Mapping[bytes, list[commitments.Opening]] = (
            openings.between(start, start + len(page)) if any(committed) else {}
        )
        for (index, leaf, entry), c in zip(page, committed, strict=True):
            leaves.append(leaf)
            replay.feed(index, *open_entry(entry, by_leaf.get(leaf, ()), committed=c))
    recomputed = root_from_leaf_hashes(leaves)
    if recomputed != root_hash:
        raise VerificationError(
            f"replay: the entries served for replay have the root {b64encode_text(recomputed)}, "
            f"not the signed root {b64encode_text(root_hash)} just verified"
        )
    return replay.replayed, replay.differences
