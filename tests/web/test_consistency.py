"""Consistency in the browser (web/static/web/merkle.js, RFC 9162 §2.1.4.2), in Chromium: the
script's verdict on the consistency proofs the project's Python makes (ledger/merkle_proofs.py)
is ledger/merkle.py's, for every pair of sizes of a small tree, sizes around powers of two and
beyond 2^32, sizes 0 and equal sizes, and each proof with one byte of one hash changed; the
proofs the script builds are the Python ones. The page remembers the last checkpoint it verified
with a key and shows that the log only grew; a server that forks, rewrites or shrinks its log is
caught with the reason, and an older checkpoint pasted by the auditor is compared too."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from ledger import merkle, merkle_proofs, note, selectors, services
from ledger.exceptions import VerificationError
from ledger.models import Checkpoint
from tests.web.conftest import screenshot
from tests.web.test_explorer_browser import check_checkpoint, set_key
from tests.web.test_explorer_pages import append, sign, unique_type
from tests.web.test_french import switch_to_french

VERIFY_ALL = """
const cases = arguments[0], done = arguments[arguments.length - 1];
const M = globalThis.ConsentryMerkle;
const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
(async () => {
  const verdicts = [];
  for (const c of cases) {
    try {
      await M.verifyConsistency(c.m, c.n, bytes(c.old), bytes(c.new), c.proof.map(bytes));
      verdicts.push("ok");
    } catch (e) {
      verdicts.push(e instanceof M.ConsistencyError ? e.reason : `error ${e}`);
    }
  }
  done(verdicts);
})().catch((e) => done(`error ${e}`));
"""

BUILD_ALL = """
const leaves = arguments[0], pairs = arguments[1], done = arguments[arguments.length - 1];
const M = globalThis.ConsentryMerkle;
const bytes = (hex) => Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const leafHashes = leaves.map(bytes);
async function mth(a, b) {                 // RFC 6962's MTH(D[a:b]) from the leaf hashes
  if (b - a === 1) return leafHashes[a];
  const k = M.largestPowerBelow(b - a);
  return M.nodeHash(await mth(a, a + k), await mth(a + k, b));
}
(async () => {
  const proofs = [];
  for (const [m, n] of pairs) proofs.push((await M.consistencyProof(m, n, mth)).map(hex));
  done(proofs);
})().catch((e) => done(`error ${e}`));
"""


def python_verdict(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> str:
    try:
        merkle.verify_consistency(first=m, second=n, first_root=old, second_root=new, proof=proof)
    except VerificationError as error:
        return f"fails: {error}"
    return "ok"


def case(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> dict[str, Any]:
    return {"m": m, "n": n, "old": old.hex(), "new": new.hex(), "proof": [h.hex() for h in proof]}


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def run(page: WebDriver, cases: list[dict[str, Any]]) -> list[str]:
    verdicts = page.execute_async_script(VERIFY_ALL, cases)
    assert isinstance(verdicts, list), verdicts
    return [str(v) for v in verdicts]


class Tree:
    """A tree whose subtree hashes the test can compute: ``leaves`` given, or a tree of up to
    2^53 entries whose leaves are all the same but the 1,000 from ``distinct`` on (a perfect
    subtree of the same leaves costs no hashing: one precomputed hash a level)."""

    def __init__(self, leaves: list[bytes] | None = None, *, distinct: int = 0) -> None:
        self.leaves = leaves
        self.distinct = range(distinct, distinct + 1000)
        self.same = [merkle.leaf_hash(b"the same")]
        for _ in range(60):
            self.same.append(merkle.node_hash(self.same[-1], self.same[-1]))

    @functools.cache  # noqa: B019 (a few trees, each alive for one test)
    def perfect(self, level: int, index: int) -> bytes:
        start, end = index << level, (index + 1) << level
        if self.leaves is not None:
            return merkle.root_from_leaf_hashes(self.leaves[start:end])
        if end <= self.distinct.start or start >= self.distinct.stop:
            return self.same[level]
        if level == 0:
            return merkle.leaf_hash(str(index).encode())
        left, right = self.perfect(level - 1, 2 * index), self.perfect(level - 1, 2 * index + 1)
        return merkle.node_hash(left, right)

    def mth(self, start: int, end: int) -> bytes:
        return merkle_proofs.subtree_hash_from_perfect(
            start=start, end=end, perfect_hash=self.perfect
        )

    def root(self, size: int) -> bytes:
        return merkle.empty_root() if size == 0 else self.mth(0, size)

    def proof(self, m: int, n: int) -> list[bytes]:
        return merkle_proofs.consistency_proof(m, n, self.mth)


def cases_of(tree: Tree, pairs: list[tuple[int, int]]) -> list[tuple[dict[str, Any], str]]:
    """Each pair's honest case (expected ``ok``), then each hash of its proof and each root with
    one byte changed, a hash too many and one too few, with the reason expected (``any``: a
    failure whichever check catches it first)."""
    out = []
    for m, n in pairs:
        old, new, proof = tree.root(m), tree.root(n), tree.proof(m, n)
        out.append((case(m, n, old, new, proof), "ok"))
        for j in range(len(proof)):
            changed = [*proof[:j], flipped(proof[j], (7 * j + m) % 32), *proof[j + 1 :]]
            out.append((case(m, n, old, new, changed), "any"))
        changed_old = "forked" if m == n else "empty_root" if m == 0 else "any"
        out.append((case(m, n, flipped(old, n % 32), new, proof), changed_old))
        if m > 0:  # from size 0 the new root is not looked at: any tree extends the empty one
            out.append(
                (case(m, n, old, flipped(new, m % 32), proof), "forked" if m == n else "any")
            )
        out.append((case(m, n, old, new, [*proof, new]), "proof_length"))
        if proof:
            out.append((case(m, n, old, new, proof[:-1]), "proof_length"))
    return out


def test_the_browsers_consistency_check_is_the_rfcs_on_the_projects_proofs(
    page: WebDriver, live_server: Any
) -> None:
    page.get(f"{live_server.url}/verify/")
    page.set_script_timeout(300)
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(300)]
    small = Tree(leaves)

    # Every pair up to 33 entries (m = 0, m = n, m a power of two among them).
    pairs = [(m, n) for n in range(34) for m in range(n + 1)]
    # Around powers of two in a tree of 300.
    edges = [0, 1, 2, 3, 63, 64, 65, 127, 128, 129, 255, 256, 257, 299]
    pairs += [(m, n) for n in (64, 65, 128, 200, 256, 257, 300) for m in edges if m <= n]
    cases = cases_of(small, pairs)
    # Beyond 2^32 and up to 2^53 entries: no 32-bit arithmetic cuts a size short.
    for distinct, ends in (
        (2**32 - 500, (2**32, 2**32 + 1, 2**32 + 77)),
        (2**53 - 600, (2**53 - 300, 2**53 - 1)),
    ):
        big = Tree(distinct=distinct)
        sizes = [1, 5, 2**31 + 3, 2**32 - 1, 2**32, 2**52 + 3, distinct + 1, *ends]
        cases += cases_of(big, [(m, n) for n in ends for m in sizes if m <= n])
    assert 2**53 - 1 == 9007199254740991  # Number.MAX_SAFE_INTEGER: the largest size tried
    # A smaller second tree; a proof from 0 or between equal sizes that is not empty.
    root = small.root(5)
    cases += [
        (case(6, 5, small.root(6), root, []), "shrank"),
        (case(0, 5, merkle.empty_root(), root, [root]), "proof_length"),
        (case(5, 5, root, root, [root]), "proof_length"),
        (case(5, 6, root, small.root(6), [*small.proof(5, 6)[:-1], b"\x00" * 31]), "hash_size"),
    ]

    verdicts = run(page, [c for c, _ in cases])
    assert len(verdicts) == len(cases) > 5000
    wrong = []
    for (c, expected), verdict in zip(cases, verdicts, strict=True):
        proof = [bytes.fromhex(h) for h in c["proof"]]
        python = python_verdict(
            c["m"], c["n"], bytes.fromhex(c["old"]), bytes.fromhex(c["new"]), proof
        )
        agrees = (verdict == "ok") == (python == "ok")
        as_expected = verdict == expected or (expected == "any" and verdict in FAILURES)
        if not (agrees and as_expected):
            wrong.append((c["m"], c["n"], expected, verdict, python))
    assert wrong == []

    # The proofs the script builds (from the tiles, on the page) are the project's.
    built = page.execute_async_script(
        BUILD_ALL, [h.hex() for h in leaves], [[m, n] for m, n in pairs]
    )
    assert built == [[h.hex() for h in small.proof(m, n)] for m, n in pairs]


FAILURES = ("shrank", "forked", "empty_root", "hash_size", "proof_length", "old_root", "new_root")


def verify_latest(
    page: WebDriver, *, note_text: str = "", older: str = "", tiles: bool = True
) -> tuple[str, str]:
    """The checkpoint form: ``note_text`` (else the server's latest), ``older`` to compare
    with, the root from the tiles or not; verified, and the outcome and what it says."""
    for field, value in (("note", note_text), ("older", older)):
        page.execute_script(
            "arguments[0].value = arguments[1]", page.find_element(By.ID, field), value
        )
    box = page.find_element(By.ID, "tiles")
    if box.is_selected() != tiles:
        box.click()
    return check_checkpoint(page)


def forked(size: int) -> Checkpoint:
    """A checkpoint of ``size`` entries whose root is not the ledger's, signed by the ledger's
    key: what a server that forked (or rewrote) its log would serve."""
    real = Checkpoint.objects.get(size=size)
    origin = real.note.split("\n", 1)[0]
    root = hashlib.sha256(f"a fork at {size}".encode()).digest()
    body = note.Checkpoint(origin=origin, size=size, root_hash=root)
    text = note.sign_checkpoint(body, [services.current_signer()]).decode()
    return Checkpoint(size=size, root_hash=root, note=text, key_name=real.key_name)


def test_the_page_remembers_the_checkpoint_and_catches_a_fork_a_rewrite_and_a_shrink(
    page: WebDriver, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = unique_type()
    append(kind, 5)
    first = sign()
    first_note = Checkpoint.objects.get(size=first).note
    first_root = bytes(Checkpoint.objects.get(size=first).root_hash).hex()
    vkey = services.current_signer().verifier().key_string
    page.get(f"{live_server.url}/verify/")
    set_key(page, vkey)

    # The first verification in this browser: nothing to compare with yet; remembered.
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert text.splitlines()[-1].startswith(
        "No earlier checkpoint of this log was verified with your key in this browser"
    )
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert text.splitlines()[-1] == (
        f"The same tree as the checkpoint this browser verified earlier ({first} entries, the "
        "same root hash)."
    )

    # The log grows past a tile's edge: the proof from the tiles and the server's both verify.
    append(kind, 300)
    second = sign()
    second_root = bytes(Checkpoint.objects.get(size=second).root_hash).hex()
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert text.splitlines()[-1] == (
        f"The log only grew: the checkpoint this browser verified earlier ({first} entries, root "
        f"hash {first_root}) is the start of the tree of {second} entries (consistency proof "
        "from the ledger's tiles, the ledger's consistency proof endpoint)."
    )
    screenshot(page, "verify-consistency-grew")
    # An older checkpoint pasted by the auditor: compared too.
    outcome, text = verify_latest(page, older=first_note)
    assert outcome == "yes", text
    assert (
        f"The log only grew: the older checkpoint you pasted ({first} entries, root hash "
        f"{first_root}) is the start of the tree of {second} entries" in text
    )

    # The server forks: another root for the remembered size, signed by the same key.
    fork = forked(second)
    monkeypatch.setattr(selectors, "latest_checkpoint", lambda: fork)
    outcome, text = verify_latest(page, tiles=False)
    assert outcome == "no"
    assert text.splitlines()[-1] == (
        "The log forked or was rewritten: the checkpoint this browser verified earlier has "
        f"{second} entries too, but the root hash {second_root}, and this one "
        f"{bytes(fork.root_hash).hex()}."
    )
    screenshot(page, "verify-consistency-forked")
    # It serves an older checkpoint as its latest: the log shrank.
    older = Checkpoint.objects.get(size=first)
    monkeypatch.setattr(selectors, "latest_checkpoint", lambda: older)
    outcome, text = verify_latest(page)
    assert (outcome, text.splitlines()[-1]) == (
        "no", f"The log shrank: the checkpoint this browser verified earlier has {second} "
        f"entries, this one only {first}."
    )  # fmt: skip
    # It grows, but signs a root that does not extend the remembered tree (history rewritten):
    # the server's own consistency proof does not reach that root.
    append(kind, 3)
    third = sign()
    rewritten = forked(third)
    monkeypatch.setattr(selectors, "latest_checkpoint", lambda: rewritten)
    outcome, text = verify_latest(page, tiles=False)
    assert (outcome, text.splitlines()[-1]) == (
        "no", "The log is not shown to have only grown since the checkpoint this browser "
        f"verified earlier: the consistency proof from {second} to {third} entries (the "
        "ledger's consistency proof endpoint) does not lead to the newer root hash. The log "
        "forked or was rewritten, or the proof was changed."
    )  # fmt: skip
    # Its consistency proof changed by one byte, for the real checkpoint.
    monkeypatch.undo()
    real_proof = selectors.consistency_proof

    def changed_proof(*, first: int, second: int) -> list[bytes]:
        hashes = real_proof(first=first, second=second)
        return [flipped(hashes[0], 3), *hashes[1:]]

    monkeypatch.setattr(selectors, "consistency_proof", changed_proof)
    outcome, text = verify_latest(page, tiles=False)
    assert outcome == "no"
    assert (
        f"the consistency proof from {second} to {third} entries (the ledger's consistency " in text
    )
    assert "does not lead to the older root hash" in text or "does not lead to the newer" in text

    # None of the failures moved the remembered checkpoint: the honest log still verifies
    # from it, and then from the new one.
    monkeypatch.undo()
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert (
        f"({second} entries, root hash {second_root}) is the start of the tree of {third}" in text
    )
    # An older checkpoint pasted to check: it is the start of the remembered tree, which stays.
    outcome, text = verify_latest(page, note_text=first_note)
    assert outcome == "yes", text
    assert text.splitlines()[-1] == (
        f"The log only grew: this checkpoint ({first} entries, root hash {first_root}) is the "
        f"start of the tree of {third} entries (consistency proof from the ledger's tiles, the "
        "ledger's consistency proof endpoint). The larger checkpoint stays remembered."
    )
    outcome, text = verify_latest(page)
    assert text.splitlines()[-1].startswith("The same tree as the checkpoint this browser verified")


def test_an_older_checkpoint_signed_by_another_key_or_of_another_log_fails(
    page: WebDriver, live_server: Any
) -> None:
    append(unique_type(), 2)
    size = sign()
    real = Checkpoint.objects.get(size=size)
    origin = real.note.split("\n", 1)[0]
    page.get(f"{live_server.url}/verify/")
    set_key(page, services.current_signer().verifier().key_string)

    # The same log's name, another key: not the auditor's key; nothing compared.
    theirs = note.Signer(
        name=services.current_signer().name, private_key=Ed25519PrivateKey.generate()
    )
    other = note.sign_checkpoint(
        note.Checkpoint(origin=origin, size=1, root_hash=bytes(32)), [theirs]
    )
    outcome, text = verify_latest(page, older=other.decode())
    assert outcome == "no"
    assert text.splitlines()[-1].startswith(
        "The older checkpoint you pasted is not verified: No signature by your key "
    )
    assert f"signed by {theirs.name}+{theirs.key_id.hex()}" in text
    screenshot(page, "verify-consistency-other-key")
    # Signed by the key, but of another log.
    elsewhere = note.Checkpoint(origin="elsewhere.example/log", size=1, root_hash=bytes(32))
    mine = note.sign_checkpoint(elsewhere, [services.current_signer()]).decode()
    outcome, text = verify_latest(page, older=mine)
    assert (outcome, text.splitlines()[-1]) == (
        "no", f"The older checkpoint you pasted is of the log elsewhere.example/log, not {origin}."
    )  # fmt: skip
    # Neither failure remembered anything: the next verification is the first.
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert "No earlier checkpoint of this log was verified with your key" in text

    # In French: the same checks, the reasons in French.
    switch_to_french(page)
    set_key(page, services.current_signer().verifier().key_string)
    assert page.find_element(By.CSS_SELECTOR, "label[for=older]").text == (
        "Un point de contrôle plus ancien à comparer (facultatif)"
    )
    outcome, text = verify_latest(page, older=mine)
    assert (outcome, text.splitlines()[-1]) == (
        "no", f"Le point de contrôle plus ancien que vous avez collé est celui du registre "
        f"elsewhere.example/log, pas de {origin}."
    )  # fmt: skip
    outcome, text = verify_latest(page)
    assert outcome == "yes", text
    assert text.splitlines()[-1] == (
        f"Le même arbre que le point de contrôle que ce navigateur a vérifié plus tôt ({size} "
        "entrées, le même hachage racine)."
    )
