"""JSON text from a client, read within bounds: every JSON body of the API and every line of a
JSONL manifest goes through :func:`loads`.

It refuses, before anything else sees the value:

- nesting deeper than ``MAX_DEPTH`` arrays and objects (``{"a":{"a":...}}`` 950 levels deep
  exhausted Python's recursion limit in the decoder, in DRF's validation or in the database
  driver: a 500);
- a string, key or value, holding NUL (``\\u0000``) or a lone UTF-16 surrogate (``\\ud800``):
  PostgreSQL can store neither in ``text`` or ``jsonb``, and a surrogate cannot even be encoded
  to UTF-8 for the wire;
- ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259, section 6).

Errors name where the problem is as a dotted path (``obligations.attribution``, ``uses.1``);
the empty path is the whole text. Pure: no Django.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
"""Nesting of arrays and objects accepted; Consentry's own bodies need fewer than ten."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
# NUL and surrogates can only enter decoded JSON text as \u escapes: strict decoding refuses a
# raw control character in a string, and UTF-8 cannot carry a surrogate. Text without such an
# escape needs no walk of the parsed value.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonRefused(ValueError):
    """Text refused before use: ``path`` names where (``""``: the whole text)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or 'body'}: {reason}")
        self.path = path
        self.reason = reason


class TooDeep(JsonRefused):
    pass


class UnstorableText(JsonRefused):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of ``text``; raises :class:`TooDeep`, :class:`UnstorableText` or, for text
    that is not JSON, :class:`ValueError` (``json.JSONDecodeError``)."""
    check_depth(text, max_depth=max_depth)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # only if max_depth is set above what the decoder can take
        raise TooDeep("", f"nested deeper than {max_depth} levels") from None
    if _SUSPECT_ESCAPE.search(text):
        check_storable(value)
    return value


def check_depth(text: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` if arrays and objects nest deeper than ``max_depth`` in ``text``
    (brackets inside strings do not count). Counting costs a pass of the regex engine over the
    text, and a Python step per bracket only when there are more brackets than ``max_depth``."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise TooDeep("", f"nested deeper than {max_depth} levels")
        else:
            depth -= 1


def check_storable(value: Any) -> None:
    """Raise :class:`UnstorableText` naming the first string (in document order) that holds
    NUL or a lone surrogate; for a bad key, the path of the object that holds it."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            _check_text(path, node, what="text")
        elif isinstance(node, dict):
            children = []
            for key, child in node.items():
                _check_text(path, key, what="a key")
                children.append((f"{path}.{key}" if path else key, child))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(
                (f"{path}.{n}" if path else str(n), child)
                for n, child in reversed(list(enumerate(node)))
            )


def _check_text(path: str, text: str, *, what: str) -> None:
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return
    char = bad.group()
    name = "NUL (\\u0000)" if char == "\x00" else f"a lone surrogate (\\u{ord(char):04x})"
    raise UnstorableText(path, f"{what} holds {name}, which cannot be stored")
