import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError } from '../../../shared/src/errors.js';
import { ModelStoreError } from '../errors.js';
import type { ModelStore, UpdateSource } from '../rounds/round-ports.js';
import { ALLOWED_UPLOAD_TRANSITIONS, assertTransition, type UploadStatus } from './states.js';
import { ChunkHasher, type HashMode } from '../../../shared/src/transport/chunk-hasher.js';
import { type ByteChunk, chunkBuffer, chunkShapeProblem, MAX_CHUNK_BYTES, transferDigestOfChunks } from '../../../shared/src/transport/chunks.js';

async function writeDurable(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/**
 * Global model versions as files named by the sha256 of their bytes, written durably (fsync, then an
 * atomic rename) *before* the database row that refers to them is committed.
 */
export class ModelRepository implements ModelStore {
  /**
   * Recently verified versions. Every site fetches the same global model each round; re-reading and
   * re-hashing the file per fetch was a third of the download cost. Entries are immutable (content-
   * addressed), so caching cannot serve stale data.
   */
  private readonly verified = new Map<string, CachedVersion>();

  constructor(
    private readonly dir: string,
    /** How many versions to keep verified in memory. @default 2 (the current model and the candidate) */
    private readonly cacheSize = 2,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private remember(sha256: string, bytes: Buffer): CachedVersion {
    const entry: CachedVersion = { bytes, chunks: undefined, transferDigest: undefined };
    this.verified.delete(sha256);
    this.verified.set(sha256, entry);
    while (this.verified.size > this.cacheSize) {
      const oldest = this.verified.keys().next().value;
      if (oldest === undefined) break;
      this.verified.delete(oldest);
    }
    return entry;
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ProtocolError('TESSERA_PROTOCOL_BAD_MODEL_VERSION', 'not a model version id');
    return path.join(this.dir, `${sha256}.bin`);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    await writeDurable(this.pathOf(sha), bytes);
    this.remember(sha, Buffer.from(bytes));
    return sha;
  }

  /** The bytes of a version, verified against its sha256 (a missing or corrupt file throws ModelStoreError). */
  async get(sha256: string): Promise<Buffer> {
    return (await this.entry(sha256)).bytes;
  }

  private async entry(sha256: string): Promise<CachedVersion> {
    const cached = this.verified.get(sha256);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ModelStoreError('TESSERA_MODEL_MISSING', `model file ${sha256}.bin is missing from ${this.dir}`, { version: sha256 }, { cause: err });
      }
      throw err;
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new ModelStoreError('TESSERA_MODEL_CORRUPT', `model file ${sha256} is corrupt (sha256 ${actual})`, { version: sha256 });
    return this.remember(sha256, bytes);
  }

  /**
   * The version's download chunks from `offset` (on the 1 MiB grid) on, each with its sha256. They are
   * hashed once per cached version (every site downloads the same model each round), not once per fetch.
   */
  async chunks(sha256: string, offset: number): Promise<ByteChunk[]> {
    const entry = await this.entry(sha256);
    if (offset % MAX_CHUNK_BYTES !== 0) throw new ProtocolError('TESSERA_PROTOCOL_BAD_OFFSET', `offset ${offset} is off the ${MAX_CHUNK_BYTES}-byte chunk grid`);
    entry.chunks ??= [...chunkBuffer(entry.bytes, 0)];
    return entry.chunks.slice(offset / MAX_CHUNK_BYTES);
  }

  /**
   * The version's transfer digest (`transferDigest` of chunks.ts, hex), which tasks carry so a site checks a
   * finished download without a second sha256 pass; from the cached chunk digests, so once per version.
   */
  async transferDigest(sha256: string): Promise<string> {
    const entry = await this.entry(sha256);
    if (entry.transferDigest === undefined) {
      entry.chunks ??= [...chunkBuffer(entry.bytes, 0)];
      entry.transferDigest = transferDigestOfChunks(entry.bytes.byteLength, entry.chunks.map((c) => c.sha256)).toString('hex');
    }
    return entry.transferDigest;
  }

  async size(sha256: string): Promise<number | undefined> {
    const cached = this.verified.get(sha256);
    if (cached) return cached.bytes.byteLength;
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      return undefined;
    }
  }
}

interface CachedVersion {
  bytes: Buffer;
  /** The version cut on the 1 MiB grid with each chunk's sha256, computed on first download. */
  chunks: ByteChunk[] | undefined;
  transferDigest: string | undefined;
}

