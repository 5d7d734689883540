// Verifies the ledger's signed checkpoint in the browser, trusting nothing the server says about
// it: the verifier key is the one the auditor pastes (or pinned earlier in this browser), and the
// checks are WebCrypto's (crypto.subtle: Ed25519 and SHA-256). The format is C2SP's signed note
// with a tlog-checkpoint body (docs/ledger.md, ledger/note.py):
//
//   <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key ID(4) || signature(64))>\n
//
// 1. Parse the verifier key: <name>+<key ID hex>+<base64(0x01 || 32-byte public key)>, and check
//    its key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4].
// 2. Split the note at its last blank line: the signed text (with its final newline) and the
//    signature lines.
// 3. Find the signature line of that key (name and key ID); none: the note was not signed by it.
// 4. Verify the Ed25519 signature over the text's bytes; a failure rejects the note.
// 5. Read the checkpoint body: origin, tree size (canonical decimal), 32-byte root hash.
//
// A receipt (ledger/receipts.py) is checked as `python -m ledger.verify receipt` checks it: its
// checkpoint as above (1-5), then
// 6. its tree_size is the checkpoint's;
// 7. its leaf_hash is SHA-256(0x00 || entry);
// 8. its inclusion proof leads from that leaf to the checkpoint's root (RFC 9162 §2.1.3.2,
//    nodes hashed as SHA-256(0x01 || left || right)).
//
// The ledger's C2SP tlog-tiles (docs/ledger.md, "Tiles": height 8, tile/<L>/<N>[.p/<W>] holds
// the perfect-subtree hashes at Merkle level 8·L, tile/entries/<N>[.p/<W>] the entries) are
// checked against a verified checkpoint of size S, without any proof the server computed:
// 9.  the root: RFC 6962's MTH(0, S) recomputed from the tiles, each perfect subtree of height
//     h = 8·L + r hashed up from 2^r hashes of a level-L tile (one tile a level, at the tree's
//     right edge), must be the signed root;
// 10. an entry i < S: its bytes taken from the entry bundle, SHA-256(0x00 || entry) the leaf
//     hash of the level-0 tile, and the audit path (RFC 6962 PATH(i, D[0:S])) built from the
//     tiles' subtree hashes must lead from that leaf to the signed root (8.).
//
// Consistency (merkle.js: RFC 9162 §2.1.4.2): the log must only grow. The browser remembers,
// per verifier key and origin (localStorage), the last checkpoint it verified (size and root),
// and an auditor may paste an older checkpoint too. Each, verified with the key (1.-5.), is
// compared with the checkpoint just verified, the smaller of size m with the larger of size n:
// 11. m = n: the roots must be the same, or the log forked or was rewritten;
// 12. a remembered checkpoint larger than the server's latest: the log shrank;
// 13. m < n: PROOF(m, D[n]) must verify from the older root to the newer one; it is built
//     from the tiles of the n-entry tree (with the tiles box: the same C2SP tiles any mirror
//     serves) and taken from the ledger's endpoint /ledger/proof/consistency; both must verify.
//     Either way nothing of the server's is trusted: a proof that verifies against two roots
//     the key signed cannot be forged.
// The remembered checkpoint moves forward only once every check passed, never back.
"use strict";

