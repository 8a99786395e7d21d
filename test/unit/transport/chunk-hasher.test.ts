import { createHash, randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import { ChunkHasher, type HashMode } from '../../../shared/src/transport/chunk-hasher.js';

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe.each<HashMode>(['worker', 'inline'])('ChunkHasher (%s)', (mode) => {
  const hasher = new ChunkHasher(mode);
  afterAll(() => hasher.close());

  it('verifies chunks and digests their concatenation; a bad chunk is refused and not appended', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(777);
    // A view into a larger buffer, as gRPC hands over decoded bytes.
    const pool = Buffer.concat([randomBytes(64), b, randomBytes(64)]);
    const view = pool.subarray(64, 64 + b.byteLength);
    expect(await hasher.verifyAndAppend('t#1', 0, a, sha(a))).toBe(true);
    expect(await hasher.verifyAndAppend('t#1', a.byteLength, view, sha(a))).toBe(false);
    expect(await hasher.verifyAndAppend('t#1', a.byteLength, view, sha(b))).toBe(true);
    expect((await hasher.digest('t#1')).equals(sha(Buffer.concat([a, b])))).toBe(true);
    // The caller's bytes are untouched (the worker got a copy).
    expect(view.equals(b)).toBe(true);
  });

  it('keeps uploads apart and forgets a dropped one', async () => {
    const a = randomBytes(10);
    const b = randomBytes(20);
    await hasher.verifyAndAppend('x#1', 0, a, sha(a));
    await hasher.verifyAndAppend('y#1', 0, b, sha(b));
    await hasher.drop('x#1');
    expect((await hasher.digest('x#1')).equals(sha(new Uint8Array(0)))).toBe(true);
    expect((await hasher.digest('y#1')).equals(sha(b))).toBe(true);
  });

  it('with many chunks in flight, refuses everything after a bad chunk and keeps the digest to the accepted prefix', async () => {
    const chunks = Array.from({ length: 12 }, (_, i) => randomBytes(4096 + i));
    const offsets = chunks.map((_, i) => chunks.slice(0, i).reduce((n, c) => n + c.byteLength, 0));
    // Not awaited one by one: all twelve are sent before the first answer, and chunk 5 carries a wrong checksum.
    const verdicts = await Promise.all(
      chunks.map((c, i) => hasher.verifyAndAppend('p#1', offsets[i] ?? -1, c, i === 5 ? sha(chunks[4] ?? c) : sha(c))),
    );
    expect(verdicts).toEqual(chunks.map((_, i) => i < 5));
    // A resumed stream continues from the accepted prefix under the same key.
    const rest = chunks.slice(5);
    const resumed = await Promise.all(rest.map((c, i) => hasher.verifyAndAppend('p#1', offsets[5 + i] ?? -1, c, sha(c))));
    expect(resumed.every(Boolean)).toBe(true);
    expect((await hasher.digest('p#1')).equals(sha(Buffer.concat(chunks)))).toBe(true);
  });

  it('hashes a chunk for the sender, and appends a resumed prefix larger than one slot in order', async () => {
    const prefix = randomBytes(2.5 * 1024 * 1024);
    const next = randomBytes(333);
    expect((await hasher.hash(next)).equals(sha(next))).toBe(true);
    await hasher.append('r#1', 0, prefix);
    expect(await hasher.verifyAndAppend('r#1', prefix.byteLength, next, sha(next))).toBe(true);
    expect((await hasher.digest('r#1')).equals(sha(Buffer.concat([prefix, next])))).toBe(true);
    await expect(hasher.append('r#2', 5, next)).rejects.toThrow(/out of order|append at 5/);
  });
});
