"""Licence tokens: what an ``allow`` or ``conditional`` decision grants, signed by the ledger's
key as a C2SP signed note, so a licensee can show it to anyone who holds the published key
(docs/lifecycle-tokens.md describes the format byte by byte).

The note's text is two lines::

    consentry/licence-token/v1\\n
    <the claims: one JSON object, RFC 8785 canonical>\\n

followed, as in every signed note, by a blank line and the signature line(s) of the ledger's key
(the checkpoints' key, its name and key ID). The first line tells a token from a checkpoint:
a checkpoint's second line is a decimal tree size, a token's is a JSON object, so no reader of
checkpoints, strict or lenient, takes one for the other although the same key signs both.

This module is pure (no Django): the service signs with it, and the offline verifier
(``python -m ledger.verify token``) checks with it. :func:`verify_token` turns a token's text
into its verified :class:`TokenClaims`, raising :class:`TokenSignatureError` (not signed by a
given key, or altered) or :class:`MalformedToken` (not a token, or its claims are not well
formed); :func:`check_token_receipt` checks that a receipt proves the entries the token names;
:func:`judge_later_entries` reads the log's answer to "what happened since" (online mode);
:func:`c2pa_assertion` is the assertion a licensee embeds in a C2PA manifest.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.canonical import Entry, decode_entry, decode_json, encode_json, parse_time
from ledger.exceptions import VerificationError
from ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ledger.note import Signer, Verifier, open_note, parse_note, sign_note
from ledger.verify.client import open_log_checkpoint
from ledger.verify.receipt import verify_receipt

TOKEN_HEADER: Final = "consentry/licence-token/v1"  # noqa: S105 - a format name
"""The note text's first line: the format and its version."""

TOKEN_VERSION: Final = 1
"""The claims' ``v`` member."""

LICENSED_OUTCOMES: Final = ("allow", "conditional")
"""The outcomes a token is issued for."""

C2PA_LABEL: Final = "org.consentry.licence"
"""The label of the C2PA assertion carrying a token (C2PA's entity-specific namespace)."""

MAX_TOKEN_BYTES: Final = 1 << 20
"""A token longer than this is refused unread (a decision names at most a few works)."""

CLAIM_MEMBERS: Final = frozenset(
    {
        "v",
        "log",
        "decision",
        "request",
        "item",
        "licensee",
        "use",
        "commercial",
        "outcome",
        "code",
        "decided_at",
        "at",
        "period",
        "territories",
        "works",
        "artists",
        "obligations",
        "rule_versions",
        "matrix_version",
        "entry",
        "settlement",
    }
)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TERRITORY = re.compile(r"[A-Z]{2}")
_WORK_MEMBERS = frozenset({"id", "kind", "title", "isrc", "iswc"})


class TokenError(VerificationError):
    """A licence token did not verify; the subclasses say how."""


class TokenSignatureError(TokenError):
    """The token is not signed by any of the given keys, or its text or signature changed."""


class MalformedToken(TokenError):
    """The input is not a licence token, or its claims are not well formed."""


class TokenWithdrawn(TokenError):
    """Online: a rule the grant rests on was withdrawn, or no longer allows this use."""


class TokenSuperseded(TokenError):
    """Online: a rule the grant rests on has a later version, or the decision was superseded."""


@dataclass(frozen=True)
class EntryRef:
    """A ledger entry the token names: its index and leaf hash."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class TokenClaims:
    """A verified token's claims (``document`` holds them all as signed, for display)."""

    document: Mapping[str, Any]
    signed_by: tuple[str, ...]

    @property
    def log(self) -> str:
        return str(self.document["log"])

    @property
    def decision(self) -> str:
        return str(self.document["decision"])

    @property
    def licensee(self) -> str:
        return str(self.document["licensee"]["id"])

    @property
    def use(self) -> str:
        return str(self.document["use"])

    @property
    def outcome(self) -> str:
        return str(self.document["outcome"])

    @property
    def rule_versions(self) -> list[tuple[str, int]]:
        return [(str(r["rule"]), int(r["version"])) for r in self.document["rule_versions"]]

    @property
    def entry(self) -> EntryRef:
        return _entry_ref(self.document["entry"])

    @property
    def settlement(self) -> EntryRef | None:
        settled = self.document["settlement"]
        return None if settled is None else _entry_ref(settled)

    @property
    def final_entry(self) -> EntryRef:
        """The entry that made the outcome final: the settlement, else the decision's."""
        return self.settlement or self.entry

    def summary(self) -> str:
        works = (
            ", ".join(w["isrc"] or w["iswc"] or w["id"] for w in self.document["works"])
            or "no work"
        )
        territories = ", ".join(self.document["territories"]) or "worldwide"
        return (
            f"licence token for decision {self.decision}: {self.outcome} {self.use} to "
            f"{self.document['licensee']['name']} ({self.licensee}); works: {works}; "
            f"territories: {territories}; ledger entry {self.final_entry.index} of "
            f"{self.log}; signed by {', '.join(self.signed_by)}"
        )


