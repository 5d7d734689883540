"""``python -m consentry.client fingerprint DIR -o manifest.jsonl``: fingerprint every audio file
under DIR with the service's own code (``governance.content``) and write a JSON Lines manifest,
one item a file, ``{"fingerprint": {"model_version", "sha256", "data", "composition",
"voice"}}``: what
``POST /api/v1/use-requests/`` decides like uploaded audio, without the audio. Beside it,
``<manifest>.index.tsv`` names the file of each line (line, SHA-256, path), since a manifest's
items are answered by line.

``composition`` holds, for audio of at least 30 s, its query segments in the service's
``composition`` space (covers: the same composition transposed or at another tempo), computed
by ``governance.content.queries.composition_segments``, the very function the service runs on
uploaded audio, so a cover in the manifest is matched as the same audio uploaded is. It needs
librosa (the ``composition`` extra, also in ``voice``); ``--no-composition`` leaves it out:
such a manifest's items are matched by their fingerprints alone.

``voice`` holds the audio's voice windows (``governance.content.voice.windows``: the vectors
the service computes from uploaded audio, so an enrolled artist's voice is recognised in the
manifest as in the audio); it needs the ``voice`` extra (torch, Resemblyzer, webrtcvad,
librosa). ``--no-voice`` leaves it out: such a manifest brings no voice into a decision. Audio
with no speech carries no ``voice``. A clip too short for a fingerprint but with a voice is
still written (as a fingerprint of no hashes and the clip's length, which the service decides
as ``content.too_short`` unless the voice matches an artist, as it does uploaded audio).

A file that cannot be fingerprinted (corrupt, unsupported, too short without a voice, too
long) is named on stderr with the reason, left out of the manifest, and makes the exit status
1; the others go on. ``--resume`` keeps what an earlier run wrote and fingerprints only the
files it lacks.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus")
EXIT_OK, EXIT_SOME_FAILED, EXIT_CANNOT = 0, 1, 2


VOICE_PACKAGES = ("torch", "resemblyzer", "webrtcvad", "librosa", "pkg_resources")
"""What computing voice windows imports (the client's ``voice`` extra; webrtcvad imports
``pkg_resources``, which setuptools 81 removed)."""


@dataclass(frozen=True)
class Result:
    path: str
    sha256: str
    line: str | None  # the manifest's JSON line, or None if the file failed
    error: str = ""


def fingerprint_file(path: str, *, voiced: bool = True, composed: bool = True) -> Result:
    """One file's manifest line (its fingerprint, its composition segments unless not
    ``composed``, its voice windows unless not ``voiced``, and its SHA-256), or the reason it
    has none."""
    from governance.content import audio, fingerprint, queries, voice

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Result(path, "", None, f"unreadable: {exc.strerror}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        decoded = audio.decode(data)
    except audio.ContentError as exc:
        return Result(path, digest, None, f"{exc.reason}: {exc.detail}")
    # As the service reads uploaded audio (governance.services.fingerprints.audio_file_content).
    windows = voice.windows(decoded.samples, decoded.rate) if voiced else ()
    try:
        fp = fingerprint.extract(decoded)
    except audio.ContentError as exc:
        if exc.reason != "too_short" or not windows:
            return Result(path, digest, None, f"{exc.reason}: {exc.detail}")
        # Too short for a fingerprint, enough for a voice: its length, no hashes.
        empty = np.zeros(0, dtype=np.int32)
        fp = fingerprint.Fingerprint(hashes=empty, times=empty, seconds=decoded.seconds)
    item: dict[str, Any] = {
        "model_version": fingerprint.VERSION,
        "sha256": digest,
        "data": base64.b64encode(fp.to_bytes()).decode("ascii"),
    }
    # As the service reads uploaded audio: segments only beside a fingerprint, none under 30 s.
    segments = queries.composition_segments(decoded.samples, decoded.rate) if composed else ()
    if segments:
        model, version = queries.composition_model()
        item["composition"] = {
            "model": model,
            "model_version": version,
            "segments": [list(s) for s in segments],
        }
    if windows:
        item["voice"] = {
            "model": voice.MODEL,
            "model_version": voice.VERSION,
            "windows": [{"start": a, "end": b, "vector": list(v)} for v, (a, b) in windows],
        }
    line = json.dumps({"fingerprint": item}, separators=(",", ":"))
    return Result(path, digest, line)


def missing_voice_packages() -> list[str]:
    """The packages of :data:`VOICE_PACKAGES` that cannot be imported here."""
    return [name for name in VOICE_PACKAGES if importlib.util.find_spec(name) is None]


def missing_composition_packages() -> list[str]:
    """What importing the composition module (``governance.content.composition``, whichever
    version this client ships) lacks here: the missing package's name, or none."""
    try:
        importlib.import_module("governance.content.composition")
    except ImportError as exc:
        return [(exc.name or str(exc)).partition(".")[0]]
    return []


