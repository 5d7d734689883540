"""Offline verifier for a Consentry ledger: ``python -m ledger.verify``.

It trusts nothing the log serves except what a signature or a recomputation proves. Two forms::

    python -m ledger.verify --url URL --vkey VKEY [--state FILE] [--origin ORIGIN]
                            [--samples K] [--quiet] [--no-canonical-check] [--workers N]
    python -m ledger.verify receipt FILE --vkey VKEY [--origin ORIGIN]
    python -m ledger.verify token FILE --vkey VKEY [--receipt FILE] [--log URL] [--c2pa]

The first fetches the latest signed checkpoint, every entry, and checks that

* the checkpoint note is signed by one of the given keys (and names ``--origin``, if given);
* every entry is RFC 8785 canonical JSON of the entry format and hashes to the leaf hash served;
* the Merkle tree of those leaf hashes has the signed root;
* sampled inclusion proofs served by the log (always including the first and last entry) reach the
  signed root;
* with ``--state FILE`` from an earlier run: the log did not shrink, the first entries still have
  the remembered root, and the log's consistency proof between the two sizes verifies. On success
  the state file is replaced (atomically) by the new checkpoint.

Entries are checked by one worker process per CPU (``--workers``; 1 checks them in this process)
while threads fetch the next pages; the failure reported is always the one of the lowest entry.

The second checks a receipt (one entry, its inclusion proof, the signed checkpoint) with no network
at all. Exit status: 0 verified, 1 something did not verify (the message names the first failure),
2 the check could not be made (network or HTTP error, bad arguments, unreadable local file).

The package's modules: :mod:`~ledger.verify.client` (HTTP, opening the checkpoint),
:mod:`~ledger.verify.canonical_check` (the fast canonical-JSON check of a page),
:mod:`~ledger.verify.state` (the state file), :mod:`~ledger.verify.page_check` (checking one
page), :mod:`~ledger.verify.pages` (fetching pages while worker processes check them),
:mod:`~ledger.verify.log` (:func:`verify_log`), :mod:`~ledger.verify.receipt` (the receipt
format), :mod:`~ledger.verify.token` (licence tokens, with :mod:`ledger.licence_tokens`) and
:mod:`~ledger.verify.cli` (the command line); the tree maths is
:class:`ledger.merkle_trees.PagedTree`.

This package imports only the standard library, ``cryptography`` (through :mod:`ledger.note`),
``rfc8785`` (through :mod:`ledger.canonical`) and the pure ledger modules, so it can be copied
out with them and run anywhere. docs/ledger.md describes every format it reads.
"""

from ledger.verify.canonical_check import CanonicalChecker
from ledger.verify.cli import main
from ledger.verify.client import (
    ENTRIES_PAGE_SIZE,
    FetchError,
    HttpLogClient,
    LocalInputError,
    LogClient,
    open_log_checkpoint,
    parse_entries_body,
)
from ledger.verify.log import DEFAULT_SAMPLES, LogResult, verify_log
from ledger.verify.pages import default_workers
from ledger.verify.receipt import RECEIPT_VERSION, ReceiptResult, verify_receipt
from ledger.verify.state import State, load_state, save_state

__all__ = [
    "DEFAULT_SAMPLES",
    "ENTRIES_PAGE_SIZE",
    "RECEIPT_VERSION",
    "CanonicalChecker",
    "FetchError",
    "HttpLogClient",
    "LocalInputError",
    "LogClient",
    "LogResult",
    "ReceiptResult",
    "State",
    "default_workers",
    "load_state",
    "main",
    "open_log_checkpoint",
    "parse_entries_body",
    "save_state",
    "verify_log",
    "verify_receipt",
]
