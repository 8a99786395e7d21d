import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import { ProtocolError } from '../../shared/src/errors.js';
import { chunkBuffer, chunkProblem } from '../../shared/src/transport/chunks.js';
import { GRPC_CHANNEL_OPTIONS, loadFederationProto } from '../../shared/src/transport/proto.js';

export interface ClientTls {
  ca: Buffer;
  key: Buffer;
  cert: Buffer;
}

/** Opens an mTLS channel to the coordinator. The agent only ever dials out. */
export function createFederationClient(address: string, tls: ClientTls): FederationClient {
  const proto = loadFederationProto();
  return new proto.tessera.v1.Federation(
    address,
    grpc.credentials.createSsl(tls.ca, tls.key, tls.cert),
    GRPC_CHANNEL_OPTIONS,
  );
}

/**
 * Downloads a model version into `into` (bytes already there are kept, so a retry resumes at
 * `into.received`), checking every chunk's sha256 and the whole version's sha256 at the end.
 */
export function fetchModel(
  client: FederationClient,
  modelVersion: string,
  into: { buffer: Buffer | null; received: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = client.FetchModel({ modelVersion, offset: into.received });
    call.on('data', (chunk: { offset: number; data: Buffer; sha256: Buffer; totalBytes: number }) => {
      if (into.buffer === null) into.buffer = Buffer.alloc(chunk.totalBytes);
      const problem = chunkProblem(chunk, into.received, into.buffer.byteLength);
      if (problem != null) {
        call.cancel();
        reject(new ProtocolError('TESSERA_PROTOCOL_BAD_CHUNK', `model chunk refused: ${problem}`));
        return;
      }
      chunk.data.copy(into.buffer, chunk.offset);
      into.received += chunk.data.byteLength;
    });
    call.on('error', reject);
    call.on('end', () => {
      const buf = into.buffer ?? Buffer.alloc(0);
      if (into.received !== buf.byteLength) {
        reject(new ProtocolError('TESSERA_PROTOCOL_SHORT_TRANSFER', `model stream ended at ${into.received} of ${buf.byteLength} bytes`));
        return;
      }
      const sha = createHash('sha256').update(buf).digest('hex');
      if (sha !== modelVersion) {
        into.buffer = null;
        into.received = 0;
        reject(new ProtocolError('TESSERA_PROTOCOL_MODEL_CHECKSUM', 'downloaded model does not match its version hash'));
        return;
      }
      resolve(buf);
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
  sha256: Buffer;
  /** Byte to continue from (what QueryUpload reported). */
  offset: number;
  /** @default MAX_CHUNK_BYTES */
  chunkBytes?: number;
}

/** Streams an update from `offset` in checksummed chunks; resolves with the coordinator's receipt. */
export function uploadUpdate(client: FederationClient, args: UploadArgs): Promise<{ receivedBytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const call = client.UploadUpdate((err, receipt) =>
      err ? reject(err) : resolve({ receivedBytes: receipt?.receivedBytes ?? 0, complete: receipt?.complete ?? false }),
    );
    call.write({
      header: {
        taskId: args.taskId,
        studyId: args.studyId,
        round: args.round,
        siteId: args.siteId,
        totalBytes: args.bytes.byteLength,
        sha256: args.sha256,
        offset: args.offset,
      },
    });
    const chunks = chunkBuffer(args.bytes, args.offset, args.chunkBytes);
    const pump = (): void => {
      for (;;) {
        const next = chunks.next();
        if (next.done) {
          call.end();
          return;
        }
        if (!call.write({ chunk: next.value })) {
          call.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
