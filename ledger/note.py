"""C2SP signed notes with Ed25519, and the C2SP tlog-checkpoint body they carry.

Signed note (https://c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line,
then one or more signature lines. No ASCII control characters other than newline may appear::

    <text line>\\n
    ...\\n
    \\n
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>\\n

The dash is an em dash (U+2014) followed by a space. The signature covers the text including its
final newline, not the blank line. The key ID is
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`` (0x01 is the Ed25519 signature
type). Key names are non-empty and contain neither Unicode spaces nor ``+``.

Key strings follow Go's ``golang.org/x/mod/sumdb/note``::

    verifier key   <name>+<key ID as 8 lowercase hex digits>+<base64(0x01 || public key)>
    signer key     PRIVATE+KEY+<name>+<key ID hex>+<base64(0x01 || 32-byte seed)>

Checkpoint body (https://c2sp.org/tlog-checkpoint), the text of the log's signed note::

    <origin>\\n
    <tree size in decimal, no leading zeros>\\n
    <base64 of the 32-byte RFC 6962 root hash>\\n

This module writes no extension lines and rejects bodies that carry any.

:func:`open_note` follows the spec's rules: signatures from unknown keys (name and key ID not
both known) are ignored; a known key whose signature fails rejects the whole note; a note with no
verified signature is rejected. Those failures, and malformed notes, raise
:class:`~ledger.exceptions.VerificationError`; malformed key strings and bodies raise
``ValueError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.exceptions import VerificationError
from ledger.merkle import HASH_SIZE

SIGNATURE_TYPE_ED25519 = 0x01
KEY_ID_SIZE = 4
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SEED_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
MAX_SIGNATURES = 100
"""More signature lines than this make a note malformed (the spec requires accepting 16)."""

SIGNATURE_LINE_PREFIX = "\u2014 "
"""Em dash and space, which begin every signature line."""

SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
NEWLINE = "\n"
CHECKPOINT_LINES = 3
MAX_TREE_SIZE = 2**64 - 1

_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_SIGNATURE_PREFIX_BYTES = SIGNATURE_LINE_PREFIX.encode("utf-8")


def validate_key_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a valid signed-note key name."""
    if not name:
        raise ValueError("key name must not be empty")
    for char in name:
        if char == "+" or char.isspace() or ord(char) < 0x20:
            raise ValueError(f"key name {name!r} must not contain {char!r}")


def key_id(*, name: str, public_key: bytes) -> bytes:
    """The 4-byte Ed25519 key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    data = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: key name, key ID and raw 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        validate_key_name(self.name)
        if len(self.public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise ValueError(f"Ed25519 public key is {len(self.public_key)} bytes, not 32")
        if self.key_id != key_id(name=self.name, public_key=self.public_key):
            raise ValueError(f"key ID {self.key_id.hex()} does not match key {self.name!r}")

    @classmethod
    def from_public_key(cls, *, name: str, public_key: Ed25519PublicKey) -> Verifier:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name=name, key_id=key_id(name=name, public_key=raw), public_key=raw)

    @property
    def key_string(self) -> str:
        """``<name>+<key ID hex>+<base64(0x01 || public key)>``."""
        encoded = _b64encode(bytes([SIGNATURE_TYPE_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`VerificationError` unless ``signature`` is this key's over ``message``."""
        failure = f"invalid signature for key {self.name}+{self.key_id.hex()}"
        if len(signature) != ED25519_SIGNATURE_SIZE:
            raise VerificationError(f"{failure}: {len(signature)} bytes, not 64")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            raise VerificationError(failure) from None


@dataclass(frozen=True)
class Signer:
    """An Ed25519 note signer: key name and private key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_key_name(self.name)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        return key_id(name=self.name, public_key=self.public_key)

    def verifier(self) -> Verifier:
        return Verifier(name=self.name, key_id=self.key_id, public_key=self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the key ID."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class ParsedNote:
    """A note split into its text (with final newline) and its signature lines, unverified."""

    text: bytes
    signatures: tuple[NoteSignature, ...]


def make_verifier_key_string(*, name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<key ID hex>+<base64(0x01 || public key)>``."""
    return Verifier.from_public_key(name=name, public_key=public_key).key_string


