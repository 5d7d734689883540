"""What an AI-use request says, validated: its terms (:class:`RequestSpec`) and its items
(:class:`ItemSpec`), with the fingerprint that tells a retry from another request.

An item names a work (``isrc``, ``iswc``, ``upc`` or ``work_id``), carries ``vectors`` in named
embedding spaces, carries audio (``audio_base64``, or the ``fingerprint`` a licensee's client
computed: ``governance.services.fingerprints``), or text: a prompt (``text``) or ``lyrics``,
matched when they arrive (``governance.services.texts``). Bad input (a malformed identifier, an
unknown space, audio that is not base64, empty or oversized text) is a 400 naming the item and
the reason; a well-formed
identifier under which nothing is registered is not bad input: deciding answers ``no_match``
for that item, and audio that cannot be read is an ``error`` item naming why. Nothing here
writes: storing a request is ``governance.services.requests``; reading a manifest's items is
``governance.services.manifests``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from governance import evaluation, identifiers
from governance.exceptions import InvalidInput
from governance.models import EmbeddingSpace
from governance.services.fingerprints import (
    ContentSpec,
    audio_content,
    audio_file_content,
    fingerprint_content,
)
from governance.services.texts import TextSpec, text_item
from governance.terms import USES

MAX_ITEMS = 1000
"""Items in one JSON request; larger sets go in a manifest."""
REFERENCE_KEYS = ("isrc", "iswc", "upc", "work_id")
CONTENT_KEYS = ("vectors", "audio_base64", "fingerprint", "text", "lyrics")
TEXT_KINDS = {"text": "prompt", "lyrics": "lyrics"}
"""An item's text, by key: a prompt naming an artist, or lyrics (``governance.services.texts``)."""
ITEM_KEYS = (*REFERENCE_KEYS, *CONTENT_KEYS)


