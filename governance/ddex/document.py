"""Reading one ERN message's XML: as a stream (lxml ``iterparse``: an item of the root's lists at
a time, freed once read), safely, with its namespace and version checked, and finding its
elements by path, with the XPath and line (``sourceline``) that name an element in a problem.

Namespaces: ``http://ddex.net/xml/ern/`` + ``38``, ``381``, ``382``, ``383`` (ERN 3.8.x) or
``4*`` (``41``, ``411``, ``42``, ``43``...: 4.x); ``ern_version`` dots the digits (``3.8.2``).
Children are unqualified as the XSDs say (``elementFormDefault="unqualified"``); files that put
them in the ERN namespace are read too.

Security, in two steps marked in the code: (1) entities are never resolved or fetched
(``resolve_entities=False``, ``no_network``, no DTD loading, no ``huge_tree``); (2) any document
type declaration is refused, since ERN messages never need one. Past line 65,535 libxml2
estimates an element's line from nearby text nodes, so it may be a line or two off.
"""

from __future__ import annotations

import io
import pathlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance.ddex.model import DdexError, DdexProblem

ERN_NAMESPACE: Final = re.compile(r"^http://ddex\.net/xml/ern/(38[1-3]?|4\d*)$")
_SAFE_PARSING: Final = dict(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_ANY_ERN: Final = re.compile(r"^http://ddex\.net/xml/ern/(\d+)$")


_STREAMED: Final = frozenset({"ResourceList", "PartyList", "ReleaseList", "DealList"})
"""The lists whose items are handed over one by one as they end."""
_ITEMS: Final = ("SoundRecording", "Party", "Release", "TrackRelease", "ReleaseDeal")
"""The items the reader reads: lxml reports only these and the lists (in any namespace), so no
Python object is made for the other elements as they are parsed (half the parsing's CPU); any
other item of a list is handed over before the next one reported, or at its list's end."""
_REPORTED: Final = [f"{{*}}{tag}" for tag in (*sorted(_STREAMED), *_ITEMS)]


def stream_ern(
    source: bytes | str | pathlib.Path | BinaryIO,
    on_read: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[etree._Element, str, etree._Element | None]]:
    """Read a message with lxml's ``iterparse``: first ``(root, version digits, None)``, then
    ``(item, list name, root)`` for each item of the root's ResourceList, PartyList,
    ReleaseList and DealList, in document order, once it has ended (its subtree complete, its
    ``sourceline`` its start tag's line), then ``(root, "", root)`` at the end. An item of the
    ResourceList may be cleared by the caller once read (``forget``), so memory stays bounded
    by one item, not the file. :class:`DdexError` for an unusable file, raised where the parser
    stops: callers read the whole message before writing anything. ``on_read`` (bytes sources)
    is called with (bytes read, size) as items end, each 1 % of the file or so, and at the end."""
    if isinstance(source, str) and not source.lstrip().startswith("<"):
        raise DdexError("not XML: a str is parsed as XML text (pass a pathlib.Path for a file)")
    # Security 1/2: never resolve or fetch entities, load a DTD or build a huge tree. A str is
    # already decoded, so it is re-encoded as UTF-8 and any encoding it declares is overridden.
    encoding = "utf-8" if isinstance(source, str) else None
    if isinstance(source, str | bytes):
        source = io.BytesIO(source.encode() if isinstance(source, str) else source)
    size = len(source.getbuffer()) if on_read is not None and isinstance(source, io.BytesIO) else 0
    step, next_report = max(size // 100, 1), 0
    events = etree.iterparse(
        str(source) if isinstance(source, pathlib.Path) else source,
        events=("end",), tag=_REPORTED, encoding=encoding, **_SAFE_PARSING,
    )  # fmt: skip
    root, refused = None, None
    last: dict[etree._Element, etree._Element] = {}  # A list -> its last item handed over.

    def items_up_to(parent: etree._Element, el: etree._Element | None) -> list[etree._Element]:
        """The items of ``parent`` not handed over yet, up to ``el`` (all when None)."""
        done = last.get(parent)
        node = parent[0] if done is None and len(parent) else None
        node = done.getnext() if done is not None else node
        found = []
        while node is not None and node is not el:
            if isinstance(node.tag, str):
                found.append(node)
            node = node.getnext()
        return found if el is None else [*found, el]

    try:
        for _, el in events:
            if root is None:
                root = el.getroottree().getroot()
                try:
                    digits = _check_root(root)
                except DdexError as error:
                    # Named once the whole file is read: a file that is not well-formed
                    # is named as such first, whatever its root.
                    refused = error
                else:
                    yield root, digits, None
            if refused is not None:
                el.clear()
                continue
            parent = el.getparent()
            if parent is root:  # A list's end: its items not reported (none of _ITEMS).
                if etree.QName(el).localname in _STREAMED:
                    list_name, todo = etree.QName(el).localname, items_up_to(el, None)
                else:
                    continue
            elif parent is not None and parent.getparent() is root:
                list_name = etree.QName(parent).localname
                if list_name not in _STREAMED:
                    continue
                todo = items_up_to(parent, el)
            else:
                continue
            if size and todo and (done := source.tell()) >= next_report:  # type: ignore[union-attr]
                on_read(min(done, size), size)  # type: ignore[misc]
                next_report = done + step
            for item in todo:
                last[item.getparent()] = item
                yield item, list_name, root
    except etree.XMLSyntaxError as error:
        # iterparse says line 0 for an empty file, where the whole-file parser said line 1.
        line, column = max(error.position[0], 1), max(error.position[1], 1)
        raise DdexError(
            f"not well-formed XML (line {line}, column {column}): {error.msg}", line=line or 0
        ) from None
    if root is None:  # No list and no item: the root as parsed.
        root = events.root
        if root is None:  # pragma: no cover - the parser raises on an empty document
            raise DdexError("not XML: no root element")
        yield root, _check_root(root), None
    if refused is not None:
        raise refused
    if size and on_read is not None:
        on_read(size, size)
    yield root, "", root


def forget(el: etree._Element) -> None:
    """Free a streamed item once read: its subtree, and the items before it."""
    el.clear(keep_tail=True)
    parent = el.getparent()
    while parent is not None and el.getprevious() is not None:
        del parent[0]


def _check_root(root: etree._Element) -> str:
    """The ERN namespace's version digits of the message ``root``, or :class:`DdexError`."""
    # Security 2/2: refuse any document type declaration, the vehicle of XXE and entity bombs.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise DdexError("document type declarations are refused: ERN messages never need one")
    local, namespace = etree.QName(root).localname, _namespace(root)
    if local != "NewReleaseMessage":
        raise DdexError(f"root element is {local!r}, not a DDEX ERN NewReleaseMessage")
    if not (supported := ERN_NAMESPACE.match(namespace)):
        known = _ANY_ERN.match(namespace)
        what = f"ERN {'.'.join(known.group(1))}" if known else f"namespace {namespace!r}"
        raise DdexError(f"{what} is not supported: this reader takes ERN 3.8.x and 4.x")
    return supported.group(1)


def _namespace(el: etree._Element) -> str:
    return etree.QName(el).namespace or ""


def node_text(node: etree._Element | None) -> str:
    """An element's text, trimmed; empty for no element."""
    return "" if node is None else (node.text or "").strip()


def _role(node: etree._Element) -> str:
    """An allowed-value element's value; ``UserDefined`` reads as its ``UserDefinedValue``."""
    value = node_text(node)
    return (node.get("UserDefinedValue") or value) if value == "UserDefined" else value


class ErnDocument:
    """One message's elements, found by path whether or not its children are qualified; it
    collects the problems found in them."""

    def __init__(self, root: etree._Element, digits: str) -> None:
        self.root, self.version, self.v4 = root, ".".join(digits), digits.startswith("4")
        self.q = ""
        self.q_known = False
        # path -> (ElementPath for ``iterfind``, or "" to walk the child names in steps)
        self.plans: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.children: dict[etree._Element, dict[object, list[etree._Element]]] = {}
        self.problems: list[DdexProblem] = []
        self.positions: dict[tuple[etree._Element, str], dict[etree._Element, int]] = {}

    def qualify(self, child: etree._Element) -> None:
        """Whether children are in the ERN namespace, from the first one seen."""
        if not self.q_known and isinstance(child.tag, str):
            self.q, self.q_known = (
                (f"{{{_namespace(self.root)}}}" if _namespace(child) else ""),
                True,
            )
            # Paths found before were built for unqualified children.
            self.plans.clear()
        # Positions among namesakes are counted again for each item: its list has grown.
        self.positions = {}

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        """The elements at ``path`` under ``el``, in document order. A plain path of child names
        walks the children directly, several times faster than ElementPath; one with a
        predicate or a wildcard goes through ``iterfind``."""
        if (plan := self.plans.get(path)) is None:
            steps = tuple(self.q + step for step in path.split("/"))
            query = "/".join(steps) if "[" in path or "*" in path else ""
            plan = self.plans[path] = (query, steps)
        query, steps = plan
        if query:
            return list(el.iterfind(query))
        kids = self.children.get(el)
        if len(steps) == 1:  # Most paths: a dict look-up, or one C call.
            return list(el.iterchildren(steps[0]) if kids is None else kids.get(steps[0], ()))
        found = list(el.iterchildren(steps[0]) if kids is None else kids.get(steps[0], ()))
        for step in steps[1:]:
            found = [child for node in found for child in node.iterchildren(step)]
        return found

    def index(self, *elements: etree._Element) -> None:
        """Look up the children of ``elements`` by tag from now on (one walk over them, for
        elements asked about many times), until :meth:`unindex`."""
        for el in elements:
            kids: dict[object, list[etree._Element]] = {}
            for child in el:
                kids.setdefault(child.tag, []).append(child)
            self.children[el] = kids

    def unindex(self) -> None:
        self.children.clear()

    def text(self, el: etree._Element, path: str) -> str | None:
        return next((value for node in self.all(el, path) if (value := node_text(node))), None)

    def first(self, els: Iterable[etree._Element], path: str) -> str | None:
        return next(filter(None, (self.text(el, path) for el in els)), None)

    def texts(self, el: etree._Element, path: str) -> list[str]:
        return [value for node in self.all(el, path) if (value := _role(node))]

    def problem(self, el: etree._Element, reason: str) -> None:
        self.problems.append(DdexProblem(self.xpath(el), el.sourceline or 0, reason))

    def xpath(self, el: etree._Element) -> str:
        """An XPath to ``el``: the ERN namespace as ``ern:``, positions among namesakes."""
        steps: list[str] = []
        node: etree._Element | None = el
        while node is not None:
            parent = node.getparent()
            step = ("ern:" if _namespace(node) else "") + etree.QName(node).localname
            if parent is not None:
                if (key := (parent, node.tag)) not in self.positions:
                    same = [sibling for sibling in parent if sibling.tag == node.tag]
                    self.positions[key] = dict(zip(same, range(1, len(same) + 1), strict=True))
                step += f"[{self.positions[key][node]}]" if len(self.positions[key]) > 1 else ""
            steps.append(step)
            node = parent
        return "/" + "/".join(reversed(steps))

    def preferred(self, el: etree._Element, path: str) -> etree._Element | None:
        """The IsDefault one, else one without ApplicableTerritoryCode, else the first."""
        found = [node for node in self.all(el, path) if node_text(node)]
        found.sort(
            key=lambda n: (n.get("IsDefault") != "true", "ApplicableTerritoryCode" in n.attrib)
        )
        return found[0] if found else None
