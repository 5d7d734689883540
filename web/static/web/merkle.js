// RFC 9162 consistency proofs in the browser, with WebCrypto's SHA-256 (crypto.subtle), as
// ledger/merkle.py checks them and ledger/merkle_proofs.py makes them. Loaded before verify.js,
// which uses it (and tests/web/test_consistency.py, which checks it in Chromium against the
// project's Python proofs).
//
// Hashing (RFC 9162 §2.1.1): MTH({}) = SHA-256(), leaf = SHA-256(0x00 || d),
// node = SHA-256(0x01 || left || right). Hashes here are Uint8Arrays of 32 bytes.
//
// Sizes and indexes are plain numbers, exact below 2^53: halving with Math.floor, never with a
// 32-bit bitwise operator, so a tree beyond 2^32 entries is not truncated.
//
// A failed check throws a ConsistencyError whose `reason` says what failed:
//   "shrank"       the second tree is smaller than the first;
//   "forked"       equal sizes, different roots;
//   "empty_root"   a tree of size 0 whose root is not SHA-256 of nothing;
//   "hash_size"    a root or a proof hash is not 32 bytes;
//   "proof_length" the proof has the wrong number of hashes for the two sizes;
//   "old_root"     the proof does not reproduce the first tree's root;
//   "new_root"     the proof does not reproduce the second tree's root.
"use strict";

(function () {
  class ConsistencyError extends Error {
    constructor(reason, first, second) {
      super(`consistency ${first} -> ${second}: ${reason}`);
      this.reason = reason;
      this.first = first;
      this.second = second;
    }
  }

  const half = (n) => Math.floor(n / 2);
  const isOdd = (n) => n % 2 === 1;

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }

  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  function equal(a, b) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }

  function ones(n) {                // the number of 1 bits
    let count = 0;
    for (; n > 0; n = half(n)) count += n % 2;
    return count;
  }

  function trailingZeros(n) {       // n > 0
    let zeros = 0;
    for (; n % 2 === 0; n = half(n)) zeros += 1;
    return zeros;
  }

  function isPowerOfTwo(n) {
    return n > 0 && ones(n) === 1;
  }

  function largestPowerBelow(n) {   // the largest power of two smaller than n (n > 1)
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  // The length of PATH(index, D[size]): the bits where index and size - 1 differ, plus the
  // 1 bits of index above them (ledger/merkle.py's inclusion_proof_length).
  function inclusionProofLength(index, size) {
    let inner = 0;
    for (let a = index, b = size - 1; a !== b; a = half(a), b = half(b)) inner += 1;
    return inner + ones(Math.floor(index / 2 ** inner));
  }

  // The length of PROOF(first, D[second]) (ledger/merkle.py's consistency_proof_length).
  function consistencyProofLength(first, second) {
    if (first === 0 || first === second) return 0;
    const shift = trailingZeros(first);
    const length = inclusionProofLength(first - 1, second) - shift;
    return isPowerOfTwo(first) ? length : length + 1;
  }

  // RFC 9162 §2.1.4.2: that the tree of `second` entries with `secondRoot` extends the tree
  // of `first` entries with `firstRoot`, by `proof` (PROOF(first, D[second]), old side first).
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    const fail = (reason) => { throw new ConsistencyError(reason, first, second); };
    if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0)) {
      throw new TypeError("tree sizes are whole numbers from 0");
    }
    if (first > second) fail("shrank");
    if (firstRoot.length !== 32 || secondRoot.length !== 32) fail("hash_size");
    if (proof.length !== consistencyProofLength(first, second)) fail("proof_length");
    if (first === second) {                        // nothing to prove but the same root
      if (!equal(firstRoot, secondRoot)) fail("forked");
      return;
    }
    if (first === 0) {                             // the empty tree is a prefix of any tree
      if (!equal(firstRoot, await sha256())) fail("empty_root");
      return;
    }
    if (proof.some((h) => h.length !== 32)) fail("hash_size");
    // 1. If first is an exact power of 2, prepend first_hash (the old root) to the proof.
    const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
    // 2.-3. fn = first - 1, sn = second - 1; while fn is odd, shift both right.
    let fn = first - 1;
    let sn = second - 1;
    while (isOdd(fn)) { fn = half(fn); sn = half(sn); }
    // 4. fr and sr start from the first hash of the path.
    let fr = path[0];
    let sr = path[0];
    // 5. For each following hash c:
    for (const c of path.slice(1)) {
      if (sn === 0) fail("proof_length");          // a. more hashes than the tree has levels
      if (isOdd(fn) || fn === sn) {                // b. c is a left sibling
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {                                     // c is a right sibling, of the new tree only
        sr = await nodeHash(sr, c);
      }
      fn = half(fn); sn = half(sn);                // c. one level up
    }
    // 6. Both roots reproduced, and the path reached the top.
    if (sn !== 0) fail("proof_length");
    if (!equal(fr, firstRoot)) fail("old_root");
    if (!equal(sr, secondRoot)) fail("new_root");
  }

  // RFC 9162 §2.1.4.1's PROOF(first, D[second]), old side first, from `subtreeHash(a, b)`:
  // an async MTH(D[a:b]), asked only for a perfect aligned subtree or an aligned start to the
  // right edge of the tree (as ledger/merkle_proofs.py asks).
  async function consistencyProof(first, second, subtreeHash) {
    if (!(first >= 0 && first <= second)) throw new ConsistencyError("shrank", first, second);
    if (first === 0 || first === second) return [];
    const topDown = [];
    let start = 0;
    let end = second;
    let wholeOldTree = true;                       // SUBPROOF's flag b
    while (first - start !== end - start) {
      const split = start + largestPowerBelow(end - start);
      if (first <= split) {
        topDown.push(await subtreeHash(split, end));
        end = split;
      } else {
        topDown.push(await subtreeHash(start, split));
        start = split;
        wholeOldTree = false;
      }
    }
    if (!wholeOldTree) topDown.push(await subtreeHash(start, end));
    return topDown.reverse();
  }

  globalThis.ConsentryMerkle = Object.freeze({
    ConsistencyError, sha256, nodeHash, largestPowerBelow, isPowerOfTwo,
    inclusionProofLength, consistencyProofLength, verifyConsistency, consistencyProof,
  });
})();
