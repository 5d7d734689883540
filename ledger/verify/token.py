"""``python -m ledger.verify token FILE``: check a licence token (docs/lifecycle-tokens.md).

Offline, it checks the token's signature against the given keys and its claims' form and, with
a receipt (``--receipt FILE``, or the ``receipt`` member of the token endpoint's answer saved
as FILE), that the receipt proves the entries the token names. Offline it cannot know whether
the consent the token rests on was withdrawn since, and says so. With ``--log URL`` it asks the
log (``GET /ledger/later-entries``) for the entries since the decision's that name its rules or
its decision, checks each one's inclusion in a signed checkpoint, and judges them.

Exit status: 0 verified (and, online, in force); 1 the signature or the receipt does not
verify; 2 the check could not be made (unreadable file, bad arguments, network or HTTP error);
3 the file is not a well-formed token; 4 (online) the consent was withdrawn; 5 (online) it was
superseded (a later rule version that may still allow the use, or a later entry superseding
the decision).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ledger import licence_tokens as tokens
from ledger.exceptions import VerificationError
from ledger.note import Verifier
from ledger.verify.client import (
    API_KEY_VARIABLE,
    DEFAULT_TIMEOUT,
    EXIT_CANNOT_CHECK,
    EXIT_FAILED,
    EXIT_OK,
    FetchError,
    HttpLogClient,
    LocalInputError,
    parse_vkeys,
    read_receipt_file,
)

EXIT_MALFORMED = 3
EXIT_WITHDRAWN = 4
EXIT_SUPERSEDED = 5

OFFLINE_NOTE = (
    "consent: not checked (offline mode cannot know whether the consent was withdrawn or "
    "superseded since; pass --log URL to ask the log)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify token",
        description="Verify a Consentry licence token: signature, claims, optionally its "
        "receipt, and (with --log) whether the consent it rests on still holds.",
        epilog="exit status: 0 verified; 1 signature or receipt does not verify; 2 cannot "
        "check (file, arguments, network); 3 not a well-formed token; 4 consent withdrawn "
        "(online); 5 superseded (online).",
    )
    parser.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="the token (the signed note), or the JSON answer of GET "
        "/api/v1/decisions/<id>/token/ saved as it is",
    )
    parser.add_argument(
        "--vkey",
        action="append",
        required=True,
        metavar="VKEY",
        help="the log's verifier key <name>+<hash>+<base64>; repeat to accept several",
    )
    parser.add_argument(
        "--receipt",
        type=Path,
        metavar="FILE",
        help="the decision's receipt (GET /api/v1/decisions/<id>/receipt/); default: the "
        "'receipt' member of FILE, if it is the token endpoint's JSON answer",
    )
    parser.add_argument("--log", metavar="URL", help="online: the service's base URL to ask")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per HTTP request (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--c2pa",
        action="store_true",
        help="once verified, print the C2PA assertion carrying the token (JSON) on stdout",
    )
    return parser


def main_token(argv: Sequence[str]) -> int:
    """Run ``python -m ledger.verify token``; return the exit status (a signature or receipt
    that does not verify raises :class:`VerificationError`, which the caller turns into 1)."""
    args = _parser().parse_args(argv)
    verifiers = parse_vkeys(args.vkey)
    try:
        text, embedded_receipt = _read_token_file(args.file)
        claims = tokens.verify_token(text, verifiers)
    except tokens.MalformedToken as exc:
        print(f"verification FAILED: {exc}", file=sys.stderr)
        return EXIT_MALFORMED
    receipt = read_receipt_file(args.receipt) if args.receipt is not None else embedded_receipt
    lines = [claims.summary()]
    if receipt is not None:
        lines.append(f"receipt: {tokens.check_token_receipt(claims, receipt, verifiers)}")
    else:
        lines.append("receipt: not checked (pass --receipt FILE)")
    status = EXIT_OK
    if args.log is None:
        lines.append(OFFLINE_NOTE)
    else:
        client = HttpLogClient(
            args.log, timeout=args.timeout, token=os.environ.get(API_KEY_VARIABLE) or None
        )
        result = tokens.judge_later_entries(claims, _ask_log(client, claims), verifiers)
        for later in result.found:
            lines.append(f"entry {later.index} ({later.kind}): {later.verdict}: {later.reason}")
        partial = "" if result.complete else " (the log listed only part of the entries)"
        lines.append(
            f"consent: {result.verdict} as of the log's checkpoint of size {result.tree_size}"
            f"{partial}"
        )
        status = {"withdrawn": EXIT_WITHDRAWN, "superseded": EXIT_SUPERSEDED}.get(
            result.verdict, EXIT_OK
        )
    print("\n".join(lines), flush=True)
    if args.c2pa:
        assertion = tokens.c2pa_assertion(
            text, claims, vkey=next(v.key_string for v in verifiers if _signed(v, claims))
        )
        print(json.dumps(assertion, indent=2, ensure_ascii=False))
    return status


def _signed(verifier: Verifier, claims: tokens.TokenClaims) -> bool:
    return f"{verifier.name}+{verifier.key_id.hex()}" in claims.signed_by


def _ask_log(client: HttpLogClient, claims: tokens.TokenClaims) -> Mapping[str, Any]:
    query = tokens.later_entries_query(claims)
    url = f"{client.base_url}/ledger/later-entries?{urllib.parse.urlencode(query, doseq=True)}"
    body = client.get(url, accept="application/json")
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        raise VerificationError(f"GET {url}: the response is not JSON") from None
    if not isinstance(answer, dict):
        raise VerificationError(f"GET {url}: the response is not a JSON object")
    return answer


def _read_token_file(path: Path) -> tuple[str, Mapping[str, Any] | None]:
    """The token's text, and the receipt beside it when FILE is the endpoint's JSON answer."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LocalInputError(f"cannot read token {path}: {exc.strerror}") from None
    if raw.lstrip()[:1] != b"{":
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            raise tokens.MalformedToken(f"token: {path} is not UTF-8") from None
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError):
        raise tokens.MalformedToken(f"token: {path} starts like JSON but is not JSON") from None
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str):
        raise tokens.MalformedToken(f"token: {path} is JSON without a 'token' string")
    receipt = answer.get("receipt")
    return token, receipt if isinstance(receipt, dict) else None


__all__ = [
    "EXIT_CANNOT_CHECK",
    "EXIT_FAILED",
    "EXIT_MALFORMED",
    "EXIT_OK",
    "EXIT_SUPERSEDED",
    "EXIT_WITHDRAWN",
    "FetchError",
    "main_token",
]
