import type * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionLocalConsortium } from '../../cli/src/local-federation/index.js';
import { createSiteAuthenticator } from '../../coordinator/src/coordinator.js';
import { createFederationHandlers } from '../../coordinator/src/grpc/federation-endpoint.js';
import { startGrpcServer, type RunningGrpcServer } from '../../coordinator/src/grpc/server.js';
import { SiteSessions } from '../../coordinator/src/sessions/site-sessions.js';
import { ModelRepository, UploadStore } from '../../coordinator/src/store/blob-store.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import type { UploadMessage } from '../../protos/gen/tessera/v1/UploadMessage.js';
import { RevocationStore } from '../../shared/src/pki/index.js';
import { ChunkHasher, type HashMode } from '../../shared/src/transport/chunk-hasher.js';
import { MAX_CHUNK_BYTES, transferDigest } from '../../shared/src/transport/chunks.js';
import { createFederationClient, fetchModel, queryUpload, uploadUpdate } from '../../site-agent/src/coordinator-client.js';
import { quietLogger } from '../helpers/federation-fixture.js';
import { siteTls } from '../helpers/hand-site.js';

const MiB = MAX_CHUNK_BYTES;
const SITE = 'site-1';
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
/** The whole-transfer checksum the protocol carries (sha256 over the chunks' sha256). */
const digestOf = (b: Uint8Array): Buffer => transferDigest(b).digest;

/** Sends `messages` on one UploadUpdate stream as given (no waiting between them); the receipt or the error. */
function rawUpload(client: FederationClient, messages: UploadMessage[]): Promise<{ receivedBytes: number; complete: boolean } | grpc.ServiceError> {
  return new Promise((resolve) => {
    const call = client.UploadUpdate((err, receipt) => resolve(err ?? { receivedBytes: receipt?.receivedBytes ?? 0, complete: receipt?.complete ?? false }));
    for (const m of messages) call.write(m);
    call.end();
  });
}

/**
 * Chunked, checksummed, resumable transfers against the coordinator's real gRPC endpoint over mTLS on
 * 127.0.0.1 (upload store, model repository and site-agent client functions as in production). Chunks are
 * verified several at a time (on hash workers, or inline where the agent has two cores or fewer: both ways
 * run here on both ends); these tests pin down that a refused or missing chunk never lets later bytes in,
 * and that a resumed transfer ends with exactly the sender's bytes.
 */
