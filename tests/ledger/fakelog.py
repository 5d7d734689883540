"""An in-process fake of the ledger's read API (docs/ledger.md, "HTTP API"), for verifier tests.

:class:`FakeLog` keeps canonical entries in a :class:`~ledger.merkle_trees.MemoryTree`, signs its
checkpoints with a test :class:`~ledger.note.Signer` and serves ``/ledger/...`` from a
``ThreadingHTTPServer`` on 127.0.0.1. Its attributes tamper with what it serves: edited entry
data, edited leaf hashes, tiles that follow the edits, a checkpoint signed by another key, proofs
with a flipped bit, a failing status for every request.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import decode_entry, encode_entry, format_time
from ledger.merkle import leaf_hash
from ledger.merkle_trees import MemoryTree
from ledger.note import Checkpoint, Signer, sign_checkpoint
from ledger.tiles import ENTRIES, encode_entry_bundle, parse_tile_path, tile_hashes

ORIGIN = "consentry.localhost/ledger"
ENTRY_TIME = datetime(2026, 11, 25, 19, 52, 18, 123000, tzinfo=UTC)
MAX_PAGE = 1000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_signer(name: str = ORIGIN) -> Signer:
    return Signer(name=name, private_key=Ed25519PrivateKey.generate())


def make_entry(i: int, *, kind: str = "test") -> bytes:
    return encode_entry(kind=kind, time=ENTRY_TIME, payload={"i": i, "note": f"entry {i}"})


def flip_bit(data: bytes, *, byte: int = 0, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[byte] ^= 1 << bit
    return bytes(changed)


class FakeLog:
    """A log of canonical entries served over HTTP; start it with ``with FakeLog() as log``."""

    def __init__(self, *, origin: str = ORIGIN, signer: Signer | None = None) -> None:
        self.origin = origin
        self.signer = signer or make_signer(origin)
        self.entries: list[bytes] = []
        self.tree = MemoryTree()
        # Tampering: what is served instead of the truth.
        self.served_data: dict[int, bytes] = {}
        self.served_leaf_hash: dict[int, bytes] = {}
        self.tiles_follow_edits = False
        self.checkpoint_signer: Signer | None = None
        self.checkpoint_note: bytes | None = None
        self.flip_inclusion_proofs = False
        self.flip_consistency_proofs = False
        self.fail_status: int | None = None
        self.page_limit = MAX_PAGE
        self.skip_index: int | None = None
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- content -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.tree.size

    @property
    def vkey(self) -> str:
        return self.signer.verifier().key_string

    def append(self, entries: Iterable[bytes]) -> None:
        for entry in entries:
            self.entries.append(entry)
            self.tree.append(leaf_hash(entry))

    def append_test_entries(self, count: int) -> None:
        start = len(self.entries)
        self.append(make_entry(i) for i in range(start, start + count))

    def rewrite(self, index: int, entry: bytes) -> None:
        """Change history for real: the tree, tiles and checkpoint all follow."""
        self.entries[index] = entry
        self.tree = MemoryTree(leaf_hash(e) for e in self.entries)

    def truncate(self, size: int) -> None:
        del self.entries[size:]
        self.tree = MemoryTree(leaf_hash(e) for e in self.entries)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(origin=self.origin, size=self.size, root_hash=self.tree.root())

    def note(self) -> bytes:
        if self.checkpoint_note is not None:
            return self.checkpoint_note
        return sign_checkpoint(self.checkpoint(), [self.checkpoint_signer or self.signer])

    def data(self, index: int) -> bytes:
        return self.served_data.get(index, self.entries[index])

    def served_hash(self, index: int) -> bytes:
        return self.served_leaf_hash.get(index, leaf_hash(self.entries[index]))

    def receipt(self, index: int) -> dict[str, Any]:
        return {
            "v": 1,
            "index": index,
            "entry": b64(self.data(index)),
            "leaf_hash": b64(self.served_hash(index)),
            "tree_size": self.size,
            "inclusion_proof": [b64(h) for h in self.inclusion_proof(index, self.size)],
            "checkpoint": self.note().decode(),
        }

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        proof = self.tree.inclusion_proof(index, size)
        if self.flip_inclusion_proofs and proof:
            proof[0] = flip_bit(proof[0])
        return proof

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        proof = self.tree.consistency_proof(first, second)
        if self.flip_consistency_proofs and proof:
            proof[-1] = flip_bit(proof[-1])
        return proof

    def tile_tree(self) -> MemoryTree:
        if not self.tiles_follow_edits:
            return self.tree
        return MemoryTree(self.served_hash(i) for i in range(self.size))

    # ---- server ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the log first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeLog:
        log = self

        class Handler(_Handler):
            fake = log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeLog:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _NotFound(Exception):
    pass


class _BadRequest(Exception):
    pass


_ENTRY_PATH = re.compile(r"/ledger/entries/(0|[1-9][0-9]*)")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLog

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.fake
        fake.requests.append(self.path)
        if fake.fail_status is not None:
            self._error(fake.fail_status, "internal", "The fake log is failing on purpose.")
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            self._route(parts.path, query)
        except _NotFound as exc:
            self._error(404, "not_found", str(exc))
        except (_BadRequest, ValueError, KeyError) as exc:
            self._error(400, "invalid_range", str(exc))

    def _route(self, path: str, query: dict[str, str]) -> None:
        fake = self.fake
        if path == "/ledger/checkpoint":
            self._send(200, fake.note(), "text/plain; charset=utf-8")
        elif path == "/ledger/entries":
            start, end = int(query["start"]), int(query["end"])
            if not 0 <= start < end or end - start > MAX_PAGE:
                raise _BadRequest(f"bad range {start}..{end}")
            end = min(end, start + fake.page_limit, fake.size)
            indexes = [i for i in range(start, end) if i != fake.skip_index]
            self._json(
                {
                    "entries": [
                        {
                            "index": i,
                            "data": b64(fake.data(i)),
                            "leaf_hash": b64(fake.served_hash(i)),
                        }
                        for i in indexes
                    ]
                }
            )
        elif match := _ENTRY_PATH.fullmatch(path):
            index = int(match.group(1))
            if index >= fake.size:
                raise _NotFound(f"No entry {index}.")
            decoded = decode_entry(fake.entries[index])
            self._json(
                {
                    **fake.receipt(index),
                    "decoded": {
                        "v": decoded.v,
                        "type": decoded.kind,
                        "time": format_time(decoded.time),
                        "payload": dict(decoded.payload),
                    },
                }
            )
        elif path == "/ledger/proof/inclusion":
            index, size = int(query["index"]), int(query["tree_size"])
            if not 0 <= index < size <= fake.size:
                raise _BadRequest(f"no entry {index} in tree size {size}")
            proof = fake.inclusion_proof(index, size)
            self._json({"index": index, "tree_size": size, "hashes": [b64(h) for h in proof]})
        elif path == "/ledger/proof/consistency":
            first, second = int(query["first"]), int(query["second"])
            if not 0 <= first <= second <= fake.size:
                raise _BadRequest(f"cannot prove {first} -> {second}")
            proof = fake.consistency_proof(first, second)
            self._json({"first": first, "second": second, "hashes": [b64(h) for h in proof]})
        elif path == "/ledger/keys":
            verifier = fake.signer.verifier()
            self._json(
                {
                    "keys": [
                        {
                            "name": verifier.name,
                            "vkey": verifier.key_string,
                            "algorithm": "ed25519",
                            "valid_from": "2026-01-01T00:00:00.000Z",
                            "valid_until": None,
                        }
                    ]
                }
            )
        elif path.startswith("/ledger/tile/"):
            self._tile(path.removeprefix("/ledger/"))
        else:
            raise _NotFound(f"No route {path}.")

    def _tile(self, path: str) -> None:
        fake = self.fake
        try:
            ref = parse_tile_path(path)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        first = ref.index * 256
        if ref.level == ENTRIES:
            if first + ref.width > fake.size:
                raise _NotFound(f"No entry bundle {path}.")
            bundle = [fake.data(i) for i in range(first, first + ref.width)]
            self._send(200, encode_entry_bundle(bundle), "application/octet-stream")
            return
        tree = fake.tile_tree()
        assert isinstance(ref.level, int)
        if (first + ref.width) << (8 * ref.level) > fake.size:
            raise _NotFound(f"No tile {path}.")
        data = tile_hashes(
            level=ref.level, index=ref.index, width=ref.width, perfect_hash=tree.perfect_hash
        )
        self._send(200, data, "application/octet-stream")

    def _json(self, document: object) -> None:
        self._send(200, json.dumps(document).encode(), "application/json")

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"code": code, "message": message, "fields": {}}).encode()
        self._send(status, body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
