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

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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


def parse_ern_digested(
    data: bytes,
    *,
    known: Mapping[str, tuple[str, str]] | None = None,
    salt: str = "",
    on_read: Callable[[int, int], None] | None = None,
) -> Digested:
    """:func:`governance.ddex.parse_ern` with digests (see the module). ``salt`` goes into
    every digest: the caller's scheme (what it stores of a recording). ``on_read`` is called
    with (bytes read, size) as the message is read (see ``stream_ern``)."""
    known = known or {}
    reader: Reader | None = None
    context = hashlib.sha256(salt.encode())
    elements: dict[str, str | None] = {}
    skipped: list[tuple[str, str]] = []
    for el, name, root in stream_ern(data, on_read=on_read):
        if root is None:
            reader = Reader(el, name)
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
    message = reader.message()
    context.update(f"qualified {bool(reader.q)}".encode())
    ctx = context.hexdigest().encode()
    if skipped:
        carried = Counter(d.isrc for d in reader.drafts if d.isrc is not None)
        carried.update(known[element][1] for _, element in skipped)
        stale = any(
            known[element][0] != _digest(ctx, element.encode())
            or carried[known[element][1]] > 1
            or elements.get(ref, "") != ""  # Its reference is another SoundRecording's too.
            for ref, element in skipped
        )
        if stale:
            return parse_ern_digested(data, salt=salt, on_read=on_read)
    refs = Counter(ref for ref, _ in skipped)
    digests = {
        ref: (_digest(ctx, element.encode()), element)
        for ref, element in elements.items()
        if element is not None and not refs[ref]
    }
    unchanged = tuple((known[element][1], known[element][0]) for _, element in skipped)
    return Digested(message, digests, unchanged)
