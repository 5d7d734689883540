"""MPEG audio (MP3, and layers I and II) decoded by libmpg123, Debian's ``libmpg123-0``, through
ctypes, its channels mixed to one in the decoder.

FFmpeg's decoder, the other path (:mod:`governance.content.audio`), synthesises every channel
and hands the frames to Python one by one (7,000 frames of 1,152 samples in 3 minutes), where
they are copied out and their channels averaged. libmpg123 sums the channels' spectra before
one synthesis (``MPG123_MONO_MIX``) and writes a chunk of output in one call: the same samples
(to within 4e-6, float rounding; both decoders are exact), which libsoxr resamples to the
spaces' rate as it does FFmpeg's, so no space's vectors change. A 3-minute MP3 at 128 kbit/s
takes 0.115 s of CPU to 11,025 Hz instead of 0.130 (mono), 0.164 instead of 0.192 (stereo at
192 kbit/s). (Its quarter-rate synthesis, ``MPG123_DOWN_SAMPLE``, would take 0.086 and 0.134,
but its top 300 Hz are not libsoxr's: a tenth of an MP3's fingerprint pairs would differ,
docs/matching.md.)

This path takes only clean streams: the decoder is told not to resync (``MPG123_NO_RESYNC``),
and a stream it cannot decode from end to end as one run of frames of one format raises
:class:`Unclean`, for FFmpeg, which skips damaged packets and counts them, to decode instead. A
machine without the library has :func:`available` false, and every MP3 takes FFmpeg's path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import Final

import numpy as np

# Return codes (mpg123.h, enum mpg123_errors).
_OK: Final = 0
_NEED_MORE: Final = -10
_NEW_FORMAT: Final = -11
_DONE: Final = -12
# Parameters (enum mpg123_parms) and flags (enum mpg123_param_flags).
_ADD_FLAGS: Final = 2
_MONO_MIX: Final = 0x4
_QUIET: Final = 0x20
_NO_RESYNC: Final = 0x80
_FORCE_FLOAT: Final = 0x400
_ENC_FLOAT_32: Final = 0x200
_MONO: Final = 1
# MPEG audio's sample rates (MPEG-1, 2 and 2.5).
RATES: Final = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


class Unclean(Exception):
    """libmpg123 could not decode the stream from end to end as one clean run of frames."""


class _FrameInfo(ctypes.Structure):
    # struct mpg123_frameinfo: its first fields, then room for the rest (eight ints and enums).
    _fields_ = [("version", ctypes.c_int), ("layer", ctypes.c_int), ("rate", ctypes.c_long),
                ("rest", ctypes.c_int * 16)]  # fmt: skip


@functools.cache
def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("mpg123") or "libmpg123.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    handle, size = ctypes.c_void_p, ctypes.c_size_t
    lib.mpg123_init.restype = ctypes.c_int
    lib.mpg123_new.restype = handle
    lib.mpg123_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.mpg123_delete.argtypes = [handle]
    lib.mpg123_param.argtypes = [handle, ctypes.c_int, ctypes.c_long, ctypes.c_double]
    lib.mpg123_format_none.argtypes = [handle]
    lib.mpg123_format.argtypes = [handle, ctypes.c_long, ctypes.c_int, ctypes.c_int]
    lib.mpg123_open_feed.argtypes = [handle]
    lib.mpg123_feed.argtypes = [handle, ctypes.c_void_p, size]
    lib.mpg123_read.argtypes = [handle, ctypes.c_void_p, size, ctypes.POINTER(size)]
    lib.mpg123_info.argtypes = [handle, ctypes.POINTER(_FrameInfo)]
    lib.mpg123_strerror.restype = ctypes.c_char_p
    lib.mpg123_strerror.argtypes = [handle]
    if lib.mpg123_init() != _OK:  # a no-op since 1.27; required before
        return None
    return lib


def available() -> bool:
    """Whether libmpg123 loads on this machine."""
    return _library() is not None


class _Handle:
    """One decoder (``mpg123_new``), fed the whole input and deleted on exit."""

    def __init__(self, lib: ctypes.CDLL, data: bytes) -> None:
        self.lib = lib
        error = ctypes.c_int()
        self.h = lib.mpg123_new(None, ctypes.byref(error))
        if not self.h:
            raise MemoryError("mpg123_new")
        try:
            flags = _MONO_MIX | _FORCE_FLOAT | _QUIET | _NO_RESYNC
            self._check(lib.mpg123_param(self.h, _ADD_FLAGS, flags, 0.0))
            self._check(lib.mpg123_format_none(self.h))
            for rate in RATES:
                self._check(lib.mpg123_format(self.h, rate, _MONO, _ENC_FLOAT_32))
            self._check(lib.mpg123_open_feed(self.h))
            self._check(lib.mpg123_feed(self.h, data, len(data)))
        except BaseException:
            lib.mpg123_delete(self.h)
            raise

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lib.mpg123_delete(self.h)

    def _check(self, code: int) -> None:
        if code != _OK:
            raise Unclean(self.lib.mpg123_strerror(self.h).decode("ascii", "replace"))

    def read(self, out: np.ndarray) -> tuple[int, int]:
        """Decode into ``out`` (float32): the return code and the samples written."""
        done = ctypes.c_size_t()
        code = self.lib.mpg123_read(self.h, out.ctypes.data, out.nbytes, ctypes.byref(done))
        return code, done.value // 4

    def stream(self) -> tuple[int, int]:
        """The stream's rate and MPEG layer (once the first frame is read)."""
        info = _FrameInfo()
        self._check(self.lib.mpg123_info(self.h, ctypes.byref(info)))
        return int(info.rate), int(info.layer)


def decode(data: bytes, *, chunk: int, each: Callable[[np.ndarray, int], None]) -> int:
    """Decode ``data`` to mono float32 at the stream's rate, handing ``each`` a copy of every
    ``chunk`` samples (fewer at the end) and that rate; ``each`` may raise to stop. Returns the
    MPEG layer (1, 2 or 3). Raises :class:`Unclean` (FFmpeg decides instead), and
    ``RuntimeError`` if the library is missing."""
    lib = _library()
    if lib is None:
        raise RuntimeError("libmpg123 is not installed (Debian: libmpg123-0)")
    buffer = np.empty(chunk, dtype=np.float32)
    with _Handle(lib, data) as handle:
        rate = layer = 0
        while True:
            code, n = handle.read(buffer)
            if code == _NEW_FORMAT:
                if rate:  # the rate changed midway (chained or damaged headers)
                    raise Unclean("the stream changes format")
                rate, layer = handle.stream()
            if n:
                each(buffer[:n].copy(), rate)
            if code in (_OK, _NEW_FORMAT):
                continue
            if code in (_NEED_MORE, _DONE):  # the end of the input (a partial frame dropped)
                if not rate:
                    raise Unclean("no MPEG audio frame")
                return layer
            handle._check(code)
            raise Unclean(f"mpg123_read returned {code}")
