"""The state file: the checkpoint a successful run remembers (``--state FILE``)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.exceptions import VerificationError
from ledger.verify.client import LocalInputError, b64_hash, b64encode_text


@dataclass(frozen=True)
class State:
    """What a successful run remembers: the checkpoint it verified."""

    origin: str
    size: int
    root_hash: bytes
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root_hash": b64encode_text(self.root_hash),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, document: object) -> State:
        """Raise ``ValueError`` unless ``document`` is ``{"origin", "size", "root_hash", ...}``."""
        if not isinstance(document, dict):
            raise ValueError("it is not a JSON object")
        origin, size = document.get("origin"), document.get("size")
        root, checkpoint = document.get("root_hash"), document.get("checkpoint", "")
        if not isinstance(origin, str) or not origin:
            raise ValueError("'origin' must be a non-empty string")
        if type(size) is not int or size < 0:
            raise ValueError("'size' must be a non-negative integer")
        if not isinstance(checkpoint, str):
            raise ValueError("'checkpoint' must be a string")
        try:
            root_hash = b64_hash(root, what="'root_hash'")
        except VerificationError as exc:
            raise ValueError(str(exc)) from None
        return cls(origin=origin, size=size, root_hash=root_hash, checkpoint=checkpoint)


def load_state(path: Path) -> State | None:
    """The state in ``path``; ``None`` if there is no such file. Raise :class:`LocalInputError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalInputError(f"cannot read state file {path}: {exc.strerror}") from None
    try:
        return State.from_json(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        raise LocalInputError(f"state file {path} is not a verifier state: {exc}") from None


def save_state(path: Path, state: State) -> None:
    """Replace ``path`` with ``state`` atomically (temporary file in the same folder, rename)."""
    data = (json.dumps(state.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise LocalInputError(f"cannot write state file {path}: {exc.strerror or exc}") from None