def _entry_ref(value: Mapping[str, Any]) -> EntryRef:
    return EntryRef(index=int(value["index"]), leaf_hash=base64.b64decode(value["leaf_hash"]))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def token_text(claims: Mapping[str, Any]) -> bytes:
    """The note text of ``claims`` (checked as :func:`verify_token` checks them)."""
    check_claims(claims)
    return f"{TOKEN_HEADER}\n".encode() + encode_json(dict(claims)) + b"\n"


def sign_token(claims: Mapping[str, Any], signer: Signer) -> str:
    """The token: the claims' note text signed by ``signer`` (the ledger's key)."""
    if claims.get("log") == TOKEN_HEADER:
        raise ValueError("a log's origin cannot be the token header")
    return sign_note(token_text(claims), [signer]).decode("utf-8")


# --------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------


def verify_token(text: str | bytes, keys: Verifier | Sequence[Verifier]) -> TokenClaims:
    """Verify a token's signature with ``keys`` (the log's published verifier keys) and its
    claims' form; return the claims.

    Raises :class:`MalformedToken` if ``text`` is not a signed note of this format or its
    claims are not well formed, :class:`TokenSignatureError` if no given key signed it or a
    signature by a given key does not verify (the text or the signature changed).
    """
    verifiers = [keys] if isinstance(keys, Verifier) else list(keys)
    if not verifiers:
        raise ValueError("at least one verifier key is needed")
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > MAX_TOKEN_BYTES:
        raise MalformedToken(f"token: {len(data)} bytes, more than {MAX_TOKEN_BYTES}")
    try:
        parsed = parse_note(data)
    except ValueError as exc:
        raise MalformedToken(f"token: not a signed note: {exc}") from None
    document = _read_text(parsed.text)
    try:
        body, _names = open_note(data, verifiers)
    except VerificationError as exc:
        keys_named = ", ".join(v.key_string.rsplit("+", 1)[0] for v in verifiers)
        raise TokenSignatureError(
            f"token: signature does not verify with key {keys_named}: {exc}"
        ) from None
    known = {(v.name, v.key_id) for v in verifiers}
    signed_by = tuple(
        dict.fromkeys(
            f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures if (s.name, s.key_id) in known
        )
    )
    if body != parsed.text:  # one note, one text: open_note parsed the same bytes
        raise MalformedToken("token: the signed text is not the text read")
    return TokenClaims(document=document, signed_by=signed_by)


def _read_text(text: bytes) -> dict[str, Any]:
    header = f"{TOKEN_HEADER}\n".encode()
    if not text.startswith(header):
        first = text.split(b"\n", 1)[0][:80].decode("utf-8", "replace")
        raise MalformedToken(f"token: the first line is {first!r}, not {TOKEN_HEADER!r}")
    rest = text[len(header) :]
    if rest.count(b"\n") != 1:
        raise MalformedToken("token: the text must be the header line and one line of claims")
    claims_bytes = rest[:-1]
    try:
        document, canonical = decode_json(claims_bytes)
    except (ValueError, RecursionError):
        raise MalformedToken("token: the claims line is not JSON") from None
    if not canonical:
        raise MalformedToken("token: the claims are not RFC 8785 canonical JSON")
    try:
        check_claims(document)
    except ValueError as exc:
        raise MalformedToken(f"token: {exc}") from None
    return dict(document)


