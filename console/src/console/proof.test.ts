// The ledger checks against trees built straight from RFC 9162's recursive
// definitions (MTH and PATH), and against a note signed here with Ed25519.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkNote, countCosigners, leafHash, rootFromInclusion, verify } from "./proof";

const sha256 = async (...parts: Uint8Array[]) => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
};
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const leafOf = (i: number) => JSON.stringify({ id: `evt_${i}`, sequence: String(i + 1) });
const split = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

async function mth(leaves: string[]): Promise<Uint8Array> {
  if (leaves.length === 1) return sha256(new Uint8Array([0]), new TextEncoder().encode(leaves[0]));
  const k = split(leaves.length);
  return sha256(new Uint8Array([1]), await mth(leaves.slice(0, k)), await mth(leaves.slice(k)));
}

async function path(m: number, leaves: string[]): Promise<Uint8Array[]> {
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...(await path(m, leaves.slice(0, k))), await mth(leaves.slice(k))]
    : [...(await path(m - k, leaves.slice(k))), await mth(leaves.slice(0, k))];
}

test("every leaf of trees of 1 to 17 leaves proves its inclusion, and nothing else does", async () => {
  for (let n = 1; n <= 17; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafOf(i));
    const root = b64(await mth(leaves));
    for (let m = 0; m < n; m++) {
      const hash = Uint8Array.from(atob(await leafHash(leaves[m])), (c) => c.charCodeAt(0));
      const proof = await path(m, leaves);
      const got = await rootFromInclusion(BigInt(m), BigInt(n), hash, proof);
      assert.equal(got && b64(got), root, `leaf ${m} of ${n}`);
      if (n > 1) {
        const wrongIndex = await rootFromInclusion(BigInt((m + 1) % n), BigInt(n), hash, proof);
        assert.notEqual(wrongIndex && b64(wrongIndex), root, `leaf ${m} of ${n} at another index`);
      }
      assert.equal(await rootFromInclusion(BigInt(n), BigInt(n), hash, proof), null, "an index past the tree");
    }
  }
});

test("a signed checkpoint verifies, a tampered one does not", async () => {
  const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const name = "auditgraph-test";
  const keyData = new Uint8Array([1, ...publicKey]);
  const id = (await sha256(new TextEncoder().encode(name + "\n"), keyData)).slice(0, 4);
  const hexId = [...id].map((b) => b.toString(16).padStart(2, "0")).join("");
  const verifierKey = `${name}+${hexId}+${b64(keyData)}`;

  const leaves = Array.from({ length: 5 }, (_, i) => leafOf(i));
  const root = b64(await mth(leaves));
  const origin = "auditgraph/ten_1";
  const body = `${origin}\n5\n${root}\n`;
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, new TextEncoder().encode(body)));
  const signedNote = `${body}\n\u2014 ${name} ${b64(new Uint8Array([...id, ...signature]))}\n`;
  const checkpoint = { origin, size: "5", rootHash: root, signedNote };

  assert.deepEqual(await checkNote(signedNote, verifierKey), { origin, size: "5", root, signed: true });
  const forged = signedNote.replace("\n5\n", "\n6\n");
  assert.equal((await checkNote(forged, verifierKey)).signed, false);

  const hash = await leafHash(leaves[3]);
  const proof = { leafIndex: "3", treeSize: "5", leafHash: hash, hashes: (await path(3, leaves)).map(b64) };
  const good = await verify(leaves[3], hash, proof, checkpoint, verifierKey);
  assert.equal(good.ok, true, JSON.stringify(good.steps));
  // Content that is not the leaf's, a proof for another tree, a note for another tree: each fails.
  assert.equal((await verify(leaves[2], hash, proof, checkpoint, verifierKey)).ok, false);
  assert.equal((await verify(leaves[3], hash, { ...proof, treeSize: "4" }, checkpoint, verifierKey)).ok, false);
  assert.equal((await verify(leaves[3], hash, proof, { ...checkpoint, signedNote: forged }, verifierKey)).ok, false);
});

test("cosignatures count once per witness whose cosignature/v1 verifies", async () => {
  const encoder = new TextEncoder();
  const witness = async (name: string) => {
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const keyData = new Uint8Array([4, ...new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey))]);
    const id = (await sha256(encoder.encode(name + "\n"), keyData)).slice(0, 4);
    const hexId = [...id].map((b) => b.toString(16).padStart(2, "0")).join("");
    const cosign = async (text: string, time: bigint) => {
      const message = encoder.encode(`cosignature/v1\ntime ${time}\n${text}`);
      const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, message));
      const stamp = new Uint8Array(8);
      new DataView(stamp.buffer).setBigUint64(0, time);
      return `\u2014 ${name} ${b64(new Uint8Array([...id, ...stamp, ...signature]))}\n`;
    };
    return { vkey: `${name}+${hexId}+${b64(keyData)}`, cosign };
  };
  const [a, b, c] = [await witness("a.example"), await witness("b.example"), await witness("c.example")];
  const text = "auditgraph/ten_1\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  const note = `${text}\n\u2014 log.example AAAA\n${await a.cosign(text, 1700000000n)}${await b.cosign(text, 1700000001n)}`;
  const keys = [a.vkey, b.vkey, c.vkey];
  assert.equal(await countCosigners(note, keys), 2);
  assert.equal(await countCosigners(note, [c.vkey]), 0);
  // Another checkpoint's cosignature, or a changed time, does not count.
  const other = "auditgraph/ten_1\n6\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  assert.equal(await countCosigners(`${text}\n${await a.cosign(other, 1700000000n)}`, keys), 0);
  const line = await b.cosign(text, 1700000001n);
  const blob = Uint8Array.from(atob(line.trim().split(" ")[2]), (ch) => ch.charCodeAt(0));
  blob[11] ^= 1;
  assert.equal(await countCosigners(`${text}\n\u2014 b.example ${b64(blob)}\n`, keys), 0);
});
