"""Reading a message with a digest of each SoundRecording, and without reading again the ones a
caller already has (a re-delivery of the same catalog).

A recording's fields come from its own element and from the rest of the message (the PartyList
its references name, the releases that contain it, the deals that give its territories). Its
**digest** is therefore the SHA-256 of its element's bytes (``etree.tostring``: attributes,
text and children, not its line) together with the **context**: the ERN version, whether
children are qualified, and the bytes of every item of the PartyList, ReleaseList and DealList
(everything the reader reads outside the ResourceList but the MessageHeader, whose message id
and date change with every delivery). The element's own digest (``element``) is known as soon
as it ends; the context only at the end of the message, since deals come last.

``known`` maps element digests to the (digest, ISRC) a caller stored: such an element is not
read (it is freed at once). At the end, each skipped one is **unchanged** when its digest with
this message's context is the stored one and its ISRC is carried by no other SoundRecording of
the message; if any is not, the whole message is read again without skipping (so every rule of
the reader applies as if nothing were known). Pure: no Django.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance.ddex.document import forget, stream_ern
from governance.ddex.model import DdexMessage
from governance.ddex.reader import Reader


@dataclass(frozen=True)
class Digested:
    message: DdexMessage
    """The recordings read (not the unchanged ones), releases and problems."""
    digests: Mapping[str, tuple[str, str]]
    """ResourceReference of each recording read -> (its digest, its element's digest); absent
    when several SoundRecordings share the reference."""
    unchanged: tuple[tuple[str, str], ...]
    """(ISRC, digest) of each known recording that was not read."""


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


SPLIT_BYTES = 4 * 2**20
"""From this size on, a message's SoundRecordings are read by two processes when a core is idle
(see :func:`parse_ern_digested`)."""


def _idle_core() -> bool:
    """Whether a second core is free for a reader: the split costs about a third more CPU in
    all (the child parses the stream again and pickles its drafts), which only pays when that
    core would otherwise idle. On a busy machine it was measured slower (docs/benchmarks.md)."""
    cores = os.cpu_count() or 1
    return cores > 1 and os.getloadavg()[0] <= cores - 1


ReadProgress = Callable[[int, int], None]
"""Called with (bytes of the message read, its size) while it is read."""


@dataclass
class _Streamed:
    reader: Reader
    context: Any  # hashlib's sha256 object
    elements: dict[str, str | None]
    skipped: list[tuple[str, str]]


def _stream(
    data: bytes,
    known: Mapping[str, tuple[str, str]],
    salt: str,
    part: tuple[frozenset[int], int] | None,
    on_read: ReadProgress | None = None,
) -> _Streamed:
    """One pass over the message: every item but the skipped (known) SoundRecordings is read;
    with ``part``, only that share of the SoundRecordings is drafted (``Reader.part``)."""
    reader: Reader | None = None
    context = hashlib.sha256(salt.encode())
    elements: dict[str, str | None] = {}
    skipped: list[tuple[str, str]] = []
    for el, name, root in stream_ern(data, on_read=on_read):
        if root is None:
            reader = Reader(el, name)
            reader.part = part
            context.update(f"ern {name}\0".encode())
            continue
        assert reader is not None  # The root came first.
        if not name:
            continue
        if name != "ResourceList":
            context.update(etree.tostring(el, with_tail=False))
            reader.take(el, name)
            continue
        reader.qualify(el)
        if not isinstance(el.tag, str) or etree.QName(el).localname != "SoundRecording":
            reader.take(el, name)
            continue
        element = _digest(salt.encode(), etree.tostring(el, with_tail=False))
        ref = reader.text(el, "ResourceReference") or ""
        if element in known:
            reader.resources.add(ref)
            skipped.append((ref, element))
            forget(el)
            continue
        elements[ref] = None if ref in elements else element
        reader.take(el, name)
    assert reader is not None
    return _Streamed(reader, context, elements, skipped)


_MINE, _THEIRS = (frozenset({0}), 3), (frozenset({1, 2}), 3)
"""This process drafts one SoundRecording in three, the child two: this one also digests every
element, settles the message and makes the records (measured: the two then end together)."""


def _fork_part(data: bytes, known: Mapping[str, tuple[str, str]], salt: str) -> _Helper | None:
    """A child process drafting two SoundRecordings in three (``Reader.part``) while this one
    drafts the third: reading is pure CPU, and the second core is otherwise idle while a file
    is read. The child touches nothing of the parent's (no database, no file) and ends
    with ``os._exit``; its drafts come back pickled through a pipe. None where fork is not
    available."""
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX only
        return None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
        code = 1
        try:
            os.close(r)
            try:
                drafts = _stream(data, known, salt, _THEIRS).reader.drafts
                payload = pickle.dumps(
                    {i: d for i, d in enumerate(drafts) if d is not None}, protocol=5
                )
            except BaseException:  # The parent reads the part itself.
                payload = b""
            with os.fdopen(w, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return _Helper(pid, r)


@dataclass
class _Helper:
    pid: int
    fd: int

    def drafts(self) -> dict[int, Any] | None:
        """The child's drafts by position, or None if it failed; the child is reaped."""
        try:
            with os.fdopen(self.fd, "rb") as pipe:
                payload = pipe.read()
        finally:
            _, status = os.waitpid(self.pid, 0)
        if not payload or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        found = pickle.loads(payload)  # noqa: S301 - our own child's output
        return found if isinstance(found, dict) else None

    def abandon(self) -> None:
        """The parent stopped (an unreadable file): end the child and reap it."""
        os.close(self.fd)
        with contextlib.suppress(ProcessLookupError):  # It may have ended.
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def parse_ern_digested(
    data: bytes,
    *,
    known: Mapping[str, tuple[str, str]] | None = None,
    salt: str = "",
    split: bool | None = None,
    on_read: ReadProgress | None = None,
) -> Digested:
    """:func:`governance.ddex.parse_ern` with digests (see the module). ``salt`` goes into
    every digest: the caller's scheme (what it stores of a recording). ``split``: read the
    SoundRecordings in two processes (default: for a message of :data:`SPLIT_BYTES` or more
    when a core is idle); the answer is the same either way. ``on_read`` is called
    as the message is read."""
    known = known or {}
    if split is None:
        split = len(data) >= SPLIT_BYTES and _idle_core()
    helper = _fork_part(data, known, salt) if split else None
    try:
        streamed = _stream(data, known, salt, _MINE if helper else None, on_read)
    except BaseException:
        if helper is not None:
            helper.abandon()
        raise
    if helper is not None:
        theirs = helper.drafts()
        if theirs is None or any(
            (theirs.get(i) is None) != (d is not None) for i, d in enumerate(streamed.reader.drafts)
        ):  # pragma: no cover - the child failed: read the message here alone
            streamed = _stream(data, known, salt, None)
        else:
            streamed.reader.drafts = [
                d if d is not None else theirs[i] for i, d in enumerate(streamed.reader.drafts)
            ]
    reader, context = streamed.reader, streamed.context
    elements, skipped = streamed.elements, streamed.skipped
    assert reader is not None
    message = reader.message()
    context.update(f"qualified {bool(reader.q)}".encode())
    ctx = context.hexdigest().encode()
    if skipped:
        carried = Counter(d.isrc for d in reader.drafts if d and d.isrc is not None)
        carried.update(known[element][1] for _, element in skipped)
        stale = any(
            known[element][0] != _digest(ctx, element.encode())
            or carried[known[element][1]] > 1
            or elements.get(ref, "") != ""  # Its reference is another SoundRecording's too.
            for ref, element in skipped
        )
        if stale:
            return parse_ern_digested(data, salt=salt, split=split)
    refs = Counter(ref for ref, _ in skipped)
    digests = {
        ref: (_digest(ctx, element.encode()), element)
        for ref, element in elements.items()
        if element is not None and not refs[ref]
    }
    unchanged = tuple((known[element][1], known[element][0]) for _, element in skipped)
    return Digested(message, digests, unchanged)