def check_claims(document: object) -> None:
    """Raise ``ValueError`` naming the first member that is not as docs/lifecycle-tokens.md
    says."""
    if not isinstance(document, Mapping):
        raise ValueError("the claims are not a JSON object")
    members = set(document)
    if members != CLAIM_MEMBERS:
        missing, extra = sorted(CLAIM_MEMBERS - members), sorted(members - CLAIM_MEMBERS)
        raise ValueError(f"claims members: missing {missing}, unknown {extra}")
    d = document
    _require(type(d["v"]) is int and d["v"] == TOKEN_VERSION, "v", f"must be {TOKEN_VERSION}")
    _require(_text(d["log"]), "log", "must be the log's origin")
    for name in ("decision", "request"):
        _require(_uuid(d[name]), name, "must be a lowercase UUID")
    _require(type(d["item"]) is int and d["item"] >= 0, "item", "must be a position")
    licensee = d["licensee"]
    _require(
        isinstance(licensee, Mapping)
        and set(licensee) == {"id", "name"}
        and _uuid(licensee["id"])
        and isinstance(licensee["name"], str),
        "licensee",
        "must be {id, name}",
    )
    _require(_text(d["use"]), "use", "must be a use")
    _require(type(d["commercial"]) is bool, "commercial", "must be true or false")
    _require(d["outcome"] in LICENSED_OUTCOMES, "outcome", "must be allow or conditional")
    _require(_text(d["code"]), "code", "must be the decision's code")
    _require(_time(d["decided_at"]), "decided_at", "must be a time")
    _require(_time(d["at"]), "at", "must be a time")
    period = d["period"]
    _require(
        period is None
        or (
            isinstance(period, Mapping)
            and set(period) == {"start", "end"}
            and _time(period["start"])
            and (period["end"] is None or _time(period["end"]))
        ),
        "period",
        "must be null or {start, end}",
    )
    territories = d["territories"]
    _require(
        isinstance(territories, list)
        and all(isinstance(t, str) and _TERRITORY.fullmatch(t) for t in territories)
        and territories == sorted(set(territories)),
        "territories",
        "must be sorted ISO 3166-1 alpha-2 codes (empty: worldwide)",
    )
    works = d["works"]
    _require(isinstance(works, list), "works", "must be a list")
    for n, work in enumerate(works):
        _require(
            isinstance(work, Mapping)
            and set(work) == _WORK_MEMBERS
            and _uuid(work["id"])
            and _text(work["kind"])
            and isinstance(work["title"], str)
            and all(work[k] is None or _text(work[k]) for k in ("isrc", "iswc")),
            f"works[{n}]",
            "must be {id, kind, title, isrc, iswc}",
        )
    artists = d["artists"]
    _require(
        isinstance(artists, list) and all(_uuid(a) for a in artists),
        "artists",
        "must be a list of party ids",
    )
    _require(isinstance(d["obligations"], Mapping), "obligations", "must be an object")
    rules = d["rule_versions"]
    _require(
        isinstance(rules, list)
        and all(
            isinstance(r, Mapping)
            and set(r) == {"rule", "version"}
            and _uuid(r["rule"])
            and type(r["version"]) is int
            and r["version"] >= 1
            for r in rules
        ),
        "rule_versions",
        "must be a list of {rule, version}",
    )
    matrix = d["matrix_version"]
    _require(matrix is None or type(matrix) is int, "matrix_version", "must be an integer")
    _require(_entry(d["entry"]), "entry", "must be {index, leaf_hash}")
    settlement = d["settlement"]
    _require(
        settlement is None or (_entry(settlement) and settlement["index"] > d["entry"]["index"]),
        "settlement",
        "must be null or {index, leaf_hash} after entry",
    )


def _require(ok: object, member: str, reason: str) -> None:
    if not ok:
        raise ValueError(f"claims member {member!r} {reason}")


def _text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200


def _uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def _entry(value: object) -> bool:
    if not isinstance(value, Mapping) or set(value) != {"index", "leaf_hash"}:
        return False
    index, leaf = value["index"], value["leaf_hash"]
    if type(index) is not int or index < 0 or not isinstance(leaf, str):
        return False
    try:
        raw = binascii.a2b_base64(leaf, strict_mode=True)
    except ValueError:
        return False
    return len(raw) == HASH_SIZE and base64.b64encode(raw).decode() == leaf


# --------------------------------------------------------------------------------------------
# The receipt
# --------------------------------------------------------------------------------------------