@dataclass(frozen=True)
class ItemSpec:
    reference: str = ""  # "isrc:USRC17607839", "work_id:<uuid>", ...
    vectors: tuple[tuple[str, tuple[float, ...]], ...] = ()
    content: ContentSpec | None = None  # audio, as its SHA-256 and fingerprint
    text: TextSpec | None = None  # a prompt or lyrics, as its SHA-256 and what it matched

    def content_sha256(self) -> str:
        """A commitment to what the item carried (the content itself is never stored): for
        audio, the SHA-256 of the audio file, whichever form carried it; for text, of its
        UTF-8 bytes."""
        if self.content is not None:
            return self.content.sha256
        if self.text is not None:
            return self.text.sha256
        body = json.dumps(
            {"reference": self.reference, "vectors": [[s, list(v)] for s, v in self.vectors]},
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


def item_spec(raw: Any, *, name: str, spaces: Mapping[str, EmbeddingSpace]) -> ItemSpec:
    """One item, validated: exactly one identifier, a list of vectors, or audio (the audio is
    fingerprinted here: audio that cannot be is kept as the reason, decided as an ``error``)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.field(name, "an item is an object with an identifier or content")
    # (empty audio is audio: its item is an error, "empty", not a request without an item)
    keys = [
        k
        for k in ITEM_KEYS
        if raw.get(k) not in (None, "", []) or (k in ("audio_base64", *TEXT_KINDS) and k in raw)
    ]
    unknown = sorted(set(map(str, raw)) - set(ITEM_KEYS))
    if unknown:
        raise InvalidInput.unknown_fields([f"{name}.{key}" for key in unknown])
    if len(keys) != 1:
        raise InvalidInput.field(name, f"give exactly one of {', '.join(ITEM_KEYS)}")
    key = keys[0]
    if key == "vectors":
        return ItemSpec(vectors=vectors_spec(raw["vectors"], name=f"{name}.vectors", spaces=spaces))
    if key == "audio_base64":
        return ItemSpec(content=audio_content(raw[key], name=f"{name}.{key}"))
    if key == "fingerprint":
        return ItemSpec(content=fingerprint_content(raw[key], name=f"{name}.{key}"))
    if key in TEXT_KINDS:
        return ItemSpec(text=text_item(raw[key], kind=TEXT_KINDS[key], name=f"{name}.{key}"))
    value = str(raw[key]).strip()
    try:
        if key == "work_id":
            value = str(uuid.UUID(value))
        elif key == "isrc":
            value = identifiers.normalize_isrc(value)
        elif key == "iswc":
            value = identifiers.normalize_iswc(value)
        elif key == "upc":
            value = identifiers.normalize_upc(value)
    except ValueError as exc:
        raise InvalidInput.field(f"{name}.{key}", str(exc)) from None
    return ItemSpec(reference=f"{key}:{value}")


def audio_file_item(data: bytes, *, name: str) -> ItemSpec:
    """An item of one uploaded audio file (multipart ``file``), fingerprinted as an
    ``audio_base64`` item's audio is."""
    return ItemSpec(content=audio_file_content(data, name=name))


def vectors_spec(
    raw: Any, *, name: str, spaces: Mapping[str, EmbeddingSpace]
) -> tuple[tuple[str, tuple[float, ...]], ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 8:
        raise InvalidInput.field(name, "a list of 1 to 8 {space, vector} objects")
    out = []
    for n, entry in enumerate(raw):
        where = f"{name}.{n}"
        if not isinstance(entry, Mapping):
            raise InvalidInput.field(where, "an object with space and vector")
        unknown = sorted(set(map(str, entry)) - {"space", "vector"})
        if unknown:
            raise InvalidInput.unknown_fields([f"{where}.{key}" for key in unknown])
        space = spaces.get(str(entry.get("space")))
        if space is None:
            known = ", ".join(sorted(spaces)) or "none registered"
            raise InvalidInput.field(
                f"{where}.space", f"unknown embedding space {entry.get('space')!r} ({known})"
            )
        vector = entry.get("vector")
        if not isinstance(vector, list) or len(vector) != space.dimension:
            got = len(vector) if isinstance(vector, list) else "no list"
            raise InvalidInput.field(
                f"{where}.vector", f"space {space.name} has dimension {space.dimension}, got {got}"
            )
        values = []
        for v in vector:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidInput.field(
                    f"{where}.vector",
                    "every component must be a finite number (no NaN or infinity)",
                )
            values.append(float(v))
        if not any(values):
            raise InvalidInput.field(f"{where}.vector", "a zero vector has no direction (cosine)")
        out.append((space.name, tuple(values)))
    return tuple(out)


@dataclass(frozen=True)
class RequestSpec:
    use: str
    territories: tuple[str, ...]
    commercial: bool
    model_name: str
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    callback_url: str


def request_spec(data: Mapping[str, Any], *, now: dt.datetime | None = None) -> RequestSpec:
    """A request's terms, validated. Its period of use (``period_start``, ``period_end``) is
    what is decided (``evaluation.periods``): with both, the whole period; with only a start,
    from then on; with only an end, from ``now`` (when it is asked) to then, so an end not
    after ``now`` is refused; with neither, the moment it is asked."""
    use = data.get("use")
    if use not in USES:
        raise InvalidInput.field("use", f"unknown use {use!r}; uses are {', '.join(USES)}")
    try:
        mode, codes = identifiers.normalize_territories(data.get("territories") or [])
    except ValueError as exc:
        raise InvalidInput.field("territories", str(exc)) from None
    if mode == "exclude":
        raise InvalidInput.field("territories", "list the territories of use (empty for worldwide)")
    start, end = data.get("period_start"), data.get("period_end")
    for name, value in (("period_start", start), ("period_end", end)):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            raise InvalidInput.field(name, "must be a date-time with a time zone (RFC 3339)")
    try:
        evaluation.question_period(start=start, end=end, asked=now or timezone.now())
    except ValueError:
        after = "period_start" if start is not None else "the time of the request"
        raise InvalidInput.field("period_end", f"must be after {after}") from None
    callback = str(data.get("callback_url") or "")
    if callback and urllib.parse.urlsplit(callback).scheme not in ("http", "https"):
        raise InvalidInput.field("callback_url", "must be an http(s) URL")
    if callback:
        from governance.services.callbacks import callback_address_problem

        problem = callback_address_problem(callback)
        if problem is not None:
            raise InvalidInput.field("callback_url", problem)
    return RequestSpec(
        use=str(use),
        territories=tuple(sorted(codes)),
        commercial=bool(data.get("commercial", True)),
        model_name=str(data.get("model_name") or "")[:200],
        period_start=start,
        period_end=end,
        callback_url=callback,
    )


def spaces_by_name() -> dict[str, EmbeddingSpace]:
    return {s.name: s for s in EmbeddingSpace.objects.all()}


def request_fingerprint(spec: RequestSpec, items: Sequence[ItemSpec]) -> str:
    body = json.dumps(
        {
            "request": [
                spec.use,
                list(spec.territories),
                spec.commercial,
                spec.model_name,
                str(spec.period_start),
                str(spec.period_end),
                spec.callback_url,
            ],
            "items": [i.content_sha256() for i in items],
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()