interface UploadState {
  /** The open `.part` file while a stream appends to it. */
  file: FileHandle | undefined;
  totalBytes: number;
  /** The update's transfer digest; undefined until the trailer (or a resuming header or query) gives it. */
  sha256: Buffer | undefined;
  /** Bytes verified and written. */
  received: number;
  /** Bytes of chunks taken so far: `received` plus the chunks still being verified or written. */
  accepted: number;
  /** The latest chunk's verify-and-write step; the next chunk is written after it. */
  tail: Promise<void>;
  /** This upload attempt's key for its running sha256 on the hasher. */
  hashKey: string;
  /**
   * The upload stream that holds this upload (the token it began with), or undefined between streams. A newer
   * stream for the same task takes it over: the site only starts one after giving up on the previous, which
   * the coordinator may not have seen end yet. Chunks from a stream that no longer holds it are refused.
   */
  owner: object | undefined;
  /** Where the upload's lifecycle stands: the table ALLOWED_UPLOAD_TRANSITIONS in states.ts. */
  status: UploadStatus;
}

/** Moves `u` to `to`, as the upload table allows (anything else is a bug and throws IllegalStateError). */
function moveUpload(u: UploadState, to: UploadStatus): void {
  assertTransition('upload', ALLOWED_UPLOAD_TRANSITIONS, u.status, to);
  u.status = to;
}

/**
 * Partial site uploads, kept on disk so a transfer cut by a reconnect resumes from the last verified
 * byte. Keyed by task id; a task id belongs to one site and one round, which the endpoint checks.
 */
export class UploadStore implements UpdateSource {
  private readonly uploads = new Map<string, UploadState>();
  private readonly hasher: ChunkHasher;
  private attempts = 0;