describe.each<HashMode>(['worker', 'inline'])('update upload and model download resume over gRPC + mTLS (hashing: %s)', (mode) => {
  const hasher = new ChunkHasher(mode);
  let dir: string;
  let server: RunningGrpcServer;
  let client: FederationClient;
  let sessions: SiteSessions;
  let uploads: UploadStore;
  let models: ModelRepository;
  let store: SqliteCoordinatorStore;
  let seq = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-resume-'));
    const pkiDir = provisionLocalConsortium(dir, { name: 'it', siteIds: [SITE] });
    const c = path.join(pkiDir, 'coordinator');
    const caPem = readFileSync(path.join(c, 'ca.crt'));
    const logger = quietLogger('coordinator');
    store = await SqliteCoordinatorStore.open(path.join(dir, 'coordinator.sqlite'));
    sessions = new SiteSessions(logger);
    models = new ModelRepository(path.join(dir, 'models'));
    uploads = new UploadStore(path.join(dir, 'uploads'), mode);
    const revocations = RevocationStore.open({ path: path.join(c, 'revocations.json'), caCertPem: caPem.toString('utf8') });
    server = await startGrpcServer({
      handlers: createFederationHandlers({
        sessions,
        uploads,
        models,
        store,
        auth: createSiteAuthenticator(caPem.toString('utf8'), revocations, Date.now),
        logger,
        coordinatorId: 'it',
        heartbeatIntervalMs: 5000,
        expectedUpdateBytes: () => undefined,
      }),
      caPem,
      certPem: readFileSync(path.join(c, 'server.crt')),
      keyPem: readFileSync(path.join(c, 'server.key')),
      port: 0,
      logger,
    });
    client = createFederationClient(`127.0.0.1:${server.port}`, siteTls(pkiDir, SITE));
  });

  afterAll(async () => {
    client.close();
    await server.close();
    await uploads.close();
    sessions.cancelAll('test finished');
    await store.close();
    await hasher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A pending fit task for site-1, as the round workflow dispatches it. */
  function openTask(): string {
    const taskId = `task-${++seq}`;
    void sessions.dispatch(SITE, { taskId, kind: 'TASK_KIND_FIT', studyId: 'study', round: 1 }, 600_000);
    return taskId;
  }

  function header(taskId: string, bytes: Buffer, offset = 0): UploadMessage {
    return { header: { taskId, studyId: 'study', round: 1, siteId: SITE, totalBytes: bytes.byteLength, sha256: digestOf(bytes), offset } };
  }

  function chunks(bytes: Buffer, from: number, to: number, corrupt?: number): UploadMessage[] {
    const out: UploadMessage[] = [];
    for (let at = from; at < to; at += MiB) {
      const data = bytes.subarray(at, Math.min(to, at + MiB));
      out.push({ chunk: { offset: at, data, sha256: at === corrupt ? sha(randomBytes(8)) : sha(data), totalBytes: bytes.byteLength } });
    }
    return out;
  }

  it('uploads a multi-chunk update whole: the coordinator holds exactly the sent bytes', async () => {
    const bytes = randomBytes(5 * MiB + 12_345);
    const taskId = openTask();
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset: 0 }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
  });

  it('resumes an upload whose stream stopped after three chunks from the byte the coordinator reports', async () => {
    const bytes = randomBytes(6 * MiB + 99);
    const taskId = openTask();
    const first = await rawUpload(client, [header(taskId, bytes), ...chunks(bytes, 0, 3 * MiB)]);
    expect(first).toEqual({ receivedBytes: 3 * MiB, complete: false });
    const offset = await queryUpload(client, taskId, digestOf(bytes));
    expect(offset).toBe(3 * MiB);
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
  });

  it('refuses a chunk with a wrong sha256 and every chunk sent behind it, keeps the verified prefix, and resumes there', async () => {
    const bytes = randomBytes(8 * MiB);
    const taskId = openTask();
    // All eight chunks go out back to back, so chunks 4-7 are already being verified when chunk 3 fails.
    const refused = await rawUpload(client, [header(taskId, bytes), ...chunks(bytes, 0, 8 * MiB, 3 * MiB)]);
    expect(refused).toMatchObject({ details: expect.stringContaining('chunk sha256 mismatch') as unknown });
    expect((refused as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_BAD_CHUNK');
    const offset = await queryUpload(client, taskId, digestOf(bytes));
    expect(offset).toBe(3 * MiB);
    // Resuming anywhere else is refused by name.
    const wrong = await rawUpload(client, [header(taskId, bytes, 4 * MiB), ...chunks(bytes, 4 * MiB, 8 * MiB)]);
    expect((wrong as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_UPLOAD_OFFSET');
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
  });

  it('refuses a complete upload whose bytes do not match the header sha256, and starts it over', async () => {
    const bytes = randomBytes(2 * MiB + 7);
    const other = Buffer.from(bytes);
    other.writeUInt8(other.readUInt8(other.byteLength - 1) ^ 0xff, other.byteLength - 1);
    const taskId = openTask();
    // Every chunk carries its own correct checksum, but the whole does not match the header's.
    const result = await rawUpload(client, [header(taskId, bytes), ...chunks(other, 0, other.byteLength)]);
    expect((result as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_UPLOAD_CHECKSUM');
    expect(await queryUpload(client, taskId, digestOf(bytes))).toBe(0);
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset: 0 }, hasher);
    expect(receipt.complete).toBe(true);
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
  });

  it('sends the chunk checksums the site computed with the digest, and the coordinator still checks each chunk', async () => {
    const bytes = randomBytes(4 * MiB + 5);
    const { digest, chunkSha256 } = transferDigest(bytes);
    const taskId = openTask();
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digest, chunkSha256, offset: 0 }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
    // A wrong precomputed checksum (here chunk 2's, as if the bytes changed after hashing) is caught there.
    const wrong = chunkSha256.map((d, i) => (i === 2 ? sha(randomBytes(8)) : d));
    const other = openTask();
    await expect(uploadUpdate(client, { taskId: other, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digest, chunkSha256: wrong, offset: 0 }, hasher)).rejects.toMatchObject({
      details: expect.stringContaining('chunk sha256 mismatch') as unknown,
    });
    expect(await queryUpload(client, other, digest)).toBe(2 * MiB);
  });

  /** An upload header without the digest (a fresh upload that sends it in the trailer). */
  let streamA: grpc.ClientWritableStream<UploadMessage> | undefined;

  function bareHeader(taskId: string, bytes: Buffer): UploadMessage {
    return { header: { taskId, studyId: 'study', round: 1, siteId: SITE, totalBytes: bytes.byteLength, sha256: Buffer.alloc(0), offset: 0 } };
  }

  it('uploads without the digest up front: chunks are hashed as they go out and the digest follows in the trailer', async () => {
    const bytes = randomBytes(5 * MiB + 777);
    const taskId = openTask();
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, offset: 0 }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect(uploads.isComplete(taskId, digestOf(bytes).toString('hex'))).toBe(true);
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
    // A resumed upload must name its digest in the header.
    await expect(uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, offset: MiB }, hasher)).rejects.toThrow(/needs the update's transfer digest/);
    const mid = await rawUpload(client, [{ header: { ...bareHeader(openTask(), bytes).header, offset: MiB } }]);
    expect((mid as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_UPLOAD_OFFSET');
  });

  it('resumes a trailer upload cut after three chunks under the digest the site then names, and checks it at the end', async () => {
    const bytes = randomBytes(6 * MiB + 99);
    const taskId = openTask();
    expect(await rawUpload(client, [bareHeader(taskId, bytes), ...chunks(bytes, 0, 3 * MiB)])).toEqual({ receivedBytes: 3 * MiB, complete: false });
    expect(await queryUpload(client, taskId, digestOf(bytes))).toBe(3 * MiB);
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset: 3 * MiB }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);

    // A held prefix that is not the named update's (the site's bytes changed between tries) fails the final
    // check: refused, dropped, and the next try starts from zero.
    const other = openTask();
    const changed = randomBytes(bytes.byteLength);
    await rawUpload(client, [bareHeader(other, changed), ...chunks(changed, 0, 3 * MiB)]);
    const resumed = await rawUpload(client, [header(other, bytes, 3 * MiB), ...chunks(bytes, 3 * MiB, bytes.byteLength)]);
    expect((resumed as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_UPLOAD_CHECKSUM');
    expect(await queryUpload(client, other, digestOf(bytes))).toBe(0);
  });

  it('completes a trailer upload cut after its last chunk only when the digest named later matches the bytes', async () => {
    const bytes = randomBytes(3 * MiB + 5);
    const good = openTask();
    expect(await rawUpload(client, [bareHeader(good, bytes), ...chunks(bytes, 0, bytes.byteLength)])).toEqual({ receivedBytes: bytes.byteLength, complete: false });
    // Every byte is in; the query checks the whole against the digest it names before reporting it.
    expect(await queryUpload(client, good, digestOf(bytes))).toBe(bytes.byteLength);
    expect(uploads.isComplete(good, digestOf(bytes).toString('hex'))).toBe(true);

    const bad = openTask();
    await rawUpload(client, [bareHeader(bad, bytes), ...chunks(bytes, 0, bytes.byteLength)]);
    expect(await queryUpload(client, bad, digestOf(randomBytes(16)))).toBe(0);
    expect(uploads.progress(bad)).toBeUndefined();
  });

  it('lets a resuming stream take over an upload whose previous stream the coordinator still counts as open', async () => {
    const bytes = randomBytes(4 * MiB + 10);
    const taskId = openTask();
    // Stream A: a fresh upload (digest to come last) that stops sending after two chunks but stays open, as a
    // connection the site gave up on and the coordinator has not yet seen die.
    let aResult: grpc.ServiceError | null | undefined;
    const aDone = new Promise<void>((resolve) => {
      const a = client.UploadUpdate((err) => {
        aResult = err;
        resolve();
      });
      for (const m of [bareHeader(taskId, bytes), ...chunks(bytes, 0, 2 * MiB)]) a.write(m);
      streamA = a;
    });
    for (let i = 0; i < 200 && (uploads.progress(taskId)?.received ?? 0) < 2 * MiB; i++) await new Promise((r) => setTimeout(r, 10));
    expect(uploads.progress(taskId)?.received).toBe(2 * MiB);
    // Stream B resumes there under the digest and completes; A's next chunk is refused, and A ends refused.
    const receipt = await uploadUpdate(client, { taskId, studyId: 'study', round: 1, siteId: SITE, bytes, sha256: digestOf(bytes), offset: 2 * MiB }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
    for (const m of chunks(bytes, 2 * MiB, 3 * MiB)) streamA?.write(m);
    streamA?.end();
    await aDone;
    expect(aResult?.code).toBe(10); // ABORTED: the site asks again rather than giving up
    expect(aResult?.details).toContain('TESSERA_PROTOCOL_UPLOAD_BUSY');
    expect((await uploads.read(taskId)).equals(bytes)).toBe(true);
    expect(uploads.isComplete(taskId, digestOf(bytes).toString('hex'))).toBe(true);
  });

  it('refuses a trailer that comes before the last chunk, differs from the header, or does not match the bytes', async () => {
    const bytes = randomBytes(3 * MiB);
    const early = await rawUpload(client, [bareHeader(openTask(), bytes), ...chunks(bytes, 0, MiB), { trailer: { sha256: digestOf(bytes) } }]);
    expect((early as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_BAD_TRAILER');
    expect((early as grpc.ServiceError).details).toContain('after 1048576 of 3145728 bytes');
    const differs = await rawUpload(client, [header(openTask(), bytes), ...chunks(bytes, 0, bytes.byteLength), { trailer: { sha256: sha(bytes) } }]);
    expect((differs as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_BAD_TRAILER');
    const wrong = openTask();
    const mismatch = await rawUpload(client, [bareHeader(wrong, bytes), ...chunks(bytes, 0, bytes.byteLength), { trailer: { sha256: digestOf(randomBytes(8)) } }]);
    expect((mismatch as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_UPLOAD_CHECKSUM');
    expect(uploads.progress(wrong)).toBeUndefined();
    const short = await rawUpload(client, [bareHeader(openTask(), bytes), ...chunks(bytes, 0, bytes.byteLength), { trailer: { sha256: Buffer.alloc(5) } }]);
    expect((short as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_BAD_CHECKSUM');
    const headless = await rawUpload(client, [{ trailer: { sha256: digestOf(bytes) } }]);
    expect((headless as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_NO_HEADER');
    // None of these refusals costs another upload: the same bytes still go through whole.
    const after = openTask();
    const receipt = await uploadUpdate(client, { taskId: after, studyId: 'study', round: 1, siteId: SITE, bytes, offset: 0 }, hasher);
    expect(receipt).toEqual({ receivedBytes: bytes.byteLength, complete: true, sha256: digestOf(bytes) });
  });

  it('refuses chunks off the 1 MiB grid (a short chunk before the last) and a download offset off the grid', async () => {
    const bytes = randomBytes(3 * MiB);
    const taskId = openTask();
    const short = bytes.subarray(0, 1000);
    const result = await rawUpload(client, [header(taskId, bytes), { chunk: { offset: 0, data: short, sha256: sha(short), totalBytes: bytes.byteLength } }]);
    expect((result as grpc.ServiceError).details).toContain('TESSERA_PROTOCOL_BAD_CHUNK');
    expect((result as grpc.ServiceError).details).toContain('chunks are 1048576 bytes except the last');
    const version = await models.put(bytes);
    await expect(fetchModel(client, version, await models.transferDigest(version), { buffer: Buffer.alloc(bytes.byteLength), received: 1000 }, hasher)).rejects.toMatchObject({
      details: expect.stringContaining('TESSERA_PROTOCOL_BAD_OFFSET') as unknown,
    });
  });

  it('refuses a download whose chunks are intact but whose whole does not match the task\'s model digest', async () => {
    const model = randomBytes(2 * MiB + 3);
    const version = await models.put(model);
    // The digest of other bytes of the same length: every chunk passes its own check, the whole does not.
    const stranger = digestOf(randomBytes(model.byteLength)).toString('hex');
    await expect(fetchModel(client, version, stranger, { buffer: null, received: 0 }, hasher)).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_MODEL_CHECKSUM' });
    await expect(fetchModel(client, version, 'not-hex', { buffer: null, received: 0 }, hasher)).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_BAD_CHECKSUM' });
  });

  it('serves concurrent downloads of different versions intact (the coordinator reuses one chunk encoding buffer)', async () => {
    const a = randomBytes(4 * MiB + 11);
    const b = randomBytes(3 * MiB + 5);
    const [va, vb] = [await models.put(a), await models.put(b)];
    const [da, db] = [await models.transferDigest(va), await models.transferDigest(vb)];
    const got = await Promise.all([
      fetchModel(client, va, da, { buffer: null, received: 0 }, hasher),
      fetchModel(client, vb, db, { buffer: null, received: 0 }, hasher),
      fetchModel(client, va, da, { buffer: null, received: 0 }, hasher),
    ]);
    expect(got.map((g, i) => g.equals([a, b, a][i] ?? Buffer.alloc(0)))).toEqual([true, true, true]);
  });

  it('downloads a model whole, and resumes a partial download from the verified prefix it holds', async () => {
    const model = randomBytes(7 * MiB + 321);
    const version = await models.put(model);
    expect((await fetchModel(client, version, await models.transferDigest(version), { buffer: null, received: 0 }, hasher)).equals(model)).toBe(true);
    // What a retry finds after a stream broke at 5 MiB: the verified prefix, the rest not yet written.
    const held = Buffer.alloc(model.byteLength);
    model.copy(held, 0, 0, 5 * MiB);
    const into = { buffer: held, received: 5 * MiB };
    const got = await fetchModel(client, version, await models.transferDigest(version), into, hasher);
    expect(got.equals(model)).toBe(true);
    expect(into.received).toBe(model.byteLength);
  });

  it('refuses a resumed download whose held prefix is corrupt (whole-version sha256) and starts the next try from zero', async () => {
    const model = randomBytes(3 * MiB);
    const version = await models.put(model);
    const held = Buffer.alloc(model.byteLength);
    model.copy(held, 0, 0, 2 * MiB);
    held.writeUInt8(held.readUInt8(1000) ^ 0x01, 1000);
    const into: { buffer: Buffer | null; received: number } = { buffer: held, received: 2 * MiB };
    await expect(fetchModel(client, version, await models.transferDigest(version), into, hasher)).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_MODEL_CHECKSUM' });
    expect(into).toEqual({ buffer: null, received: 0 });
    expect((await fetchModel(client, version, await models.transferDigest(version), into, hasher)).equals(model)).toBe(true);
  });
});
