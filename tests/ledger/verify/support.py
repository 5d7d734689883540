"""Helpers of the offline verifier's tests: running the command line, log clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.canonical import decode_entry, encode_entry
from ledger.exceptions import VerificationError
from ledger.tiles import TileRef
from ledger.verify import (
    CanonicalChecker,
    HttpLogClient,
    main,
    verify_log,
)
from tests.ledger.fakelog import ENTRY_TIME, FakeLog, b64, make_entry

REPO = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_log(capsys: pytest.CaptureFixture[str], log: FakeLog, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "--url", log.url, "--vkey", log.vkey, "--quiet", *extra)


def edited_entry(i: int) -> bytes:
    return encode_entry(kind="test", time=ENTRY_TIME, payload={"i": i, "note": "edited"})


def write_receipt(tmp_path: Path, receipt: dict[str, object]) -> str:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return str(path)


def decode_verdict(data: bytes) -> bool:
    try:
        decode_entry(data)
    except ValueError:
        return False
    return True


def check_verdict(entries: list[bytes], *, first_index: int = 0) -> str | None:
    try:
        CanonicalChecker().check(entries, first_index=first_index)
    except VerificationError as exc:
        return str(exc)
    return None


class CompactClient(HttpLogClient):
    """The fake log's pages as the real log writes them: compact JSON, which has a fast path."""

    def entries_body(self, start: int, end: int) -> bytes:
        document = json.loads(super().entries_body(start, end))
        return json.dumps(document, separators=(",", ":")).encode()


class MemoryClient:
    """A log client without HTTP: the fake log's content, straight from memory."""

    def __init__(self, fake: FakeLog) -> None:
        self.fake = fake
        self.http = HttpLogClient(fake.url)

    def checkpoint(self) -> bytes:
        return self.fake.note()

    def entries(self, start: int, end: int) -> list[Any]:
        end = min(end, start + self.fake.page_limit, self.fake.size)
        return [
            {"index": i, "data": b64(self.fake.data(i)), "leaf_hash": b64(self.fake.served_hash(i))}
            for i in range(start, end)
        ]

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return self.fake.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.fake.consistency_proof(first, second)

    def tile(self, ref: TileRef) -> bytes:
        return self.http.tile(ref)


CLIENTS: dict[str, type[HttpLogClient]] = {"json": HttpLogClient, "compact": CompactClient}


def not_canonical(i: int) -> bytes:
    return make_entry(i).replace(b'"v":1', b'"v": 1')


def verify_outcome(log: FakeLog, *, workers: int, client: str = "json") -> str:
    """The root verified, or the failure."""
    reader = MemoryClient(log) if client == "memory" else CLIENTS[client](log.url)
    try:
        result = verify_log(reader, log.signer.verifier(), workers=workers, samples=2)
    except VerificationError as exc:
        return f"FAILED {exc}"
    return f"verified {b64(result.root_hash)} size {result.size}"