  /** `hashMode`: verify chunks and keep the running sha256 on a worker thread (default) or inline. */
  constructor(
    private readonly dir: string,
    hashMode: HashMode = 'worker',
  ) {
    this.hasher = new ChunkHasher(hashMode, 'tessera-upload-hash');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private fileOf(taskId: string): string {
    return path.join(this.dir, `${createHash('sha256').update(taskId).digest('hex').slice(0, 32)}.part`);
  }

  /**
   * Bytes already held for `taskId` as the prefix of the update whose transfer digest is `sha256`, or 0.
   * Bytes from a stream that broke before its trailer (digest not known yet) count: `sha256` becomes the
   * claim the completed upload is checked against. When they are the whole update, that check runs now,
   * so a site is never told its update is in that is not: all the bytes if it matches, else 0 and the
   * bytes are dropped.
   */
  async held(taskId: string, sha256: Buffer): Promise<number> {
    const u = this.uploads.get(taskId);
    if (!u) return 0;
    // Chunks a closed stream had handed over may still be on their way to disk: count them.
    if (u.owner === undefined) await u.tail.catch(() => undefined);
    if (this.uploads.get(taskId) !== u) return 0;
    if (u.sha256 !== undefined) return u.sha256.equals(sha256) ? u.received : 0;
    if (u.status !== 'receiving' || u.owner !== undefined || u.received < u.totalBytes) return u.received;
    // Held by this check while it runs (the wait above left nothing in flight).
    const query = {};
    u.owner = query;
    try {
      u.sha256 = sha256;
      await this.finish(taskId, u);
      return u.received;
    } catch {
      return 0;
    } finally {
      if (u.owner === query) u.owner = undefined;
    }
  }

  /** Progress of `taskId`'s upload, if one was begun. */
  progress(taskId: string): { received: number; totalBytes: number; complete: boolean } | undefined {
    const u = this.uploads.get(taskId);
    return u && { received: u.received, totalBytes: u.totalBytes, complete: u.status === 'complete' };
  }

  isComplete(taskId: string, sha256Hex: string): boolean {
    const u = this.uploads.get(taskId);
    return u != null && u.status === 'complete' && u.sha256?.toString('hex') === sha256Hex;
  }

  /**
   * Starts or resumes an upload for the stream `owner` (any object unique to it, passed again to
   * append/seal/release); returns the offset the sender must continue from. `sha256` is the update's
   * transfer digest, or undefined for a fresh upload (offset 0) that sends it last ({@link seal}). A stream
   * still holding the upload is superseded (see UploadState.owner), once the chunks it handed over are
   * written.
   */
  async begin(taskId: string, totalBytes: number, sha256: Buffer | undefined, offset: number, owner: object): Promise<number> {
    const existing = this.uploads.get(taskId);
    if (existing) {
      // Chunks an earlier stream handed over may still be on their way to disk: wait for them, taking the
      // upload over from that stream if it still holds it.
      existing.owner = owner;
      await existing.tail.catch(() => undefined);
      if (existing.owner !== owner) throw tookOver(taskId);
      existing.owner = undefined;
    }
    if (sha256 === undefined && offset !== 0) {
      throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_OFFSET', `an upload without its digest in the header starts at byte 0, not ${offset}`, { taskId });
    }
    // A held prefix whose digest never came (its stream broke before the trailer) may be resumed under the
    // digest this header claims; the completed upload is checked against it.
    const sameUpdate = (u: UploadState, digest: Buffer): boolean => (u.sha256 === undefined ? u.status !== 'complete' : u.sha256.equals(digest));
    if (existing && this.uploads.get(taskId) === existing && sha256 !== undefined && sameUpdate(existing, sha256) && existing.totalBytes === totalBytes) {
      if (offset !== existing.received) {
        throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_OFFSET', `upload resumes at byte ${offset} but the coordinator holds ${existing.received}`, { taskId });
      }
      existing.owner = owner;
      existing.accepted = existing.received;
      existing.tail = Promise.resolve();
      if (existing.sha256 === undefined) {
        existing.sha256 = sha256;
        // Every byte is in already: the resuming stream carries no chunk, so check the whole upload now.
        if (existing.received === existing.totalBytes) await this.finish(taskId, existing);
      }
      return existing.received;
    }
    if (offset !== 0) {
      throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_OFFSET', `unknown upload cannot resume at byte ${offset}`, {
        taskId,
      });
    }
    const stale = this.uploads.get(taskId);
    if (stale) await this.forget(taskId, stale);
    await rm(this.fileOf(taskId), { force: true });
    this.uploads.set(taskId, {
      totalBytes,
      sha256,
      file: undefined,
      received: 0,
      accepted: 0,
      tail: Promise.resolve(),
      hashKey: `${taskId}#${++this.attempts}`,
      owner,
      status: 'receiving',
    });
    return 0;
  }

  /**
   * Takes the next chunk of `taskId`'s upload; resolves once it is verified and written, rejects with a
   * ProtocolError naming the problem otherwise. Call it for each chunk in stream order without waiting
   * for the previous one: the chunk's sha256 check starts at once (on the hasher, beside the event loop)
   * while earlier chunks are still being written, and chunks reach the file strictly in order. Once a chunk
   * is refused, the ones taken after it are refused too; what was written before it stays for a resume.
   */
  append(taskId: string, chunk: { offset: number; data: Buffer; sha256: Buffer; totalBytes: number }, owner: object): Promise<void> {
    const u = this.uploads.get(taskId);
    if (!u) return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_UPLOAD_UNKNOWN', 'chunk for an upload that was not begun', { taskId }));
    if (u.owner !== owner) return Promise.reject(tookOver(taskId));
    const problem = chunkShapeProblem(chunk, u.accepted, u.totalBytes);
    if (problem != null) return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_BAD_CHUNK', problem, { taskId, offset: chunk.offset }));
    u.accepted += chunk.data.byteLength;
    const verified = this.hasher.verifyAndAppend(u.hashKey, chunk.offset, chunk.data, chunk.sha256);
    // Handled here so that a chunk skipped after an earlier refusal leaves no unhandled rejection.
    verified.catch(() => undefined);
    const step = u.tail.then(async () => {
      if (this.uploads.get(taskId) !== u) {
        throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_UNKNOWN', 'upload was discarded while its chunks were in flight', { taskId });
      }
      if (!(await verified)) {
        throw new ProtocolError('TESSERA_PROTOCOL_BAD_CHUNK', 'chunk sha256 mismatch', { taskId, offset: chunk.offset });
      }
      try {
        u.file ??= await open(this.fileOf(taskId), 'a', 0o600);
        await u.file.write(chunk.data);
      } catch (err) {
        // The running digest already holds this chunk but the file may not: start this upload over.
        if (this.uploads.get(taskId) === u) await this.discard(taskId);
        throw err;
      }
      u.received += chunk.data.byteLength;
      // Without the digest yet, the trailer completes the upload (seal).
      if (u.received === u.totalBytes && u.sha256 !== undefined) await this.finish(taskId, u);
    });
    u.tail = step;
    return step;
  }

  /**
   * Takes the trailer of `taskId`'s upload: its transfer digest, after the last chunk. Resolves once the
   * whole upload is checked against it (after the chunks before it are written); rejects with a
   * ProtocolError when the trailer comes before the last chunk, differs from the header's digest, or the
   * upload does not match it (then the bytes are dropped).
   */
  seal(taskId: string, sha256: Buffer, owner: object): Promise<void> {
    const u = this.uploads.get(taskId);
    if (!u) return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_UPLOAD_UNKNOWN', 'trailer for an upload that was not begun', { taskId }));
    if (u.owner !== owner) return Promise.reject(tookOver(taskId));
    if (u.accepted !== u.totalBytes) {
      return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_BAD_TRAILER', `trailer after ${u.accepted} of ${u.totalBytes} bytes; it comes after the last chunk`, { taskId }));
    }
    if (u.sha256 !== undefined && !u.sha256.equals(sha256)) {
      return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_BAD_TRAILER', "the trailer's transfer digest differs from the header's", { taskId }));
    }
    const step = u.tail.then(async () => {
      if (this.uploads.get(taskId) !== u) {
        throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_UNKNOWN', 'upload was discarded while its chunks were in flight', { taskId });
      }
      if (u.sha256 !== undefined) return;
      u.sha256 = sha256;
      await this.finish(taskId, u);
    });
    u.tail = step;
    return step;
  }

  /** Checks a fully received upload against its digest: complete when it matches, dropped when not. */
  private async finish(taskId: string, u: UploadState): Promise<void> {
    await closeFile(u);
    moveUpload(u, 'verifying');
    const digest = await this.hasher.digest(u.hashKey);
    // Discarded while the digest was computed (the round gave up on it): nothing is left to complete.
    if (u.status === 'discarded') return;
    if (u.sha256 === undefined || !digest.equals(u.sha256)) {
      moveUpload(u, 'discarded');
      this.uploads.delete(taskId);
      await rm(this.fileOf(taskId), { force: true });
      throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_CHECKSUM', 'complete upload does not match its transfer digest', {
        taskId,
      });
    }
    moveUpload(u, 'complete');
  }

  /** Marks the stream `owner` of `taskId` closed, keeping what was received for a resume. */
  release(taskId: string, owner: object): void {
    const u = this.uploads.get(taskId);
    // A stream that was taken over has nothing left to release.
    if (!u || u.owner !== owner) return;
    u.owner = undefined;
    // Chunks already taken are still written; the file closes after the last one unless a new stream began.
    void u.tail
      .catch(() => undefined)
      .then(() => (u.owner === undefined ? closeFile(u) : undefined));
  }

  /** Reads a complete upload. */
  async read(taskId: string): Promise<Buffer> {
    const u = this.uploads.get(taskId);
    if (u?.status !== 'complete') throw new ProtocolError('TESSERA_PROTOCOL_UPLOAD_INCOMPLETE', 'upload is not complete', { taskId });
    return readFile(this.fileOf(taskId));
  }

  async discard(taskId: string): Promise<void> {
    const u = this.uploads.get(taskId);
    if (u) await this.forget(taskId, u);
    this.uploads.delete(taskId);
    await rm(this.fileOf(taskId), { force: true });
  }

  /** Stops the hash worker; the store must not be used afterwards. */
  async close(): Promise<void> {
    for (const u of this.uploads.values()) await closeFile(u);
    await this.hasher.close();
  }

  private async forget(taskId: string, u: UploadState): Promise<void> {
    await closeFile(u);
    if (u.status !== 'complete') await this.hasher.drop(u.hashKey).catch(() => undefined);
    if (u.status !== 'discarded') moveUpload(u, 'discarded');
    this.uploads.delete(taskId);
  }
}

/** The refusal a stream meets once a newer stream for the same task took its upload over. */
function tookOver(taskId: string): ProtocolError {
  return new ProtocolError('TESSERA_PROTOCOL_UPLOAD_BUSY', 'a newer upload stream for this task took over', { taskId });
}

async function closeFile(u: UploadState): Promise<void> {
  const file = u.file;
  u.file = undefined;
  await file?.close().catch(() => undefined);
}
