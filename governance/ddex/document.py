"""Reading one ERN message's XML: safely, with its namespace and version checked, and finding its
elements by path, with the XPath and line that name an element in a problem.

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
from collections.abc import Iterable
from typing import BinaryIO, Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance.ddex.model import DdexError, DdexProblem

ERN_NAMESPACE: Final = re.compile(r"^http://ddex\.net/xml/ern/(38[1-3]?|4\d*)$")
_SAFE_PARSING: Final = dict(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_ANY_ERN: Final = re.compile(r"^http://ddex\.net/xml/ern/(\d+)$")


def load_ern(source: bytes | str | pathlib.Path | BinaryIO) -> tuple[etree._Element, str]:
    """The root element and the ERN namespace's version digits, or :class:`DdexError`."""
    if isinstance(source, str) and not source.lstrip().startswith("<"):
        raise DdexError("not XML: a str is parsed as XML text (pass a pathlib.Path for a file)")
    # Security 1/2: never resolve or fetch entities, load a DTD or build a huge tree. A str is
    # already decoded, so it is re-encoded as UTF-8 and any encoding it declares is overridden.
    parser = etree.XMLParser(encoding="utf-8" if isinstance(source, str) else None, **_SAFE_PARSING)
    if isinstance(source, str | bytes):
        source = io.BytesIO(source.encode() if isinstance(source, str) else source)
    try:
        tree = etree.parse(str(source) if isinstance(source, pathlib.Path) else source, parser)
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise DdexError(
            f"not well-formed XML (line {line}, column {column}): {error.msg}", line=line or 0
        ) from None
    # Security 2/2: refuse any document type declaration, the vehicle of XXE and entity bombs.
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise DdexError("document type declarations are refused: ERN messages never need one")
    root: etree._Element = tree.getroot()
    local, namespace = etree.QName(root).localname, _namespace(root)
    if local != "NewReleaseMessage":
        raise DdexError(f"root element is {local!r}, not a DDEX ERN NewReleaseMessage")
    if not (supported := ERN_NAMESPACE.match(namespace)):
        known = _ANY_ERN.match(namespace)
        what = f"ERN {'.'.join(known.group(1))}" if known else f"namespace {namespace!r}"
        raise DdexError(f"{what} is not supported: this reader takes ERN 3.8.x and 4.x")
    return root, supported.group(1)


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
        qualified = any(_namespace(child) for child in root if isinstance(child.tag, str))
        self.q = f"{{{_namespace(root)}}}" if qualified else ""
        self.paths: dict[str, str] = {}
        self.problems: list[DdexProblem] = []
        self.positions: dict[tuple[etree._Element, str], dict[etree._Element, int]] = {}

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        if path not in self.paths:
            self.paths[path] = "/".join(self.q + step for step in path.split("/"))
        return list(el.iterfind(self.paths[path]))

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