(function () {
  const form = document.getElementById("verify-form");
  if (!form) return;
  const words = JSON.parse(document.getElementById("verify-words").textContent);
  const out = document.getElementById("verify-result");
  const keyField = document.getElementById("vkey");
  const noteField = document.getElementById("note");
  const pin = document.getElementById("pin");
  const PINNED = "consentry.vkey";
  const ledgerBase = form.dataset.ledger;   // "/ledger/": tiles are under <ledgerBase>tile/
  const tilesField = document.getElementById("tiles");
  const olderField = document.getElementById("older");
  const SEEN = "consentry.checkpoint";   // + " <key name>+<key ID> <origin>": {size, root}
  const M = globalThis.ConsentryMerkle;
  const encoder = new TextEncoder();

  class Failure extends Error {}

  function say(text, vars) {
    return text.replace(/%\((\w+)\)s/g, (_, k) => String(vars[k]));
  }

  function fromBase64(text, what) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Failure(say(words.bad_base64, { what }));
    }
    const bin = atob(text);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function keyId(name, publicKey) {
    const data = concat(encoder.encode(name), Uint8Array.of(0x0a, 0x01), publicKey);
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data)).slice(0, 4);
  }

  async function parseKey(text) {
    // The name has no "+"; the base64 of the key may.
    const m = /^([^+]+)\+([^+]*)\+(.*)$/.exec(text.trim());
    const parts = m ? m.slice(1) : [];
    if (parts.length !== 3 || !/^[0-9a-f]{8}$/.test(parts[1])) {
      throw new Failure(words.bad_key);
    }
    const raw = fromBase64(parts[2], words.the_key);
    if (raw.length !== 33 || raw[0] !== 0x01) throw new Failure(words.bad_key);
    const publicKey = raw.slice(1);
    if (toHex(await keyId(parts[0], publicKey)) !== parts[1]) {
      throw new Failure(words.key_id_mismatch);
    }
    return { name: parts[0], id: parts[1], publicKey };
  }

  function splitNote(bytes) {
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      throw new Failure(words.not_utf8);
    }
    const blank = text.lastIndexOf("\n\n");
    if (blank < 0 || !text.endsWith("\n")) throw new Failure(words.malformed_note);
    const body = text.slice(0, blank + 1);
    const signatures = text.slice(blank + 2, -1).split("\n").map((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new Failure(words.malformed_note);
      const raw = fromBase64(m[2], words.a_signature);
      if (raw.length !== 68) throw new Failure(words.malformed_note);
      return { name: m[1], id: toHex(raw.slice(0, 4)), signature: raw.slice(4) };
    });
    return { body, signatures };
  }

  function readCheckpoint(body) {
    const lines = body.slice(0, -1).split("\n");
    if (lines.length !== 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Failure(words.not_checkpoint);
    }
    const root = fromBase64(lines[2], words.the_root);
    if (root.length !== 32) throw new Failure(words.not_checkpoint);
    return { origin: lines[0], size: lines[1], root: toHex(root) };
  }

  async function verify(noteBytes, key) {
    const { body, signatures } = splitNote(noteBytes);       // 2.
    const mine = signatures.find((s) => s.name === key.name && s.id === key.id);  // 3.
    if (!mine) {
      const by = signatures.map((s) => `${s.name}+${s.id}`).join(", ");
      throw new Failure(say(words.not_signed_by, { key: `${key.name}+${key.id}`, by }));
    }
    const cryptoKey = await crypto.subtle.importKey(
      "raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
    const good = await crypto.subtle.verify(
      { name: "Ed25519" }, cryptoKey, mine.signature, encoder.encode(body));  // 4.
    if (!good) throw new Failure(say(words.bad_signature, { key: `${key.name}+${key.id}` }));
    return readCheckpoint(body);                             // 5.
  }

  function show(where, ok, lines, detail) {
    const out = where;
    out.className = ok ? "result ok" : "result bad";
    out.dataset.verified = ok ? "yes" : "no";
    const shown = lines.map((text, i) => {
      const el = document.createElement(i === 0 ? "strong" : "p");
      el.textContent = text;
      return el;
    });
    if (detail) {
      const pre = document.createElement("pre");
      pre.className = "json";
      pre.textContent = detail;
      shown.push(pre);
    }
    out.replaceChildren(...shown);
    out.focus();
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }

  function proofLength(index, size) {   // BigInt: exact for any safe integer
    const inner = (BigInt(index) ^ BigInt(size - 1)).toString(2).replace(/^0+/, "").length;
    const border = (BigInt(index) >> BigInt(inner)).toString(2).replace(/0/g, "").length;
    return inner + border;
  }

  async function verifyInclusion(index, size, leaf, proof, root) {    // 8.
    if (!(index >= 0 && index < size)) {
      throw new Failure(say(words.index_out_of_range, { index, size }));
    }
    if (proof.length !== proofLength(index, size)) {
      throw new Failure(say(words.proof_length, { index, size }));
    }
    // Halving with Math.floor, not >>>: indexes beyond 2^32 stay exact.
    const half = (n) => Math.floor(n / 2);
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Failure(say(words.proof_not_root, { index }));
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        while (fn && fn % 2 === 0) { fn = half(fn); sn = half(sn); }
      } else {
        r = await sha256(Uint8Array.of(1), r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    if (sn !== 0 || toHex(r) !== root) throw new Failure(say(words.proof_not_root, { index }));
  }

  async function verifyReceipt(text, key) {
    let receipt;
    try {
      receipt = JSON.parse(text);
    } catch (e) {
      throw new Failure(words.not_json);
    }
    if (!receipt || typeof receipt !== "object" || receipt.v !== 1 ||
        !Number.isSafeInteger(receipt.index) || !Number.isSafeInteger(receipt.tree_size) ||
        typeof receipt.entry !== "string" || typeof receipt.leaf_hash !== "string" ||
        !Array.isArray(receipt.inclusion_proof) || typeof receipt.checkpoint !== "string") {
      throw new Failure(words.not_receipt);
    }
    const checkpoint = await verify(encoder.encode(receipt.checkpoint), key);  // 1.-5.
    if (String(receipt.tree_size) !== checkpoint.size) {                     // 6.
      throw new Failure(say(words.size_mismatch,
        { size: receipt.tree_size, checkpoint: checkpoint.size }));
    }
    const entry = fromBase64(receipt.entry, words.the_entry);
    const leaf = await sha256(Uint8Array.of(0), entry);                      // 7.
    if (toHex(leaf) !== toHex(fromBase64(receipt.leaf_hash, words.the_leaf_hash))) {
      throw new Failure(say(words.leaf_mismatch, { index: receipt.index }));
    }
    const proof = receipt.inclusion_proof.map((h) => fromBase64(String(h), words.a_proof_hash));
    await verifyInclusion(receipt.index, receipt.tree_size, leaf, proof, checkpoint.root);
    return { index: receipt.index, origin: checkpoint.origin, size: checkpoint.size,
             root: checkpoint.root, entry };
  }


  // ---- Tiles (9., 10.) ----------------------------------------------------------------------
  // Sizes and indexes are plain numbers (exact below 2^53): no 32-bit bitwise operators here.

  const TILE_WIDTH = 256;

  function tileIndexPath(n) {       // 1234067 -> x001/x234/067
    const parts = [String(n % 1000).padStart(3, "0")];
    for (let m = Math.floor(n / 1000); m > 0; m = Math.floor(m / 1000)) {
      parts.unshift("x" + String(m % 1000).padStart(3, "0"));
    }
    return parts.join("/");
  }

  function tilePath(level, index, width) {
    return `tile/${level}/${tileIndexPath(index)}${width < TILE_WIDTH ? `.p/${width}` : ""}`;
  }

  function largestPowerBelow(n) {   // the largest power of two smaller than n (n > 1)
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  function isPowerOfTwo(n) {
    let k = 1;
    while (k < n) k *= 2;
    return k === n;
  }

  async function node(left, right) {
    return sha256(Uint8Array.of(1), left, right);
  }

  // The tiles of a tree of `size` entries, fetched from the server once each.
  function tileReader(size) {
    const fetched = new Map();
    async function get(level, index) {
      const below = Math.floor(size / TILE_WIDTH ** (level === "entries" ? 0 : level));
      const width = Math.min(below - index * TILE_WIDTH, TILE_WIDTH);
      const path = tilePath(level, index, width);
      if (!fetched.has(path)) {
        const response = await fetch(ledgerBase + path, { cache: "no-store" });
        if (!response.ok) {
          throw new Failure(say(words.tile_missing, { path, status: response.status }));
        }
        fetched.set(path, { width, bytes: new Uint8Array(await response.arrayBuffer()) });
      }
      return { path, ...fetched.get(path) };
    }
    async function hashes(level, index) {
      const { path, width, bytes } = await get(level, index);
      if (bytes.length !== 32 * width) {
        throw new Failure(say(words.tile_length, { path, width }));
      }
      return { path, hashes: Array.from({ length: width }, (_, i) => bytes.slice(32 * i, 32 * i + 32)) };
    }
    async function entries(index) {
      const { path, width, bytes } = await get("entries", index);
      const out = [];
      for (let at = 0; at < bytes.length;) {
        if (at + 2 > bytes.length) throw new Failure(say(words.bad_bundle, { path, width }));
        const length = bytes[at] * 256 + bytes[at + 1];
        if (at + 2 + length > bytes.length) throw new Failure(say(words.bad_bundle, { path, width }));
        out.push(bytes.slice(at + 2, at + 2 + length));
        at += 2 + length;
      }
      if (out.length !== width) throw new Failure(say(words.bad_bundle, { path, width }));
      return { path, entries: out };
    }
    return { hashes, entries, paths: () => Array.from(fetched.keys()) };
  }

  // The root of the perfect subtree of height h whose leaves start at k·2^h, from the tile at
  // level floor(h / 8): its 2^(h mod 8) hashes there, hashed pairwise up.
  async function subtreeHash(tiles, h, k) {
    const level = Math.floor(h / 8);
    const count = 2 ** (h - 8 * level);
    const first = k * count;
    const index = Math.floor(first / TILE_WIDTH);
    const { path, hashes } = await tiles.hashes(level, index);
    let row = hashes.slice(first - index * TILE_WIDTH, first - index * TILE_WIDTH + count);
    if (row.length !== count) throw new Failure(say(words.tile_length, { path, width: hashes.length }));
    while (row.length > 1) {
      const up = [];
      for (let i = 0; i < row.length; i += 2) up.push(await node(row[i], row[i + 1]));
      row = up;
    }
    return row[0];
  }

  // RFC 6962's MTH(D[a:b]), its perfect subtrees read from the tiles.
  async function treeHash(tiles, a, b) {
    const n = b - a;
    if (isPowerOfTwo(n) && a % n === 0) return subtreeHash(tiles, Math.log2(n), a / n);
    const k = largestPowerBelow(n);
    return node(await treeHash(tiles, a, a + k), await treeHash(tiles, a + k, b));
  }

  // RFC 6962's PATH(m, D[a:b]): the audit path, leaf upwards.
  async function auditPath(tiles, m, a, b) {
    if (b - a === 1) return [];
    const k = largestPowerBelow(b - a);
    if (m < a + k) return [...await auditPath(tiles, m, a, a + k), await treeHash(tiles, a + k, b)];
    return [...await auditPath(tiles, m, a + k, b), await treeHash(tiles, a, a + k)];
  }

  async function rootFromTiles(checkpoint) {                   // 9.
    const size = Number(checkpoint.size);
    const tiles = tileReader(size);
    const root = size === 0 ? await sha256() : await treeHash(tiles, 0, size);
    if (toHex(root) !== checkpoint.root) {
      throw new Failure(say(words.tiles_not_root, { tiles: tiles.paths().join(", ") }));
    }
    return tiles;
  }

  async function entryFromTiles(index, checkpoint, tiles) {    // 10.
    const size = Number(checkpoint.size);
    if (!(index < size)) throw new Failure(say(words.index_out_of_range, { index, size }));
    const tile = Math.floor(index / TILE_WIDTH);
    const bundle = await tiles.entries(tile);
    const entry = bundle.entries[index - tile * TILE_WIDTH];
    const leaf = await sha256(Uint8Array.of(0), entry);
    const level0 = await tiles.hashes(0, tile);
    if (toHex(level0.hashes[index - tile * TILE_WIDTH]) !== toHex(leaf)) {
      throw new Failure(say(words.entry_not_tile_leaf,
        { index, bundle: bundle.path, tile: level0.path }));
    }
    const proof = await auditPath(tiles, index, 0, size);
    try {
      await verifyInclusion(index, size, leaf, proof, checkpoint.root);
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      throw new Failure(say(words.tiles_proof_not_root, { index }));
    }
    return { entry, tiles: tiles.paths() };
  }

  function readEntry(bytes) {
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return JSON.parse(text);
    } catch (e) {
      throw new Failure(words.entry_not_json);
    }
  }

  function pastedNote(text) {
    // A pasted note is the text as shown: lines end in \n, and the last one too.
    return encoder.encode(text.replace(/\r\n/g, "\n").replace(/\n*$/, "\n"));
  }

  async function checkpointToCheck(key) {
    let note;
    if (noteField.value.trim()) {
      note = pastedNote(noteField.value);
    } else {
      const response = await fetch(form.dataset.checkpoint, { cache: "no-store" });
      if (!response.ok) throw new Failure(say(words.fetch_failed, { status: response.status }));
      note = new Uint8Array(await response.arrayBuffer());
    }
    return verify(note, key);
  }

  // ---- Consistency (11.-13.) ----------------------------------------------------------------

  function seenKey(key, origin) {
    return `${SEEN} ${key.name}+${key.id} ${origin}`;
  }

  function readSeen(key, origin) {
    try {
      const seen = JSON.parse(localStorage.getItem(seenKey(key, origin)) || "null");
      if (seen && /^(0|[1-9][0-9]*)$/.test(seen.size) && /^[0-9a-f]{64}$/.test(seen.root)) {
        return { origin, size: seen.size, root: seen.root };
      }
    } catch (e) {
      // Not JSON: nothing remembered (the next verification writes it anew).
    }
    return null;
  }

  function remember(key, checkpoint) {
    localStorage.setItem(seenKey(key, checkpoint.origin),
      JSON.stringify({ size: checkpoint.size, root: checkpoint.root }));
  }

  function fromHex(hex) {
    return Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));
  }

  async function proofFromServer(first, second) {
    const url = `${ledgerBase}proof/consistency?first=${first}&second=${second}`;
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) {
      throw new Failure(say(words.proof_fetch_failed,
        { old: first, new: second, status: response.status }));
    }
    let body;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!body || !Array.isArray(body.hashes) || !body.hashes.every((h) => typeof h === "string")) {
      throw new Failure(say(words.not_a_proof, { old: first, new: second }));
    }
    return body.hashes.map((h) => fromBase64(h, words.a_proof_hash));
  }

  // PROOF(first, D[second]) from the tiles of the tree of `second` entries.
  async function proofFromTiles(first, second, tiles) {
    return M.consistencyProof(first, second, (a, b) => treeHash(tiles, a, b));
  }

  // That `newer` extends `older` (both verified with the key); `what` names `older`. Returns
  // the line to show.
  async function checkConsistency(older, newer, tiles, what) {
    const m = Number(older.size);
    const n = Number(newer.size);
    if (m > n) throw new Failure(say(words.shrank, { what, old: m, new: n }));
    if (m === n) {
      if (older.root !== newer.root) {
        throw new Failure(say(words.forked, { what, size: m, old: older.root, new: newer.root }));
      }
      return say(words.unchanged, { what, size: m });
    }
    const sources = [];
    const proofs = [];
    if (tiles) proofs.push([words.source_tiles, () => proofFromTiles(m, n, tiles)]);
    proofs.push([words.source_server, () => proofFromServer(m, n)]);
    for (const [source, make] of proofs) {
      const proof = await make();
      try {
        await M.verifyConsistency(m, n, fromHex(older.root), fromHex(newer.root), proof);
      } catch (error) {
        if (!(error instanceof M.ConsistencyError)) throw error;
        throw new Failure(say(words.bad_consistency,
          { what, old: m, new: n, source, why: words[`why_${error.reason}`] || error.reason }));
      }
      sources.push(source);
    }
    return say(words.grew, { what, old: m, root: older.root, new: n, sources: sources.join(", ") });
  }

  async function checkOlder(key, checkpoint, tiles) {
    let older;
    try {
      older = await verify(pastedNote(olderField.value), key);
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      throw new Failure(say(words.older_not_verified, { why: error.message }));
    }
    if (older.origin !== checkpoint.origin) {
      throw new Failure(say(words.other_log, { older: older.origin, origin: checkpoint.origin }));
    }
    return checkConsistency(older, checkpoint, tiles, words.the_pasted);
  }

  async function checkRemembered(key, checkpoint, tiles, pasted) {
    const seen = readSeen(key, checkpoint.origin);
    if (!seen) return { line: words.first_seen, forward: true };
    if (pasted && Number(checkpoint.size) < Number(seen.size)) {
      // An older checkpoint to check: it must be the start of the remembered tree.
      const wider = tiles && tileReader(Number(seen.size));
      const line = await checkConsistency(checkpoint, seen, wider, words.this_checkpoint);
      return { line: say(words.than_remembered, { line }), forward: false };
    }
    return { line: await checkConsistency(seen, checkpoint, tiles, words.the_remembered),
             forward: true };
  }

  if (!keyField.value) keyField.value = localStorage.getItem(PINNED) || "";

  const receiptForm = document.getElementById("receipt-form");
  const receiptFile = document.getElementById("receipt-file");
  const receiptOut = document.getElementById("receipt-result");
  receiptForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    receiptOut.dataset.verified = "";
    receiptOut.textContent = words.checking;
    try {
      if (!globalThis.crypto || !crypto.subtle) throw new Failure(words.no_webcrypto);
      const key = await parseKey(keyField.value);
      const file = receiptFile.files[0];
      if (!file) throw new Failure(words.no_file);
      const found = await verifyReceipt(await file.text(), key);
      const decoded = readEntry(found.entry);
      show(receiptOut, true, [words.receipt_verified, say(words.receipt_is, found)],
        JSON.stringify(decoded, null, 2));
    } catch (error) {
      const reason = error instanceof Failure ? error.message : `${error.name}: ${error.message}`;
      show(receiptOut, false, [words.failed, reason]);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.dataset.verified = "";
    out.textContent = words.checking;
    try {
      if (!globalThis.crypto || !crypto.subtle) throw new Failure(words.no_webcrypto);
      const key = await parseKey(keyField.value);            // 1., before anything is fetched
      const pasted = Boolean(noteField.value.trim());
      const checkpoint = await checkpointToCheck(key);
      if (pin.checked) localStorage.setItem(PINNED, keyField.value.trim());
      const lines = [words.verified, say(words.checkpoint_is, checkpoint)];
      let tiles = null;
      if (tilesField.checked) {
        tiles = await rootFromTiles(checkpoint);
        lines.push(say(words.tiles_ok, { tiles: tiles.paths().join(", ") || "—" }));
      }
      if (olderField.value.trim()) lines.push(await checkOlder(key, checkpoint, tiles));  // 11.-13.
      const remembered = await checkRemembered(key, checkpoint, tiles, pasted);
      lines.push(remembered.line);
      if (remembered.forward) remember(key, checkpoint);
      show(out, true, lines);
    } catch (error) {
      const reason = error instanceof Failure ? error.message : `${error.name}: ${error.message}`;
      show(out, false, [words.failed, reason]);
    }
  });

  const entryForm = document.getElementById("entry-form");
  const entryField = document.getElementById("entry-index");
  const entryOut = document.getElementById("entry-result");
  const asked = new URLSearchParams(location.search).get("entry");
  if (asked && /^[0-9]+$/.test(asked)) entryField.value = asked;
  entryForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    entryOut.dataset.verified = "";
    entryOut.textContent = words.checking;
    try {
      if (!globalThis.crypto || !crypto.subtle) throw new Failure(words.no_webcrypto);
      const key = await parseKey(keyField.value);
      const raw = entryField.value.trim();
      if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw new Failure(words.not_an_index);
      const index = Number(raw);
      const checkpoint = await checkpointToCheck(key);         // 1.-5.
      const tiles = await rootFromTiles(checkpoint);           // 9.
      const found = await entryFromTiles(index, checkpoint, tiles);  // 10.
      const decoded = readEntry(found.entry);
      show(entryOut, true, [words.entry_verified,
        say(words.entry_is, { index, type: decoded.type, time: decoded.time,
                              origin: checkpoint.origin, size: checkpoint.size }),
        say(words.tiles_used, { tiles: found.tiles.join(", ") })],
        JSON.stringify(decoded, null, 2));
    } catch (error) {
      const reason = error instanceof Failure ? error.message : `${error.name}: ${error.message}`;
      show(entryOut, false, [words.failed, reason]);
    }
  });
})();
