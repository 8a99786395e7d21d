import { createHash, randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import { type HashMode, UploadHasher } from '../../../coordinator/src/store/hash-worker.js';

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe.each<HashMode>(['worker', 'inline'])('UploadHasher (%s)', (mode) => {
  const hasher = new UploadHasher(mode);
  afterAll(() => hasher.close());

  it('verifies chunks and digests their concatenation; a bad chunk is refused and not appended', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(777);
    // A view into a larger buffer, as gRPC hands over decoded bytes.
    const pool = Buffer.concat([randomBytes(64), b, randomBytes(64)]);
    const view = pool.subarray(64, 64 + b.byteLength);
    expect(await hasher.verifyAndAppend('t#1', a, sha(a))).toBe(true);
    expect(await hasher.verifyAndAppend('t#1', view, sha(a))).toBe(false);
    expect(await hasher.verifyAndAppend('t#1', view, sha(b))).toBe(true);
    expect((await hasher.digest('t#1')).equals(sha(Buffer.concat([a, b])))).toBe(true);
    // The caller's bytes are untouched (the worker got a copy).
    expect(view.equals(b)).toBe(true);
  });

  it('keeps uploads apart and forgets a dropped one', async () => {
    const a = randomBytes(10);
    const b = randomBytes(20);
    await hasher.verifyAndAppend('x#1', a, sha(a));
    await hasher.verifyAndAppend('y#1', b, sha(b));
    await hasher.drop('x#1');
    expect((await hasher.digest('x#1')).equals(sha(new Uint8Array(0)))).toBe(true);
    expect((await hasher.digest('y#1')).equals(sha(b))).toBe(true);
  });
});
