"""Short recordings of synthetic voices for the voice space's tests (``generate.py`` says how
they were made): :func:`sample` reads one."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def sample(name: str) -> bytes:
    """The bytes of ``<name>.ogg`` (OGG Opus, 16 kHz mono, 4-5 s of speech)."""
    return (HERE / f"{name}.ogg").read_bytes()
