import { createHash } from 'node:crypto';

/**
 * Largest chunk Tessera puts in one gRPC message: 1 MiB of payload keeps every frame far below gRPC's
 * default 4 MiB receive limit, so updates of any size (1 GB and more) move without raising limits.
 */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** One checksummed slice of a larger byte string. */
export interface ByteChunk {
  offset: number;
  data: Buffer;
  /** sha256 of `data`. */
  sha256: Buffer;
  totalBytes: number;
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Yields the chunks of `buf` from `offset` on, each at most `chunkBytes` long. */
export function* chunkBuffer(buf: Uint8Array, offset = 0, chunkBytes = MAX_CHUNK_BYTES): Generator<ByteChunk> {
  const total = buf.byteLength;
  for (let at = offset; at < total; at += chunkBytes) {
    const end = Math.min(total, at + chunkBytes);
    const data = Buffer.from(buf.buffer, buf.byteOffset + at, end - at);
    yield { offset: at, data, sha256: sha256(data), totalBytes: total };
  }
}

/** Why a chunk was refused, or null when it is acceptable at `expectedOffset`. */
export function chunkProblem(
  chunk: { offset: number; data: Uint8Array; sha256: Uint8Array; totalBytes: number },
  expectedOffset: number,
  expectedTotal: number,
): string | null {
  const problem = chunkShapeProblem(chunk, expectedOffset, expectedTotal);
  if (problem != null) return problem;
  if (!sha256(chunk.data).equals(chunk.sha256)) return 'chunk sha256 mismatch';
  return null;
}

/**
 * {@link chunkProblem} without hashing the data: size, offset, declared total and the checksum's length.
 * For callers that verify the sha256 elsewhere (the coordinator does it on a worker thread).
 */
export function chunkShapeProblem(
  chunk: { offset: number; data: Uint8Array; sha256: Uint8Array; totalBytes: number },
  expectedOffset: number,
  expectedTotal: number,
): string | null {
  if (chunk.data.byteLength > MAX_CHUNK_BYTES) {
    return `chunk of ${chunk.data.byteLength} bytes exceeds the ${MAX_CHUNK_BYTES}-byte limit`;
  }
  if (chunk.data.byteLength === 0) return 'empty chunk';
  if (chunk.offset !== expectedOffset) return `chunk at offset ${chunk.offset}, expected ${expectedOffset}`;
  if (chunk.totalBytes !== expectedTotal) return `chunk declares ${chunk.totalBytes} total bytes, expected ${expectedTotal}`;
  if (chunk.offset + chunk.data.byteLength > expectedTotal) return 'chunk runs past the declared end';
  if (chunk.sha256.byteLength !== 32) return 'chunk sha256 mismatch';
  return null;
}
