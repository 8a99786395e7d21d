import * as grpc from '@grpc/grpc-js';
import os from 'node:os';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import { ProtocolError } from '../../shared/src/errors.js';
import { ChunkHasher } from '../../shared/src/transport/chunk-hasher.js';
import { type ByteChunk, chunkShapeProblem, MAX_CHUNK_BYTES, transferDigestOfChunks } from '../../shared/src/transport/chunks.js';
import { GRPC_CHANNEL_OPTIONS, loadFederationProto } from '../../shared/src/transport/proto.js';

export interface ClientTls {
  ca: Buffer;
  key: Buffer;
  cert: Buffer;
}

/** The agent's reconnect backoff (agent.yaml `reconnect`), in ms. */
export interface ReconnectBackoff {
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * grpc-js channel options that bound the channel's own reconnect backoff by the agent's. Without them a
 * channel that lost its coordinator backs off on its own schedule (1 s growing ×1.6 to 120 s), and while it
 * waits every new call fails at once with UNAVAILABLE: a coordinator back after a minute's absence was not
 * dialled again for up to a minute more, whatever `reconnect.maxDelayMs` said.
 */
export function reconnectChannelOptions(backoff: ReconnectBackoff): grpc.ChannelOptions {
  return {
    'grpc.initial_reconnect_backoff_ms': Math.max(1, Math.min(backoff.initialDelayMs, backoff.maxDelayMs)),
    'grpc.max_reconnect_backoff_ms': Math.max(1, backoff.maxDelayMs),
  };
}

/**
 * Opens an mTLS channel to the coordinator. The agent only ever dials out; with `backoff`, the channel
 * reconnects no slower than the agent's own backoff allows (see {@link reconnectChannelOptions}).
 */
export function createFederationClient(address: string, tls: ClientTls, backoff?: ReconnectBackoff): FederationClient {
  const proto = loadFederationProto();
  return new proto.tessera.v1.Federation(
    address,
    grpc.credentials.createSsl(tls.ca, tls.key, tls.cert),
    backoff ? { ...GRPC_CHANNEL_OPTIONS, ...reconnectChannelOptions(backoff) } : GRPC_CHANNEL_OPTIONS,
  );
}

/**
 * The agent's transfer hashing: chunk checksums, chunk checks and the running sha256 of a download. With
 * more than two cores it runs on a worker thread, so the event loop keeps moving bytes while earlier chunks
 * are hashed. With two or fewer, the worker only competes with the event loop and TLS for the same cores,
 * and each hand-over waits for a time slice: measured on a 2-core machine with the coordinator beside the
 * agent, uploads mostly ran at 0.5-0.7x the inline speed, so there the hashing stays on the event loop (still as
 * each chunk arrives, never as a second pass at the end). The worker starts on first use and does not keep
 * the process alive while idle.
 */
export const defaultTransferHasher = new ChunkHasher(os.availableParallelism() > 2 ? 'worker' : 'inline', 'tessera-transfer-hash');
/** Chunks hashed or verified ahead of the stream before it waits for the hasher. */
const CHUNKS_IN_FLIGHT = 8;
let downloads = 0;

/**
 * Downloads a model version into `into`, checking every chunk's sha256 and, at the end, the whole version's
 * transfer digest against `modelDigest` (the task's `model_digest`, hex): each byte is hashed once. A resumed
 * download re-hashes the prefix it holds. `into.received` counts verified bytes only, so a retry with the same
 * `into` resumes there.
 */
export function fetchModel(
  client: FederationClient,
  modelVersion: string,
  modelDigest: string,
  into: { buffer: Buffer | null; received: number },
  hasher: ChunkHasher = defaultTransferHasher,
): Promise<Buffer> {
  if (!/^[0-9a-f]{64}$/.test(modelDigest)) {
    return Promise.reject(new ProtocolError('TESSERA_PROTOCOL_BAD_CHECKSUM', `model digest for ${modelVersion.slice(0, 64)} is not 64 hex digits`));
  }
  return new Promise((resolve, reject) => {
    const key = `${modelVersion}#${++downloads}`;
    if (into.buffer === null) into.received = 0;
    // Chunks are checked on the hasher in stream order; `tail` settles after the latest one's verdict.
    let tail: Promise<void> = into.buffer !== null && into.received > 0 ? hasher.append(key, 0, into.buffer.subarray(0, into.received)) : Promise.resolve();
    let arrived = into.received;
    let inFlight = 0;
    let paused = false;
    let failed = false;
    const call = client.FetchModel({ modelVersion, offset: into.received });
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      call.cancel();
      hasher.drop(key).catch(() => undefined);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    call.on('data', (chunk: ByteChunk) => {
      if (failed) return;
      into.buffer ??= Buffer.alloc(chunk.totalBytes);
      const buffer = into.buffer;
      const problem = chunkShapeProblem(chunk, arrived, buffer.byteLength);
      if (problem != null) {
        fail(new ProtocolError('TESSERA_PROTOCOL_BAD_CHUNK', `model chunk refused: ${problem}`));
        return;
      }
      const bytes = chunk.data.byteLength;
      chunk.data.copy(buffer, chunk.offset);
      arrived += bytes;
      const verified = hasher.verifyAndAppend(key, chunk.offset, buffer.subarray(chunk.offset, chunk.offset + bytes), chunk.sha256);
      verified.catch(() => undefined);
      inFlight += 1;
      if (inFlight >= CHUNKS_IN_FLIGHT && !paused) {
        paused = true;
        call.pause();
      }
      tail = tail.then(async () => {
        if (!(await verified)) throw new ProtocolError('TESSERA_PROTOCOL_BAD_CHUNK', 'model chunk refused: chunk sha256 mismatch');
        into.received += bytes;
        inFlight -= 1;
        if (paused && inFlight < CHUNKS_IN_FLIGHT) {
          paused = false;
          call.resume();
        }
      });
      tail.catch(fail);
    });
    // Chunks verified before the stream broke still count, so a retry resumes after them. gRPC emits
    // 'error' before 'end' for a failed call; the call's own status is the error reported then.
    let broken = false;
    call.on('error', (err) => {
      broken = true;
      void tail.catch(() => undefined).then(() => fail(err));
    });
    call.on('end', () => {
      tail.then(async () => {
        if (failed || broken) return;
        const buf = into.buffer ?? Buffer.alloc(0);
        if (into.received !== buf.byteLength) {
          fail(new ProtocolError('TESSERA_PROTOCOL_SHORT_TRANSFER', `model stream ended at ${into.received} of ${buf.byteLength} bytes`));
          return;
        }
        const sha = (await hasher.digest(key)).toString('hex');
        if (sha !== modelDigest) {
          into.buffer = null;
          into.received = 0;
          fail(new ProtocolError('TESSERA_PROTOCOL_MODEL_CHECKSUM', 'downloaded model does not match its version hash'));
          return;
        }
        resolve(buf);
      }).catch(fail);
    });
  });
}

/** Asks how much of an upload the coordinator holds. */
export function queryUpload(client: FederationClient, taskId: string, sha256: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    client.QueryUpload({ taskId, sha256 }, (err, status) => (err ? reject(err) : resolve(status?.receivedBytes ?? 0)));
  });
}

