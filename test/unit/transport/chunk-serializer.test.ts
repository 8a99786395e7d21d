import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { createChunkSerializer } from '../../../coordinator/src/grpc/chunk-serializer.js';
import { MAX_CHUNK_BYTES } from '../../../shared/src/transport/chunks.js';
import { loadFederationProto } from '../../../shared/src/transport/proto.js';

const method = loadFederationProto().tessera.v1.Federation.service.FetchModel;

describe('FetchModel chunk serializer (coordinator)', () => {
  it('encodes chunks that the generated protobuf decoder reads back exactly, offsets and totals above 2^32 included', () => {
    const serialize = createChunkSerializer((v) => method.responseSerialize(v as never));
    const cases = [
      { offset: 0, data: randomBytes(MAX_CHUNK_BYTES), sha256: randomBytes(32), totalBytes: 3 * MAX_CHUNK_BYTES },
      { offset: 5 * 2 ** 32, data: randomBytes(7), sha256: randomBytes(32), totalBytes: 5 * 2 ** 32 + 7 },
      { offset: 2 ** 53 - 2, data: randomBytes(1), sha256: randomBytes(32), totalBytes: 2 ** 53 - 1 },
    ];
    for (const c of cases) {
      const bytes = Buffer.from(serialize(c));
      // The same bytes protobufjs writes for the same message.
      expect(bytes.equals(method.responseSerialize(c))).toBe(true);
      const back = method.responseDeserialize(bytes);
      expect(back.offset).toBe(c.offset);
      expect(back.totalBytes).toBe(c.totalBytes);
      expect(Buffer.from(back.data).equals(c.data)).toBe(true);
      expect(Buffer.from(back.sha256).equals(c.sha256)).toBe(true);
    }
  });

  it('hands anything that is not a well-formed chunk to the fallback serializer', () => {
    const seen: unknown[] = [];
    const serialize = createChunkSerializer((v) => {
      seen.push(v);
      return Buffer.from('fallback');
    });
    const bad = [
      { offset: -1, data: randomBytes(1), sha256: randomBytes(32), totalBytes: 1 },
      { offset: 0, data: randomBytes(MAX_CHUNK_BYTES + 1), sha256: randomBytes(32), totalBytes: MAX_CHUNK_BYTES + 1 },
      { offset: 0, data: randomBytes(1), sha256: randomBytes(31), totalBytes: 1 },
      { offset: 0.5, data: randomBytes(1), sha256: randomBytes(32), totalBytes: 1 },
      null,
    ];
    for (const v of bad) expect(serialize(v).toString()).toBe('fallback');
    expect(seen).toEqual(bad);
  });
});
