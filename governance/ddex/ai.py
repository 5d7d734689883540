"""What a label declares of a SoundRecording's making with generative AI (docs/catalog-ddex.md).

Read, for both versions, into one declaration per recording (:data:`AI_DECLARATIONS`):

- ERN 4.3.2 (``http://ddex.net/xml/ern/432``): ``SoundRecording/ContainsAI`` (``All``,
  ``Partly`` or ``None``: DDEX's allowed-value set ``ContainsAI``) and the same vocabulary in
  ``Contributor/AiContribution``; a contributor whose contribution is ``All`` or ``Partly``
  makes the recording at least ``Partly`` and names that part (its ``Role``s). Read in any
  4.x message that carries them, as the reader reads every 4.x the same way.
- Free-form flags, the equivalents labels send where the standard has no element: a
  ``Keywords`` entry (comma- or semicolon-separated) that is ``ContainsAI=All|Partly|None``,
  ``AI-generated`` or ``AI-assisted`` (case, spaces and ``_`` do not matter). ERN 3.8: in the
  recording's ``SoundRecordingDetailsByTerritory``; ERN 4.x: in the ``TrackRelease`` that
  contains it (a 4.3 ``SoundRecording`` has no ``Keywords``). Other keywords are not flags.

Every statement counts and the strongest wins (all > part > none): a ``None`` never hides a
part another element declared made with AI, since rules read the declaration to refuse uses.
A ``ContainsAI`` or ``AiContribution`` value outside the vocabulary is a fault of the recording
(it is rejected whole, like any invalid data of its own): imported without it, a rule such as
"deny training on AI-generated recordings" would silently not apply to it. A keyword is free
text and never a fault.

The 4.3.2 schemas were not reachable from this machine: the element names and values are
DDEX's as quoted by public code written to the 4.3.2 schema (docs/catalog-ddex.md says where).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance.ddex.document import ErnDocument, node_text
from governance.ddex.model import DdexRecording
from governance.terms import AI_DECLARATIONS

VALUES: Final = {"all": "generated", "partly": "assisted", "none": "none"}
"""DDEX ``ContainsAI`` values (case-insensitive) -> Consentry's declaration."""
FLAGS: Final = {
    "containsai=all": "generated",
    "containsai=partly": "assisted",
    "containsai=none": "none",
    "ai-generated": "generated",
    "ai-assisted": "assisted",
}
"""Free-form ``Keywords`` flags, normalised (:func:`_flag`) -> declaration."""
_RANK: Final = {value: len(AI_DECLARATIONS) - n for n, value in enumerate(AI_DECLARATIONS)}
_SEPARATORS: Final = re.compile(r"[,;]")
_V4_TAGS: Final = ("ContainsAI", "Contributor", "AiContribution")


@dataclasses.dataclass(frozen=True, slots=True)
class Declaration:
    value: str | None = None  # One of AI_DECLARATIONS; None: the recording says nothing.
    parts: tuple[str, ...] = ()
    declared_in: tuple[str, ...] = ()


def strongest(values: Iterable[str | None]) -> str | None:
    """The strongest of ``values`` (generated > assisted > none), None if there is none."""
    found = [v for v in values if v]
    return max(found, key=_RANK.__getitem__) if found else None


def _flag(text: str) -> str:
    return re.sub(r"[\s_]+", "-", re.sub(r"\s*=\s*", "=", text.strip().casefold()))


def keyword_flags(doc: ErnDocument, nodes: Iterable[etree._Element]) -> list[str]:
    """The declarations the ``Keywords`` elements ``nodes`` flag (their other words are not)."""
    del doc  # (the document's namespace is already in the nodes)
    return [
        FLAGS[key]
        for node in nodes
        for word in _SEPARATORS.split(node_text(node))
        if (key := _flag(word)) in FLAGS
    ]


def read(
    doc: ErnDocument,
    sr: etree._Element,
    blocks: list[etree._Element],
    fault: Callable[[etree._Element, str], None],
) -> Declaration:
    """The declaration a SoundRecording ``sr`` makes itself (4.x: its ContainsAI and its
    Contributors' AiContribution; 3.8: its details' Keywords). Values outside the vocabulary
    are ``fault``s of the recording."""
    said: list[tuple[str, str]] = []  # (declaration, element)
    parts: dict[str, None] = {}
    if doc.v4:
        # One walk over the recording's children (this runs for every recording of a feed).
        contains, contributor, contribution = (doc.q + t for t in _V4_TAGS)
        for node in sr.iterchildren(contains, contributor):
            if node.tag == contains:
                if (value := _value(node, fault)) is not None:
                    said.append((value, "ContainsAI"))
                continue
            for declared in node.iterchildren(contribution):
                value = _value(declared, fault)
                if value is None or value == "none":
                    continue
                said.append(("assisted", "AiContribution"))
                roles = doc.texts(node, "Role") or ["Contributor"]
                parts.update((role[:60], None) for role in roles)
    else:
        for block in blocks:
            said += [(v, "Keywords") for v in keyword_flags(doc, doc.all(block, "Keywords"))]
    return Declaration(
        strongest(value for value, _ in said),
        tuple(parts),
        tuple(dict.fromkeys(element for _, element in said)),
    )


def _value(node: etree._Element, fault: Callable[[etree._Element, str], None]) -> str | None:
    if not (text := node_text(node)):
        return None  # an empty element states nothing
    value = VALUES.get(text.casefold())
    if value is None:
        name = etree.QName(node).localname
        fault(node, f"{name} {text!r} is not one of All, Partly, None (DDEX ContainsAI)")
    return value


def track_release_flags(doc: ErnDocument) -> dict[str, str]:
    """ERN 4.x: each resource's declaration flagged in the Keywords of its TrackReleases."""
    flags: dict[str, list[str]] = {}
    for el in doc.all(doc.root, "ReleaseList/TrackRelease"):
        found = keyword_flags(doc, doc.all(el, "Keywords"))
        if found:
            for ref in doc.all(el, "ReleaseResourceReference"):
                flags.setdefault(node_text(ref), []).extend(found)
    return {ref: value for ref, values in flags.items() if (value := strongest(values))}


def with_flag(recording: DdexRecording, flag: str | None) -> DdexRecording:
    """``recording`` with a TrackRelease's flag added to what it declared itself."""
    if flag is None:
        return recording
    return dataclasses.replace(
        recording,
        ai_declaration=strongest((recording.ai_declaration, flag)),
        ai_declared_in=tuple(dict.fromkeys((*recording.ai_declared_in, "Keywords"))),
    )
