import { createHash } from 'node:crypto';
import { ProtocolError } from '../../../shared/src/errors.js';
import { chunkBuffer, transferDigestOfChunks } from '../../../shared/src/transport/chunks.js';
import { ModelStoreError } from '../errors.js';
import type { ModelStore, UpdateSource } from '../rounds/round-ports.js';

/** The transfer digest (hex) of `bytes`: sha256 over the sha256 of its 1 MiB chunks (transport/chunks.ts). */
export function transferDigestHex(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return transferDigestOfChunks(buf.byteLength, [...chunkBuffer(buf, 0)].map((c) => c.sha256)).toString('hex');
}

/** In-memory twin of the UploadStore's read side: complete uploads by task id. */
export class MemoryUpdateStore implements UpdateSource {
  private readonly uploads = new Map<string, { bytes: Buffer; digest: string }>();

  /** A complete upload of `bytes` for `taskId` (what a site's UploadUpdate stream leaves); returns its transfer digest. */
  put(taskId: string, bytes: Uint8Array): string {
    const digest = transferDigestHex(bytes);
    this.uploads.set(taskId, { bytes: Buffer.from(bytes), digest });
    return digest;
  }

  isComplete(taskId: string, sha256Hex: string): boolean {
    return this.uploads.get(taskId)?.digest === sha256Hex;
  }

  read(taskId: string): Promise<Buffer> {
    const u = this.uploads.get(taskId);
    if (!u) return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_UPLOAD_INCOMPLETE', 'upload is not complete', { taskId }));
    return Promise.resolve(Buffer.from(u.bytes));
  }

  discard(taskId: string): Promise<void> {
    this.uploads.delete(taskId);
    return Promise.resolve();
  }

  /** Task ids of the uploads held now. */
  held(): string[] {
    return [...this.uploads.keys()].sort();
  }
}

/** In-memory twin of ModelRepository: versions by sha256, verified on every read. */
export class MemoryModelRepository implements ModelStore {
  private readonly versions = new Map<string, Buffer>();

  put(bytes: Uint8Array): Promise<string> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    this.versions.set(sha, Buffer.from(bytes));
    return Promise.resolve(sha);
  }

  get(sha256: string): Promise<Buffer> {
    const bytes = this.versions.get(sha256);
    if (!bytes) return Promise.reject(new ModelStoreError('TESSERA_MODEL_MISSING', `model version ${sha256} is missing`, { version: sha256 }));
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) return Promise.reject(new ModelStoreError('TESSERA_MODEL_CORRUPT', `model version ${sha256} is corrupt (its bytes hash to ${actual})`, { version: sha256 }));
    return Promise.resolve(Buffer.from(bytes));
  }

  async transferDigest(sha256: string): Promise<string> {
    return transferDigestHex(await this.get(sha256));
  }

  /** Test hook: flips one byte of a stored version (a disk fault). */
  corrupt(sha256: string): void {
    const bytes = this.versions.get(sha256);
    if (bytes && bytes.byteLength > 0) bytes[0] = (bytes[0] as number) ^ 0xff;
  }

  /** Test hook: forgets a version (a deleted file). */
  remove(sha256: string): void {
    this.versions.delete(sha256);
  }
}