def check_token_receipt(
    claims: TokenClaims, receipt: Mapping[str, Any], keys: Sequence[Verifier]
) -> str:
    """Check that ``receipt`` (``GET /api/v1/decisions/<id>/receipt/``) verifies and proves the
    entries ``claims`` names, and that those entries say what the token says (decision,
    licensee, use, outcome); return the receipt's summary. Raises :class:`TokenError`."""
    try:
        result = verify_receipt(receipt, keys, origin=claims.log)
    except VerificationError as exc:
        raise TokenError(f"receipt: {exc}") from None
    final = claims.final_entry
    _same_entry(result.index, receipt, final, what="the receipt")
    settlement = claims.settlement
    if settlement is None:
        _agrees(claims, result.entry, kind="decision")
    else:
        inner = receipt.get("supersedes")
        if not isinstance(inner, Mapping):
            raise TokenError("receipt: the token names a settlement; the receipt has no "
                             "'supersedes' receipt of the decision entry")  # fmt: skip
        try:
            inner_result = verify_receipt(inner, keys, origin=claims.log)
        except VerificationError as exc:
            raise TokenError(f"receipt (supersedes): {exc}") from None
        _same_entry(inner_result.index, inner, claims.entry, what="the receipt's supersedes")
        _agrees(claims, inner_result.entry, kind="decision", outcome=False)
        _agrees(claims, result.entry, kind="decision_settled")
        if result.entry.payload.get("supersedes") != claims.entry.leaf_hash.hex():
            raise TokenError("receipt: the settlement does not supersede the token's decision")
    return result.summary


def _same_entry(index: int, receipt: Mapping[str, Any], ref: EntryRef, *, what: str) -> None:
    if index != ref.index:
        raise TokenError(f"receipt: {what} proves entry {index}, the token names {ref.index}")
    raw = receipt.get("entry")
    if not isinstance(raw, str) or leaf_hash(base64.b64decode(raw)) != ref.leaf_hash:
        raise TokenError(f"receipt: {what}'s entry {index} is not the entry the token names")


def _agrees(claims: TokenClaims, entry: Entry, *, kind: str, outcome: bool = True) -> None:
    if entry.kind != kind:
        raise TokenError(f"receipt: entry is a {entry.kind!r}, not a {kind!r}")
    payload, d = entry.payload, claims.document
    if payload.get("decision") != d["decision"]:
        raise TokenError("receipt: the entry is about another decision")
    checks = {"request": d["request"]}
    if kind == "decision":
        checks |= {"licensee": d["licensee"]["id"], "use": d["use"], "item": d["item"]}
    if outcome:
        checks["outcome"] = d["outcome"]
    for member, value in checks.items():
        if payload.get(member) != value:
            raise TokenError(
                f"receipt: the entry's {member} is {payload.get(member)!r}, the token's {value!r}"
            )


# --------------------------------------------------------------------------------------------
# Online: what the log says happened since
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Later:
    """One later entry that bears on the token, proved in the log."""

    index: int
    kind: str
    verdict: str  # "withdrawn", "superseded" or "noted"
    reason: str


@dataclass(frozen=True)
class LaterResult:
    """The log's answer, verified: the checkpoint it was proved against and what it found."""

    tree_size: int
    complete: bool
    found: tuple[Later, ...]

    @property
    def verdict(self) -> str:
        verdicts = {f.verdict for f in self.found}
        for verdict in ("withdrawn", "superseded"):
            if verdict in verdicts:
                return verdict
        return "in force"


def later_entries_query(claims: TokenClaims) -> dict[str, Any]:
    """The query of ``GET /ledger/later-entries`` for ``claims``."""
    return {
        "after": claims.entry.index,
        "decision": claims.decision,
        "rule": sorted({r for r, _ in claims.rule_versions}),
    }