def parse_verifier_key_string(vkey: str) -> Verifier:
    """Parse a verifier key string; raise ``ValueError`` if it is malformed or inconsistent."""
    name, id_hex, key = _split_key_string(vkey, what="verifier key")
    public_key = _decode_typed_key(key, what="verifier key", size=ED25519_PUBLIC_KEY_SIZE)
    if key_id(name=name, public_key=public_key).hex() != id_hex:
        raise ValueError(f"verifier key hash {id_hex} does not match its name and public key")
    return Verifier(name=name, key_id=bytes.fromhex(id_hex), public_key=public_key)


def make_signer_key_string(*, name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x01 || seed)>``. Keep it secret."""
    signer = Signer(name=name, private_key=private_key)
    seed = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    encoded = _b64encode(bytes([SIGNATURE_TYPE_ED25519]) + seed)
    return f"{SIGNER_KEY_PREFIX}{name}+{signer.key_id.hex()}+{encoded}"


def parse_signer_key_string(skey: str) -> Signer:
    """Parse a signer key string; raise ``ValueError`` (never echoing the key) if malformed."""
    if not skey.startswith(SIGNER_KEY_PREFIX):
        raise ValueError(f"signer key must start with {SIGNER_KEY_PREFIX!r}")
    name, id_hex, key = _split_key_string(skey[len(SIGNER_KEY_PREFIX) :], what="signer key")
    seed = _decode_typed_key(key, what="signer key", size=ED25519_SEED_SIZE)
    signer = Signer(name=name, private_key=Ed25519PrivateKey.from_private_bytes(seed))
    if signer.key_id.hex() != id_hex:
        raise ValueError(f"signer key hash {id_hex} does not match its name and key")
    return signer


def parse_note(note: bytes) -> ParsedNote:
    """Split a signed note into text and signature lines without verifying anything.

    Raises ``ValueError`` naming the defect if the note is malformed.
    """
    _check_note_characters(note, what="note")
    split = note.rfind(b"\n\n")
    if split < 0:
        raise ValueError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith(b"\n"):
        raise ValueError("note has no signature lines, or its last line has no newline")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"note has {len(lines)} signatures; at most {MAX_SIGNATURES} are read")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIGNATURE_PREFIX_BYTES):
            raise ValueError(f"signature line {number} does not start with an em dash and space")
        name, space, encoded = line[len(_SIGNATURE_PREFIX_BYTES) :].decode("utf-8").partition(" ")
        if not space:
            raise ValueError(f"signature line {number} has no space between name and signature")
        try:
            validate_key_name(name)
            raw = _b64decode(encoded, what=f"signature line {number}")
        except ValueError as exc:
            raise ValueError(f"signature line {number}: {exc}") from None
        if len(raw) <= KEY_ID_SIZE:
            raise ValueError(f"signature line {number} is too short to hold a key ID and signature")
        signatures.append(
            NoteSignature(name=name, key_id=raw[:KEY_ID_SIZE], signature=raw[KEY_ID_SIZE:])
        )
    return ParsedNote(text=text, signatures=tuple(signatures))


def sign_note(text: bytes, signers: Sequence[Signer]) -> bytes:
    """Return ``text`` signed by every signer, as a signed note (see the module docstring)."""
    _check_note_characters(text, what="note text")
    if not text.endswith(b"\n"):
        raise ValueError("note text must end with a newline")
    if not signers:
        raise ValueError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise ValueError(f"a note carries at most {MAX_SIGNATURES} signatures")
    if len({(signer.name, signer.key_id) for signer in signers}) != len(signers):
        raise ValueError("the same key is listed twice among the signers")
    lines = []
    for signer in signers:
        encoded = _b64encode(signer.key_id + signer.sign(text))
        lines.append(f"{SIGNATURE_LINE_PREFIX}{signer.name} {encoded}\n".encode())
    return text + b"\n" + b"".join(lines)


def open_note(note: bytes, verifiers: Sequence[Verifier]) -> tuple[bytes, list[str]]:
    """Verify a signed note; return its text and the names of the keys that verified it.

    Raises :class:`VerificationError` if the note is malformed, if a signature by a known key
    (same name and key ID) is invalid, or if no known key signed it. Signatures by unknown keys
    are ignored. Raises ``ValueError`` if two different verifiers share a name and key ID.
    """
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        existing = known.setdefault((verifier.name, verifier.key_id), verifier)
        if existing != verifier:
            raise ValueError(f"ambiguous key {verifier.name}+{verifier.key_id.hex()}")
    try:
        parsed = parse_note(note)
    except ValueError as exc:
        raise VerificationError(f"malformed note: {exc}") from None
    names: list[str] = []
    for signature in parsed.signatures:
        signer_key = known.get((signature.name, signature.key_id))
        if signer_key is None:
            continue
        signer_key.verify(parsed.text, signature.signature)
        if signature.name not in names:
            names.append(signature.name)
    if not names:
        raise VerificationError("note has no valid signature by a known key")
    return parsed.text, names


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint: the origin of the log, its tree size and its RFC 6962 root hash."""

    origin: str
    size: int
    root_hash: bytes

    def __post_init__(self) -> None:
        if not self.origin:
            raise ValueError("checkpoint origin must not be empty")
        if any(ord(char) < 0x20 for char in self.origin):
            raise ValueError(f"checkpoint origin {self.origin!r} contains a control character")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"checkpoint tree size {self.size} is outside 0..2**64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(
                f"checkpoint root hash is {len(self.root_hash)} bytes, not {HASH_SIZE}"
            )

    def to_body(self) -> bytes:
        """``<origin>\\n<size>\\n<base64 root>\\n`` -- the note text to sign."""
        return f"{self.origin}\n{self.size}\n{_b64encode(self.root_hash)}\n".encode()

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse a checkpoint body; raise ``ValueError`` naming the defect if malformed."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("checkpoint body is not UTF-8") from None
        if not text.endswith(NEWLINE):
            raise ValueError("checkpoint body must end with a newline")
        lines = text[:-1].split(NEWLINE)
        if len(lines) < CHECKPOINT_LINES:
            raise ValueError("checkpoint body needs origin, tree size and root hash lines")
        if len(lines) > CHECKPOINT_LINES:
            raise ValueError("checkpoint body has extension lines, which this log never writes")
        origin, size_text, root_text = lines
        if _DECIMAL.fullmatch(size_text) is None:
            raise ValueError(f"checkpoint tree size {size_text!r} is not a canonical decimal")
        root_hash = _b64decode(root_text, what="checkpoint root hash")
        return cls(origin=origin, size=int(size_text), root_hash=root_hash)


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> bytes:
    """The checkpoint as a signed note."""
    return sign_note(checkpoint.to_body(), signers)


