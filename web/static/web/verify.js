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

  function show(where, ok, lines) {
    const out = where;
    out.className = ok ? "result ok" : "result bad";
    out.dataset.verified = ok ? "yes" : "no";
    out.replaceChildren(...lines.map((text, i) => {
      const el = document.createElement(i === 0 ? "strong" : "p");
      el.textContent = text;
      return el;
    }));
    out.focus();
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }

  function proofLength(index, size) {
    const inner = (index ^ (size - 1)).toString(2).replace(/^0+/, "").length;
    const border = (index >>> inner).toString(2).replace(/0/g, "").length;
    return inner + border;
  }

  async function verifyInclusion(index, size, leaf, proof, root) {    // 8.
    if (!(index >= 0 && index < size)) {
      throw new Failure(say(words.index_out_of_range, { index, size }));
    }
    if (proof.length !== proofLength(index, size)) {
      throw new Failure(say(words.proof_length, { index, size }));
    }
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Failure(say(words.proof_not_root, { index }));
      if (fn & 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        while (fn && !(fn & 1)) { fn >>>= 1; sn >>>= 1; }
      } else {
        r = await sha256(Uint8Array.of(1), r, p);
      }
      fn >>>= 1; sn >>>= 1;
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
             root: checkpoint.root };
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
      show(receiptOut, true, [words.receipt_verified, say(words.receipt_is, found)]);
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
      let note;
      if (noteField.value.trim()) {
        // A pasted note is the text as shown: lines end in \n, and the last one too.
        note = encoder.encode(noteField.value.replace(/\r\n/g, "\n").replace(/\n*$/, "\n"));
      } else {
        const response = await fetch(form.dataset.checkpoint, { cache: "no-store" });
        if (!response.ok) throw new Failure(say(words.fetch_failed, { status: response.status }));
        note = new Uint8Array(await response.arrayBuffer());
      }
      const checkpoint = await verify(note, key);
      if (pin.checked) localStorage.setItem(PINNED, keyField.value.trim());
      show(out, true, [words.verified,
        say(words.checkpoint_is, checkpoint)]);
    } catch (error) {
      const reason = error instanceof Failure ? error.message : `${error.name}: ${error.message}`;
      show(out, false, [words.failed, reason]);
    }
  });
})();
