import { createHash, randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import { ChunkHasher, type HashMode } from '../../../shared/src/transport/chunk-hasher.js';
import { MAX_CHUNK_BYTES, transferDigest } from '../../../shared/src/transport/chunks.js';

const MiB = MAX_CHUNK_BYTES;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** The transfer digest written out from its definition (protos/tessera/v1/federation.proto, "Checksums"). */
function expectedDigest(bytes: Uint8Array): Buffer {
  const list = createHash('sha256');
  let count = 0;
  for (let at = 0; at < bytes.byteLength; at += MiB) {
    list.update(sha(bytes.subarray(at, Math.min(bytes.byteLength, at + MiB))));
    count += 1;
  }
  const u64 = (n: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  return sha(Buffer.concat([Buffer.from('tessera/v1/chunked-sha256\0', 'latin1'), u64(bytes.byteLength), u64(MiB), u64(count), list.digest()]));
}

describe('transferDigest', () => {
  it('is the sha256 over the 1 MiB chunks\' sha256 with length and count, and returns those chunk digests', () => {
    const bytes = randomBytes(3 * MiB + 17);
    const { digest, chunkSha256 } = transferDigest(bytes);
    expect(digest.equals(expectedDigest(bytes))).toBe(true);
    expect(chunkSha256.map((d) => d.toString('hex'))).toEqual([0, 1, 2, 3].map((i) => sha(bytes.subarray(i * MiB, Math.min(bytes.byteLength, (i + 1) * MiB))).toString('hex')));
    // Not the flat sha256, and not the same for the empty input or for one chunk with its list digest.
    expect(digest.equals(sha(bytes))).toBe(false);
    expect(transferDigest(new Uint8Array(0)).digest.equals(expectedDigest(new Uint8Array(0)))).toBe(true);
    expect(transferDigest(new Uint8Array(0)).chunkSha256).toEqual([]);
  });

  it('changes with any byte, and with the length even when the chunk digests do not', () => {
    const bytes = randomBytes(2 * MiB);
    const flipped = Buffer.from(bytes);
    flipped.writeUInt8(flipped.readUInt8(MiB + 5) ^ 1, MiB + 5);
    expect(transferDigest(flipped).digest.equals(transferDigest(bytes).digest)).toBe(false);
    const a = randomBytes(100);
    expect(transferDigest(a).digest.equals(transferDigest(Buffer.concat([a, Buffer.alloc(1)])).digest)).toBe(false);
  });
});

describe.each<HashMode>(['worker', 'inline'])('ChunkHasher (%s)', (mode) => {
  const hasher = new ChunkHasher(mode);
  afterAll(() => hasher.close());

  it('verifies chunks and gives the transfer digest of their concatenation; a bad chunk is refused and not appended', async () => {
    const a = randomBytes(MiB);
    const b = randomBytes(777);
    // A view into a larger buffer, as gRPC hands over decoded bytes.
    const pool = Buffer.concat([randomBytes(64), b, randomBytes(64)]);
    const view = pool.subarray(64, 64 + b.byteLength);
    expect(await hasher.verifyAndAppend('t#1', 0, a, sha(a))).toBe(true);
    expect(await hasher.verifyAndAppend('t#1', a.byteLength, view, sha(a))).toBe(false);
    expect(await hasher.verifyAndAppend('t#1', a.byteLength, view, sha(b))).toBe(true);
    expect((await hasher.digest('t#1')).equals(expectedDigest(Buffer.concat([a, b])))).toBe(true);
    // The caller's bytes are untouched (the worker got a copy).
    expect(view.equals(b)).toBe(true);
  });

  it('refuses a chunk after a short one (chunks sit on the 1 MiB grid) and an oversized chunk', async () => {
    const short = randomBytes(1000);
    const next = randomBytes(10);
    expect(await hasher.verifyAndAppend('g#1', 0, short, sha(short))).toBe(true);
    expect(await hasher.verifyAndAppend('g#1', short.byteLength, next, sha(next))).toBe(false);
    expect((await hasher.digest('g#1')).equals(expectedDigest(short))).toBe(true);
    const big = randomBytes(MiB + 1);
    expect(await hasher.verifyAndAppend('g#2', 0, big, sha(big))).toBe(false);
    await hasher.drop('g#2');
  });

  it('keeps uploads apart and forgets a dropped one', async () => {
    const a = randomBytes(10);
    const b = randomBytes(20);
    await hasher.verifyAndAppend('x#1', 0, a, sha(a));
    await hasher.verifyAndAppend('y#1', 0, b, sha(b));
    await hasher.drop('x#1');
    expect((await hasher.digest('x#1')).equals(expectedDigest(new Uint8Array(0)))).toBe(true);
    expect((await hasher.digest('y#1')).equals(expectedDigest(b))).toBe(true);
  });

  it('with many chunks in flight, refuses everything after a bad chunk and keeps the digest to the accepted prefix', async () => {
    const chunks = Array.from({ length: 12 }, (_, i) => randomBytes(i === 11 ? 4096 : MiB));
    const offsets = chunks.map((_, i) => i * MiB);
    // Not awaited one by one: all twelve are sent before the first answer, and chunk 5 carries a wrong checksum.
    const verdicts = await Promise.all(
      chunks.map((c, i) => hasher.verifyAndAppend('p#1', offsets[i] ?? -1, c, i === 5 ? sha(chunks[4] ?? c) : sha(c))),
    );
    expect(verdicts).toEqual(chunks.map((_, i) => i < 5));
    // A resumed stream continues from the accepted prefix under the same key.
    const rest = chunks.slice(5);
    const resumed = await Promise.all(rest.map((c, i) => hasher.verifyAndAppend('p#1', offsets[5 + i] ?? -1, c, sha(c))));
    expect(resumed.every(Boolean)).toBe(true);
    expect((await hasher.digest('p#1')).equals(expectedDigest(Buffer.concat(chunks)))).toBe(true);
  });

  it('hashes a chunk for the sender, and appends a resumed prefix of several chunks in order', async () => {
    const prefix = randomBytes(3 * MiB);
    const next = randomBytes(333);
    expect((await hasher.hash(next)).equals(sha(next))).toBe(true);
    await hasher.append('r#1', 0, prefix);
    expect(await hasher.verifyAndAppend('r#1', prefix.byteLength, next, sha(next))).toBe(true);
    expect((await hasher.digest('r#1')).equals(expectedDigest(Buffer.concat([prefix, next])))).toBe(true);
    await expect(hasher.append('r#2', 5, next)).rejects.toThrow(/out of order|append at 5/);
  });
});