export interface UploadArgs {
  taskId: string;
  studyId: string;
  round: number;
  siteId: string;
  bytes: Buffer;
  /**
   * The update's transfer digest (`transferDigest(bytes).digest`, chunks.ts). Absent on a fresh upload
   * (offset 0): the chunks are then hashed as they go out and the digest follows them in the trailer, so
   * the bytes are read once instead of twice (a whole pass before the first byte is sent).
   */
  sha256?: Buffer;
  /**
   * The chunks' sha256 as `transferDigest(bytes)` computed them along with `sha256`: given, they are sent
   * as they are, so each byte is hashed once on the site; absent, each chunk is hashed as it goes out.
   */
  chunkSha256?: readonly Buffer[];
  /** Byte to continue from (what QueryUpload reported; on the 1 MiB chunk grid). */
  offset: number;
}

/** The coordinator's receipt for an upload, with the update's transfer digest. */
export interface UploadReceipt {
  receivedBytes: number;
  complete: boolean;
  /** The transfer digest: `args.sha256`, or the one computed from the chunks and sent in the trailer. */
  sha256: Buffer;
}

/**
 * Streams an update from `offset` in checksummed chunks on the 1 MiB grid; resolves with the coordinator's
 * receipt. Without `chunkSha256`, chunk checksums are computed on the hasher up to CHUNKS_IN_FLIGHT chunks
 * ahead of the one being written. Without `sha256` (a fresh upload), the transfer digest is built from those
 * checksums and sent after the last chunk.
 */