def open_checkpoint(note: bytes, *, verifiers: Sequence[Verifier], origin: str) -> Checkpoint:
    """Verify a signed checkpoint of the log ``origin`` and return its contents.

    Raises :class:`VerificationError` if the note does not verify (see :func:`open_note`), if
    its body is not a checkpoint, or if it names another origin.
    """
    text, _names = open_note(note, verifiers)
    try:
        checkpoint = Checkpoint.from_body(text)
    except ValueError as exc:
        raise VerificationError(f"signed note is not a checkpoint: {exc}") from None
    if checkpoint.origin != origin:
        raise VerificationError(f"checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, *, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, canonical trailing bits."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError(f"{what} is not valid base64") from None
    if _b64encode(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    return data


def _split_key_string(text: str, *, what: str) -> tuple[str, str, str]:
    name, plus, rest = text.partition("+")
    id_hex, plus_again, key = rest.partition("+")
    if not (plus and plus_again):
        raise ValueError(f"{what} must have the form <name>+<key ID hex>+<base64 key>")
    validate_key_name(name)
    if _KEY_ID_HEX.fullmatch(id_hex) is None:
        raise ValueError(f"{what} hash must be 8 lowercase hex digits")
    return name, id_hex, key


def _decode_typed_key(encoded: str, *, what: str, size: int) -> bytes:
    data = _b64decode(encoded, what=what)
    if not data:
        raise ValueError(f"{what} has no key data")
    if data[0] != SIGNATURE_TYPE_ED25519:
        raise ValueError(f"{what} has signature type 0x{data[0]:02x}; only Ed25519 (0x01) is known")
    if len(data) != 1 + size:
        raise ValueError(f"{what} holds {len(data) - 1} key bytes, not {size}")
    return data[1:]


def _check_note_characters(data: bytes, *, what: str) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 (byte {exc.start})") from None
    for position, char in enumerate(text):
        if ord(char) < 0x20 and char != NEWLINE:
            raise ValueError(f"{what} has control character {char!r} at character {position}")
