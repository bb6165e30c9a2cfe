// Checks an event against the signed checkpoint, in the browser: the leaf hash
// recomputed from the canonical event, the RFC 9162 inclusion proof up to the
// checkpoint's root, the checkpoint's Ed25519 signed note, and the witnesses'
// cosignatures on it.

export type InclusionProof = { leafIndex: string; treeSize: string; leafHash: string; hashes: string[] };
export type Checkpoint = { origin: string; size: string; rootHash: string; signedNote: string };

export type Verdict = { ok: boolean; steps: { label: string; ok: boolean | null }[] };

const encoder = new TextEncoder();

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** SHA-256(0x00 ‖ leaf). */
export async function leafHash(canonicalJson: string): Promise<string> {
  return toBase64(await sha256(concat(new Uint8Array([0]), encoder.encode(canonicalJson))));
}

/** RFC 9162 §2.1.3.2: the root that `hashes` lead to from the leaf, or null if the path is malformed. */
export async function rootFromInclusion(
  leafIndex: bigint,
  treeSize: bigint,
  leaf: Uint8Array,
  hashes: Uint8Array[],
): Promise<Uint8Array | null> {
  if (leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leaf;
  const node = new Uint8Array([1]);
  for (const p of hashes) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(concat(node, p, r));
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await sha256(concat(node, r, p));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

/** A verifier key, `<name>+<hex key id>+<base64(type ‖ public key)>` (the base64 may hold "+"). */
type VerifierKey = { name: string; id: Uint8Array; type: number; publicKey: Uint8Array };

function parseVerifierKey(text: string): VerifierKey | null {
  const [name, hexId, ...rest] = text.split("+");
  const keyData = rest.join("+");
  if (!name || !hexId || hexId.length !== 8 || !keyData) return null;
  const key = fromBase64(keyData);
  if (key.length !== 33) return null;
  const id = Uint8Array.from(hexId.match(/../g) ?? [], (h) => parseInt(h, 16));
  return { name, id, type: key[0], publicKey: key.slice(1) };
}

/** A signed note's text and its signature lines (name, then key id ‖ signature). */
function splitNote(note: string): { text: string; signatures: { name: string; blob: Uint8Array }[] } {
  const split = note.indexOf("\n\n");
  const signatures = [];
  for (const line of note.slice(split + 2).split("\n")) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (match) signatures.push({ name: match[1], blob: fromBase64(match[2]) });
  }
  return { text: note.slice(0, split + 1), signatures };
}

/** Ed25519 verification; null when this browser has no Ed25519. */
async function ed25519(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean | null> {
  try {
    const key = await crypto.subtle.importKey("raw", publicKey as BufferSource, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature as BufferSource, message as BufferSource);
  } catch {
    return null;
  }
}

/** A C2SP signed note's checkpoint body and whether a signature by `verifierKey` holds. */
export async function checkNote(
  note: string,
  verifierKey: string,
): Promise<{ origin: string; size: string; root: string; signed: boolean | null }> {
  const { text, signatures } = splitNote(note);
  const [origin = "", size = "", root = ""] = text.split("\n");
  const key = parseVerifierKey(verifierKey);
  if (!key || key.type !== 1) return { origin, size, root, signed: false };
  let signed: boolean | null = false;
  for (const { name, blob } of signatures) {
    if (name !== key.name || !equal(blob.slice(0, 4), key.id)) continue;
    signed = await ed25519(key.publicKey, blob.slice(4), encoder.encode(text));
    if (signed !== false) break;
  }
  return { origin, size, root, signed };
}

/**
 * How many of the witnesses (verifier keys of type 0x04) carry a valid
 * `cosignature/v1` (c2sp.org/tlog-cosignature) on the note: Ed25519 over
 * "cosignature/v1", the time line and the checkpoint text. Null when this
 * browser has no Ed25519.
 */
export async function countCosigners(note: string, witnessKeys: string[]): Promise<number | null> {
  const { text, signatures } = splitNote(note);
  let count = 0;
  for (const witness of witnessKeys.map(parseVerifierKey)) {
    if (!witness || witness.type !== 4) continue;
    for (const { name, blob } of signatures) {
      if (name !== witness.name || blob.length !== 4 + 8 + 64 || !equal(blob.slice(0, 4), witness.id)) continue;
      const time = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
      const message = encoder.encode(`cosignature/v1\ntime ${time}\n${text}`);
      const valid = await ed25519(witness.publicKey, blob.slice(12), message);
      if (valid === null) return null;
      if (valid) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** Every check, in order; `ok` only when all hold. */
export async function verify(
  canonicalJson: string,
  storedLeafHash: string,
  proof: InclusionProof,
  checkpoint: Checkpoint,
  verifierKey: string,
): Promise<Verdict> {
  const steps: Verdict["steps"] = [];
  const computed = await leafHash(canonicalJson);
  steps.push({ label: "leaf hash recomputed from the canonical event", ok: computed === storedLeafHash && computed === proof.leafHash });
  const root = await rootFromInclusion(
    BigInt(proof.leafIndex),
    BigInt(proof.treeSize),
    fromBase64(computed),
    proof.hashes.map(fromBase64),
  );
  steps.push({
    label: `inclusion proof leads to the root of the tree of size ${checkpoint.size}`,
    ok: root !== null && proof.treeSize === checkpoint.size && toBase64(root) === checkpoint.rootHash,
  });
  const note = await checkNote(checkpoint.signedNote, verifierKey);
  steps.push({
    label: "the checkpoint names that size and root",
    ok: note.origin === checkpoint.origin && note.size === checkpoint.size && note.root === checkpoint.rootHash,
  });
  steps.push({ label: "the checkpoint carries a valid Ed25519 signature by the log's key", ok: note.signed });
  return { ok: steps.every((s) => s.ok === true), steps };
}