export function uploadUpdate(client: FederationClient, args: UploadArgs, hasher: ChunkHasher = defaultTransferHasher): Promise<UploadReceipt> {
  const chunkCount = Math.ceil(args.bytes.byteLength / MAX_CHUNK_BYTES);
  if (args.chunkSha256 !== undefined && args.chunkSha256.length !== chunkCount) {
    return Promise.reject(new RangeError(`${args.chunkSha256.length} chunk checksums for an update of ${chunkCount} chunks`));
  }
  if (args.offset % MAX_CHUNK_BYTES !== 0) {
    return Promise.reject(new RangeError(`upload offset ${args.offset} is off the ${MAX_CHUNK_BYTES}-byte chunk grid`));
  }
  if (args.sha256 === undefined && args.offset !== 0) {
    return Promise.reject(new RangeError(`a resumed upload (offset ${args.offset}) needs the update's transfer digest`));
  }
  // Trailer mode: the chunk checksums as they go out, in order, for the digest sent last.
  const sent: Buffer[] | undefined = args.sha256 === undefined ? [] : undefined;
  let digest = args.sha256;
  return new Promise((resolve, reject) => {
    let settled = false;
    const call = client.UploadUpdate((err, receipt) => {
      settled = true;
      if (err) reject(err);
      else if (digest === undefined) reject(new ProtocolError('TESSERA_PROTOCOL_SHORT_TRANSFER', 'upload ended before its last chunk was sent'));
      else resolve({ receivedBytes: receipt?.receivedBytes ?? 0, complete: receipt?.complete ?? false, sha256: digest });
    });
    call.write({
      header: {
        taskId: args.taskId,
        studyId: args.studyId,
        round: args.round,
        siteId: args.siteId,
        totalBytes: args.bytes.byteLength,
        sha256: args.sha256 ?? Buffer.alloc(0),
        offset: args.offset,
      },
    });
    const total = args.bytes.byteLength;
    const ahead: Promise<ByteChunk>[] = [];
    let next = args.offset;
    const known = args.chunkSha256;
    const hashAhead = (): void => {
      while (ahead.length < CHUNKS_IN_FLIGHT && next < total) {
        const offset = next;
        const data = args.bytes.subarray(offset, Math.min(total, offset + MAX_CHUNK_BYTES));
        const given = known?.[offset / MAX_CHUNK_BYTES];
        const chunk = (given !== undefined ? Promise.resolve(given) : hasher.hash(data)).then((sha256) => ({ offset, data, sha256, totalBytes: total }));
        chunk.catch(() => undefined);
        ahead.push(chunk);
        next = offset + data.byteLength;
      }
    };
    // Resolves when the stream can take more, or once the call is over.
    const writable = (): Promise<void> =>
      new Promise((r) => {
        const done = (): void => {
          call.off('drain', done);
          call.off('status', done);
          r();
        };
        call.on('drain', done);
        call.on('status', done);
      });
    const send = async (): Promise<void> => {
      hashAhead();
      for (let pending = ahead.shift(); pending !== undefined; pending = ahead.shift()) {
        const chunk = await pending;
        hashAhead();
        if (settled) return;
        sent?.push(chunk.sha256);
        if (!call.write({ chunk })) await writable();
      }
      if (settled) return;
      if (sent) {
        digest = transferDigestOfChunks(total, sent);
        call.write({ trailer: { sha256: digest } });
      }
      call.end();
    };
    send().catch((err: unknown) => {
      if (settled) return;
      settled = true;
      call.cancel();
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
