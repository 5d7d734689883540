"""The command line: ``python -m ledger.verify``, ``python -m ledger.verify receipt`` and
``python -m ledger.verify token`` (:mod:`ledger.verify.token`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ledger.exceptions import VerificationError
from ledger.verify.client import (
    API_KEY_VARIABLE,
    DEFAULT_TIMEOUT,
    EXIT_CANNOT_CHECK,
    EXIT_FAILED,
    EXIT_OK,
    FetchError,
    HttpLogClient,
    LocalInputError,
    b64encode_text,
    parse_vkeys,
    read_receipt_file,
)
from ledger.verify.log import DEFAULT_SAMPLES, verify_log
from ledger.verify.pages import default_workers
from ledger.verify.receipt import verify_receipt
from ledger.verify.state import load_state, save_state

if TYPE_CHECKING:
    from governance.replaying.offline import VerifiedReplay

PROGRESS_EVERY = 100_000

_LOG_EPILOG = """\
A receipt is verified offline with:
  python -m ledger.verify receipt FILE --vkey VKEY [--origin ORIGIN]
A licence token (docs/lifecycle-tokens.md), offline or with --log URL online:
  python -m ledger.verify token FILE --vkey VKEY [--receipt FILE] [--log URL] [--c2pa]

exit status: 0 everything verified; 1 something did not verify (the first failure is named);
2 the check could not be made (network or HTTP error, bad arguments, unreadable local file).
Set LEDGER_VERIFY_TOKEN to send an API token, if the log's reads need one.
"""


def _log_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify",
        description="Verify a whole Consentry ledger against its signed checkpoint.",
        epilog=_LOG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the service's base URL, e.g. https://host")
    _add_key_arguments(parser)
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="JSON file remembering the last verified checkpoint; checked and then replaced",
    )
    parser.add_argument(
        "--samples",
        type=_non_negative_int,
        default=DEFAULT_SAMPLES,
        metavar="K",
        help=f"random inclusion proofs to check, besides the first and last (default "
        f"{DEFAULT_SAMPLES})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--no-canonical-check",
        dest="canonical",
        action="store_false",
        help="skip checking that every entry is canonical JSON (hashes are still checked)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="processes checking entries while pages are fetched ahead; 1 checks them in this "
        f"process, one page after another (default: one per CPU, here {default_workers()})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per HTTP request (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="then replay every decision from the verified entries (committed fields opened "
        "with the openings, each checked against its commitment) and report any that differs",
    )
    parser.add_argument(
        "--openings",
        type=Path,
        metavar="FILE",
        help="with --replay: the openings downloaded from GET /api/v1/ledger/openings/ (JSON, "
        "or JSON Lines of its answers); default: fetch them, with an auditor's token in "
        f"{API_KEY_VARIABLE}",
    )
    return parser


def _receipt_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify receipt",
        description="Verify a ledger receipt offline: entry, inclusion proof, signed checkpoint.",
        epilog="exit status: 0 the receipt verifies; 1 it does not; 2 the file cannot be read.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the receipt, a JSON file")
    _add_key_arguments(parser)
    return parser


def _add_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vkey",
        action="append",
        required=True,
        metavar="VKEY",
        help="the log's verifier key <name>+<hash>+<base64>; repeat to accept several",
    )
    parser.add_argument(
        "--origin", help="the log's origin line to require (default: accept and show it)"
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("it must be at least 1")
    return value


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.next_report = PROGRESS_EVERY

    def __call__(self, done: int, size: int) -> None:
        if done >= self.next_report or (done == size and size >= PROGRESS_EVERY):
            percent = 100 * done // size if size else 100
            print(f"checked {done:,} of {size:,} entries ({percent}%)", file=self.stream)
            self.next_report = (done // PROGRESS_EVERY + 1) * PROGRESS_EVERY


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (usage errors exit 2 through argparse)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["receipt"]:
            return _main_receipt(args[1:])
        if args[:1] == ["token"]:
            # Imported here: ledger.licence_tokens imports this package's client and receipt
            # modules, so importing it while this package initialises would be circular.
            from ledger.verify.token import main_token

            return main_token(args[1:])
        return _main_log(args)
    except VerificationError as exc:
        print(f"verification FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (FetchError, LocalInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    except BrokenProcessPool as exc:
        print(f"error: a worker process checking entries stopped: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK


def _main_log(argv: Sequence[str]) -> int:
    args = _log_parser().parse_args(argv)
    verifiers = parse_vkeys(args.vkey)
    client = HttpLogClient(
        args.url, timeout=args.timeout, token=os.environ.get(API_KEY_VARIABLE) or None
    )
    state_path: Path | None = args.state
    state = load_state(state_path) if state_path is not None else None
    with contextlib.ExitStack() as stack:
        replaying = stack.enter_context(_replaying(client, args)) if args.replay else None
        result = verify_log(
            client,
            verifiers,
            state=state,
            state_label=str(state_path),
            samples=args.samples,
            origin=args.origin,
            check_canonical=args.canonical,
            progress=None if args.quiet else _Progress(sys.stderr),
            workers=default_workers() if args.workers is None else args.workers,
            hook=None if replaying is None else replaying.hook,
        )
    if state_path is not None:
        save_state(state_path, result.state)

    pinned = "" if args.origin else " (not pinned: pass --origin to require it)"
    canonical = "canonical JSON and " if result.canonical_checked else ""
    processes = f" in {result.workers} processes" if result.workers > 1 else ""
    lines = [
        f"verified: {client.base_url}",
        f"origin: {result.origin}{pinned}",
        f"size: {result.size}",
        f"root: {b64encode_text(result.root_hash)}",
        f"signed by: {', '.join(result.signed_by)}",
        f"entries: {result.size} checked ({canonical}leaf hashes), tree recomputed in "
        f"{result.compute_seconds:.2f} s of CPU time ({result.entries_per_second:,.0f} entries/s"
        f"{processes}; {result.fetch_seconds:.2f} s waiting for the log)",
        f"inclusion proofs: {result.inclusion_proofs_checked} checked against the signed root",
    ]
    if state is None:
        lines.append("consistency: no earlier state to compare with")
    else:
        lines.append(f"consistency: extends the state of size {state.size} in {state_path}")
    if state_path is not None:
        lines.append(f"state: saved to {state_path}")
    print("\n".join(lines), flush=True)
    if replaying is None:
        return EXIT_OK
    # The log verified, the replay of its entries counts: each was replayed as it was checked.
    count, differences = replaying.result()
    for difference in differences:
        print(difference.describe())
    print(f"{count:,} decisions replayed, {len(differences)} differ")
    return EXIT_FAILED if differences else EXIT_OK


def _replaying(client: HttpLogClient, args: argparse.Namespace) -> VerifiedReplay:
    """The replay of the decisions, done in the same pass as the log's verification
    (:mod:`governance.replaying.offline`), as ``manage.py replay_decisions`` replays them."""
    # The one import of governance by the ledger (import-linter's layers contract names it):
    # only the command line, and only for --replay, so the log's verifier stays standalone.
    from governance.replaying import offline

    def progress(n: int) -> None:
        print(f"  {n:,} decisions replayed...", file=sys.stderr)

    return offline.VerifiedReplay(
        client,
        openings_file=args.openings,
        canonical_checked=args.canonical,
        progress=None if args.quiet else progress,
    )


def _main_receipt(argv: Sequence[str]) -> int:
    args = _receipt_parser().parse_args(argv)
    verifiers = parse_vkeys(args.vkey)
    receipt = read_receipt_file(args.file)
    result = verify_receipt(receipt, verifiers, origin=args.origin)
    print(result.summary)
    return EXIT_OK