def audio_files(folder: Path) -> list[Path]:
    """The audio files under ``folder`` by their names' suffixes, in a stable order."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )


def _done(index: Path) -> tuple[set[str], int]:
    """The paths an earlier run wrote (from its index), and its number of lines."""
    if not index.exists():
        return set(), 0
    paths, lines = set(), 0
    for lines, row in enumerate(index.read_text(encoding="utf-8").splitlines(), start=1):
        parts = row.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"{index}, line {lines}: not 'line<TAB>sha256<TAB>path'")
        paths.add(parts[2])
    return paths, lines


def _results(paths: list[str], workers: int, *, voiced: bool, composed: bool) -> Iterator[Result]:
    one = functools.partial(fingerprint_file, voiced=voiced, composed=composed)
    if workers == 1:
        yield from map(one, paths)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(one, paths, chunksize=4)


def fingerprint_folder(
    folder: Path,
    output: Path,
    *,
    workers: int,
    resume: bool,
    quiet: bool,
    voiced: bool = True,
    composed: bool = True,
) -> int:
    index = output.with_name(output.name + ".index.tsv")
    done, written = _done(index) if resume else (set(), 0)
    if resume and output.exists():
        with output.open("rb") as existing:
            if sum(1 for _ in existing) != written:
                raise ValueError(f"{output} and {index} disagree: start again without --resume")
    paths = [str(p) for p in audio_files(folder) if str(p) not in done]
    failed = 0
    mode = "a" if resume else "w"
    with output.open(mode, encoding="utf-8") as out, index.open(mode, encoding="utf-8") as idx:
        for n, result in enumerate(
            _results(paths, workers, voiced=voiced, composed=composed), start=1
        ):
            if result.line is None:
                failed += 1
                print(f"{result.path}: {result.error}", file=sys.stderr, flush=True)
            else:
                written += 1
                out.write(result.line + "\n")
                idx.write(f"{written}\t{result.sha256}\t{result.path}\n")
            if not quiet and (n % 100 == 0 or n == len(paths)):
                out.flush()
                idx.flush()
                print(f"  {n:,}/{len(paths):,} files", file=sys.stderr, flush=True)
    skipped = f", {len(done):,} already there" if resume else ""
    print(f"{written:,} items in {output}{skipped}; {failed:,} files failed; index {index}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m consentry.client",
        description="Consentry's licensee client: fingerprint audio locally.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fp = commands.add_parser(
        "fingerprint",
        help="fingerprint every audio file under DIR into a manifest of fingerprints",
        epilog="exit status: 0 every file fingerprinted; 1 some failed (named on stderr); "
        "2 nothing could be done (bad arguments, unreadable folder).",
    )
    fp.add_argument("folder", type=Path, metavar="DIR")
    fp.add_argument("-o", "--output", type=Path, required=True, metavar="MANIFEST")
    fp.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes fingerprinting at once (default: one per CPU)",
    )
    fp.add_argument("--resume", action="store_true", help="keep what an earlier run wrote")
    fp.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    fp.add_argument(
        "--no-voice",
        dest="voiced",
        action="store_false",
        help="leave out the voice windows (then no artist's voice is recognised in the "
        "manifest); they need the client's 'voice' extra",
    )
    fp.add_argument(
        "--no-composition",
        dest="composed",
        action="store_false",
        help="leave out the composition segments (then no cover is recognised in the "
        "manifest); they need the client's 'composition' extra",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return EXIT_CANNOT
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_CANNOT
    if args.voiced and (missing := missing_voice_packages()):
        print(
            f"error: voice windows need {', '.join(missing)}: install the client with its "
            "'voice' extra (pip install './client[voice]'), or pass --no-voice",
            file=sys.stderr,
        )
        return EXIT_CANNOT
    if args.composed and (missing := missing_composition_packages()):
        print(
            f"error: composition segments need {', '.join(missing)}: install the client with "
            "its 'composition' extra (pip install './client[composition]'), or pass "
            "--no-composition",
            file=sys.stderr,
        )
        return EXIT_CANNOT
    try:
        return fingerprint_folder(
            args.folder,
            args.output,
            workers=args.workers,
            resume=args.resume,
            quiet=args.quiet,
            voiced=args.voiced,
            composed=args.composed,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT
