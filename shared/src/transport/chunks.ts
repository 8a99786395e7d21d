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

/** Domain label of the transfer digest (see {@link transferDigest}). */
export const TRANSFER_DIGEST_DOMAIN = 'tessera/v1/chunked-sha256';

/**
 * The transfer digest from a transfer's length and the sha256 of the list of its chunk digests:
 * `sha256(TRANSFER_DIGEST_DOMAIN ‖ 0x00 ‖ u64be(totalBytes) ‖ u64be(MAX_CHUNK_BYTES) ‖ u64be(chunkCount) ‖ listSha256)`
 * where `listSha256 = sha256(d₀ ‖ d₁ ‖ … ‖ dₙ₋₁)` and `dᵢ = sha256(chunk i)`, chunk i being bytes
 * [i·MAX_CHUNK_BYTES, min(total, (i+1)·MAX_CHUNK_BYTES)). Every chunk the protocol carries is its own `dᵢ`,
 * so a receiver that checks each chunk's checksum gets the whole digest from 32 bytes per MiB, not from a
 * second pass over the data.
 */
export function finishTransferDigest(totalBytes: number, chunkCount: number, listSha256: Uint8Array): Buffer {
  const header = Buffer.alloc(TRANSFER_DIGEST_DOMAIN.length + 1 + 24);
  let at = header.write(TRANSFER_DIGEST_DOMAIN, 0, 'latin1') + 1;
  at = header.writeBigUInt64BE(BigInt(totalBytes), at);
  at = header.writeBigUInt64BE(BigInt(MAX_CHUNK_BYTES), at);
  header.writeBigUInt64BE(BigInt(chunkCount), at);
  return createHash('sha256').update(header).update(listSha256).digest();
}

/**
 * The transfer digest of `bytes` (the `sha256` an upload header, `QueryUpload`, a FIT result's
 * `update_sha256` and a task's `model_digest` carry): one sha256 pass over the bytes on the 1 MiB chunk grid,
 * then {@link finishTransferDigest}. Also returns the chunk digests, so a sender can reuse them as the
 * chunks' checksums instead of hashing every byte a second time.
 */
export function transferDigest(bytes: Uint8Array): { digest: Buffer; chunkSha256: Buffer[] } {
  const chunkSha256: Buffer[] = [];
  for (let at = 0; at < bytes.byteLength; at += MAX_CHUNK_BYTES) chunkSha256.push(sha256(bytes.subarray(at, Math.min(bytes.byteLength, at + MAX_CHUNK_BYTES))));
  return { digest: transferDigestOfChunks(bytes.byteLength, chunkSha256), chunkSha256 };
}

/** The transfer digest of `totalBytes` bytes from its chunks' sha256, in order (see {@link finishTransferDigest}). */
export function transferDigestOfChunks(totalBytes: number, chunkSha256: readonly Uint8Array[]): Buffer {
  const list = createHash('sha256');
  for (const d of chunkSha256) list.update(d);
  return finishTransferDigest(totalBytes, chunkSha256.length, list.digest());
}

/** Yields the chunks of `buf` from `offset` (on the 1 MiB grid) on. */
export function* chunkBuffer(buf: Uint8Array, offset = 0): Generator<ByteChunk> {
  const total = buf.byteLength;
  if (offset % MAX_CHUNK_BYTES !== 0) throw new RangeError(`offset ${offset} is not on the ${MAX_CHUNK_BYTES}-byte chunk grid`);
  for (let at = offset; at < total; at += MAX_CHUNK_BYTES) {
    const end = Math.min(total, at + MAX_CHUNK_BYTES);
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
  // Chunks sit on the 1 MiB grid (the transfer digest is defined over it): all full but the last.
  if (chunk.offset % MAX_CHUNK_BYTES !== 0) return `chunk at offset ${chunk.offset} is off the ${MAX_CHUNK_BYTES}-byte grid`;
  if (chunk.data.byteLength !== Math.min(MAX_CHUNK_BYTES, expectedTotal - chunk.offset)) {
    return `chunk of ${chunk.data.byteLength} bytes at offset ${chunk.offset}; chunks are ${MAX_CHUNK_BYTES} bytes except the last`;
  }
  if (chunk.sha256.byteLength !== 32) return 'chunk sha256 mismatch';
  return null;
}
