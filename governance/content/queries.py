"""An item's query vectors in the ``composition`` space, computed by one function for both
sides: the service on uploaded audio (``governance.services.fingerprints``) and the licensee's
client on its own files (``consentry.client``), so a manifest line carries the very segments
the service would compute from the same audio, and a cover is matched the same either way.

The composition module loads librosa (about a second): it is imported inside the functions, so
a client run with ``--no-composition`` never loads it. Pure: no Django.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Segments = tuple[tuple[float, ...], ...]

DIGITS = 6
"""Decimals a segment's numbers are rounded to, as stored and as a manifest carries them."""


def composition_segments(samples: np.ndarray[Any, Any], rate: int) -> Segments:
    """Mono audio at ``rate`` Hz as composition query vectors (``composition.embed``: one per
    segment, rounded to :data:`DIGITS` decimals), or none for audio shorter than
    ``composition.MIN_SECONDS`` or silent: the fingerprint still matches it."""
    from governance.content import composition

    if len(samples) / rate < composition.MIN_SECONDS:
        return ()
    try:
        vectors = composition.embed(samples, rate)
    except ValueError:  # silent: no pitch content
        return ()
    return tuple(tuple(round(float(x), DIGITS) for x in row) for row in vectors)


def composition_model() -> tuple[str, str]:
    """The model and model version :func:`composition_segments` computes with."""
    from governance.content import composition

    return composition.MODEL, composition.VERSION