def judge_later_entries(
    claims: TokenClaims, answer: Mapping[str, Any], keys: Sequence[Verifier]
) -> LaterResult:
    """Verify the log's answer to :func:`later_entries_query` (a signed checkpoint of the log,
    each entry's inclusion in it) and judge what it found: a withdrawal of a cited rule, or a
    later version that no longer allows the token's use, is ``withdrawn``; a later version that
    may still allow it (its licensee list is committed), or an entry that supersedes the
    decision's entry, ``superseded``; anything else naming the decision is ``noted``.

    The entries found are proved; that nothing else exists rests on the log's word (the
    log's full verification, ``python -m ledger.verify --url``, checks every entry)."""
    note = answer.get("checkpoint")
    if not isinstance(note, str):
        raise VerificationError("later entries: the answer has no 'checkpoint'")
    checkpoint, _ = open_log_checkpoint(note.encode("utf-8"), keys, origin=claims.log)
    size = answer.get("tree_size")
    if type(size) is not int or size != checkpoint.size:
        raise VerificationError("later entries: 'tree_size' is not the checkpoint's size")
    if size <= claims.final_entry.index:
        raise VerificationError(
            f"later entries: the checkpoint of size {size} does not cover the token's entry"
        )
    if answer.get("after") != claims.entry.index:
        raise VerificationError("later entries: the answer is for another 'after'")
    complete = answer.get("complete")
    if type(complete) is not bool:
        raise VerificationError("later entries: 'complete' must be true or false")
    entries = answer.get("entries")
    if not isinstance(entries, list):
        raise VerificationError("later entries: the answer has no 'entries' list")
    cited = dict(claims.rule_versions)
    mine = {claims.entry.leaf_hash.hex()}
    if claims.settlement is not None:
        mine.add(claims.settlement.leaf_hash.hex())
    found: list[Later] = []
    for n, item in enumerate(entries):
        if not isinstance(item, Mapping):
            raise VerificationError(f"later entries: entry {n} is not an object")
        index = item.get("index")
        if type(index) is not int or not claims.entry.index < index < size:
            raise VerificationError(f"later entries: entry {n} has an index outside the answer")
        data = _b64(item.get("data"), what=f"later entry {index}")
        proof_values = item.get("inclusion_proof")
        if not isinstance(proof_values, list):
            raise VerificationError(f"later entry {index}: no inclusion proof")
        proof = [_b64(p, what=f"later entry {index}: proof hash") for p in proof_values]
        leaf = leaf_hash(data)
        verify_inclusion(
            index=index, size=size, leaf_hash=leaf, proof=proof, root=checkpoint.root_hash
        )
        try:
            entry = decode_entry(data)
        except ValueError as exc:
            raise VerificationError(f"later entry {index}: not canonical: {exc}") from None
        if leaf.hex() in mine:
            continue  # the token's own settlement
        judged = _judge(claims, entry, cited, mine)
        if judged is not None:
            found.append(Later(index, entry.kind, *judged))
    return LaterResult(tree_size=size, complete=complete, found=tuple(found))


def _judge(
    claims: TokenClaims, entry: Entry, cited: Mapping[str, int], mine: set[str]
) -> tuple[str, str] | None:
    payload = entry.payload
    rule = payload.get("rule")
    if isinstance(rule, str) and rule in cited:
        if entry.kind == "consent_rule_withdrawn":
            return "withdrawn", f"rule {rule} was withdrawn (its version {payload.get('version')})"
        version = payload.get("version")
        if entry.kind == "consent_rule" and type(version) is int and version > cited[rule]:
            uses = payload.get("uses")
            allows = payload.get("effect") in LICENSED_OUTCOMES and (
                isinstance(uses, list) and claims.use in uses
            )
            if not allows:
                return "withdrawn", (
                    f"rule {rule} version {version} (the token cites {cited[rule]}) no longer "
                    f"allows {claims.use}: effect {payload.get('effect')!r}, uses {uses!r}"
                )
            return "superseded", (
                f"rule {rule} has version {version} (the token cites {cited[rule]}); it may "
                "still allow this use (its licensee list is committed: ask the holder)"
            )
    if payload.get("decision") == claims.decision:
        if payload.get("supersedes") in mine:
            return "superseded", f"a {entry.kind} entry supersedes the decision's outcome"
        return "noted", f"a {entry.kind} entry names the decision"
    return None


def _b64(value: object, *, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        raise VerificationError(f"{what} is not valid base64") from None


# --------------------------------------------------------------------------------------------
# C2PA
# --------------------------------------------------------------------------------------------


def c2pa_assertion(token: str, claims: TokenClaims, *, vkey: str) -> dict[str, Any]:
    """The assertion a licensee adds to the C2PA manifest of an output made under the token
    (an entry of a manifest definition's ``assertions``, as c2patool and the C2PA SDKs take
    it): the token verbatim, with the few claims a reader wants before verifying it."""
    d = claims.document
    return {
        "label": C2PA_LABEL,
        "data": {
            "version": TOKEN_VERSION,
            "token": token,
            "log": claims.log,
            "vkey": vkey,
            "decision": claims.decision,
            "licensee": d["licensee"]["name"],
            "use": claims.use,
            "outcome": claims.outcome,
            "works": [
                {k: w[k] for k in ("isrc", "iswc", "title") if w[k] is not None} for w in d["works"]
            ],
            "ledger_entry": claims.final_entry.index,
            "verify": "python -m ledger.verify token FILE --vkey VKEY",
        },
    }
