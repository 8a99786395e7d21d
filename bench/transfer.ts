import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AGENT_OLD_SPACE_FLAG, COORDINATOR_NODE_FLAGS } from '../cli/src/bin-path.js';
import { createSiteAuthenticator } from '../coordinator/src/coordinator.js';
import { createFederationHandlers } from '../coordinator/src/grpc/federation-endpoint.js';
import { startGrpcServer } from '../coordinator/src/grpc/server.js';
import { SiteSessions } from '../coordinator/src/sessions/site-sessions.js';
import { ModelRepository, UploadStore } from '../coordinator/src/store/blob-store.js';
import { SqliteCoordinatorStore } from '../coordinator/src/store/sqlite-store.js';
import { createFederationClient, fetchModel, queryUpload, uploadUpdate } from '../site-agent/src/coordinator-client.js';
import { parseConsortiumConfig } from '../shared/src/config/consortium-config.js';
import { createLogger } from '../shared/src/logging.js';
import { RevocationStore } from '../shared/src/pki/index.js';
import { provisionConsortium } from '../coordinator/src/pki/index.js';
import { repoRoot } from '../shared/src/paths.js';
import { round } from './report.js';
import { sendAll } from './send-all.js';
import { checkReceipt, type ClientCommand, type ClientReply } from './transfer-client.js';

export type TransferPath = 'raw-tcp' | 'raw-tls' | 'grpc-mtls-upload' | 'grpc-mtls-download';

/**
 * Where the sending side runs: on the coordinator's thread (one event loop does both ends), or on a
 * worker thread with its own event loop, as a site agent is a separate process.
 */
export type ClientPlacement = 'same-thread' | 'worker-thread';

export interface TransferOptions {
  /** Payload sizes in bytes. @default [64 MiB, 256 MiB] */
  sizes?: readonly number[];
  /** @default ['same-thread', 'worker-thread'] */
  clients?: readonly ClientPlacement[];
  /** Runs per case; the fastest counts. @default 3 */
  runs?: number;
}

export interface TransferResult {
  path: TransferPath;
  client: ClientPlacement;
  bytes: number;
  /** Best wall time of `runs`, seconds. */
  seconds: number;
  /** bytes / seconds / 1e6 (decimal megabytes). */
  MBps: number;
  /** MBps / raw TCP MBps for the same size (1 = as fast as a bare socket). */
  ratioToRawTcp: number;
  /** MBps / raw TLS MBps for the same size. */
  ratioToRawTls: number;
}

const MiB = 1024 * 1024;
const SITE = 'bench-site';

/** Throwaway consortium (CA, coordinator and one site certificate) in `dir`. */
function provision(dir: string): { caPem: Buffer; server: { cert: Buffer; key: Buffer }; site: { cert: Buffer; key: Buffer }; revocations: string } {
  const pkiDir = path.join(dir, 'pki');
  const consortium = parseConsortiumConfig(
    JSON.stringify({ name: 'bench', coordinator: { host: '127.0.0.1', port: 0 }, sites: [{ id: SITE }] }),
    'consortium.yaml',
  );
  provisionConsortium(consortium, pkiDir, new Date());
  const c = path.join(pkiDir, 'coordinator');
  const s = path.join(pkiDir, 'sites', SITE);
  return {
    caPem: readFileSync(path.join(c, 'ca.crt')),
    server: { cert: readFileSync(path.join(c, 'server.crt')), key: readFileSync(path.join(c, 'server.key')) },
    site: { cert: readFileSync(path.join(s, 'site.crt')), key: readFileSync(path.join(s, 'site.key')) },
    revocations: path.join(c, 'revocations.json'),
  };
}

/** A sink server side: counts bytes and answers one byte once `expect` bytes arrived. */
interface Sink {
  expect: number;
  onSocket(socket: net.Socket): void;
}

function createSink(): Sink {
  const sink: Sink = {
    expect: 0,
    onSocket(socket) {
      let got = 0;
      socket.on('data', (d: Buffer) => {
        got += d.byteLength;
        if (got >= sink.expect) {
          got = 0;
          socket.write(Buffer.from([1]));
        }
      });
      socket.on('error', () => socket.destroy());
    },
  };
  return sink;
}

async function timeRuns(runs: number, fn: () => Promise<void>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : 0);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One way of driving the site side; every method returns seconds for the timed work. */
interface Sender {
  prepare(size: number): Promise<void>;
  raw(path: 'tcp' | 'tls', runs: number): Promise<number>;
  upload(taskId: string): Promise<number>;
  download(version: string, digest: string, size: number): Promise<number>;
}

/** The site side on a worker thread (bench/transfer-client.ts), one command at a time. */
class WorkerClient {
  private readonly worker: Worker;
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    // From dist/ the worker file sits beside this one; from the TypeScript sources (tests) use the build.
    const here = fileURLToPath(import.meta.url);
    const file = here.endsWith('.ts') ? path.join(repoRoot(), 'dist', 'bench', 'transfer-client.js') : path.join(path.dirname(here), 'transfer-client.js');
    // The site side gets an agent's V8 old-space start (AGENT_NODE_FLAGS), not this process's coordinator one:
    // a worker's heap is configured from the flags in force when it is created. Isolates created later in
    // this process (the upload store's hash worker) get it too; they hold no transfer buffers.
    v8.setFlagsFromString(AGENT_OLD_SPACE_FLAG);
    this.worker = new Worker(file);
  }

  run(cmd: ClientCommand): Promise<number> {
    const next = this.queue.then(
      () =>
        new Promise<number>((resolve, reject) => {
          const onError = (err: Error): void => reject(err);
          this.worker.once('error', onError);
          this.worker.once('message', (reply: ClientReply) => {
            this.worker.off('error', onError);
            if (reply.ok) resolve(reply.seconds ?? 0);
            else reject(new Error(`transfer client (${cmd.op}): ${reply.error}`));
          });
          this.worker.postMessage(cmd);
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.run({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

/**
 * Moves one payload over raw TCP, raw TLS (same certificates) and Tessera's gRPC + mTLS path (the real
 * endpoint, authenticator, upload store and model repository; client functions of the site agent), all on
 * 127.0.0.1 in this one process, so both ends share the event loop and the cores.
 */
export async function runTransferSuite(opts: TransferOptions = {}): Promise<TransferResult[]> {
  // The coordinator's end runs in this process: measure it under the flags its launchers give it.
  const missing = COORDINATOR_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length > 0) console.warn(`transfer: this process lacks the coordinator's node flags (${missing.join(' ')}); run it with them (npm run bench does) to measure what a deployed coordinator does`);
  const sizes = opts.sizes ?? [64 * MiB, 256 * MiB];
  const runs = opts.runs ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-'));
  const logger = createLogger({ name: 'bench', level: 'warn', destination: 2 });
  const pki = provision(dir);
  const caPemText = pki.caPem.toString('utf8');

  // Raw TCP and raw TLS sinks.
  const tcpSink = createSink();
  const tcpServer = net.createServer((s) => tcpSink.onSocket(s));
  const tlsSink = createSink();
  const tlsServer = tls.createServer(
    { key: pki.server.key, cert: pki.server.cert, ca: pki.caPem, requestCert: true, rejectUnauthorized: true },
    (s) => tlsSink.onSocket(s),
  );
  const tcpPort = await listen(tcpServer);
  const tlsPort = await listen(tlsServer);
  const tcpClient = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(tcpPort, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const tlsClient = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: pki.caPem, key: pki.site.key, cert: pki.site.cert }, () =>
      resolve(s),
    );
    s.once('error', reject);
  });

  // The coordinator's gRPC endpoint, as Coordinator.create wires it (minus the study runner).
  const store = await SqliteCoordinatorStore.open(path.join(dir, 'coordinator.sqlite'));
  const sessions = new SiteSessions(logger);
  const models = new ModelRepository(path.join(dir, 'models'));
  // TESSERA_BENCH_HASH=inline measures chunk verification on the event loop instead of the hash worker (A/B).
  const uploads = new UploadStore(path.join(dir, 'uploads'), process.env.TESSERA_BENCH_HASH === 'inline' ? 'inline' : 'worker');
  const expected = new Map<string, number>();
  const revocations = RevocationStore.open({ path: pki.revocations, caCertPem: caPemText });
  const grpcServer = await startGrpcServer({
    handlers: createFederationHandlers({
      sessions,
      uploads,
      models,
      store,
      auth: createSiteAuthenticator(caPemText, revocations, Date.now),
      logger,
      coordinatorId: 'bench',
      heartbeatIntervalMs: 5000,
      expectedUpdateBytes: (taskId) => expected.get(taskId),
    }),
    caPem: pki.caPem,
    certPem: pki.server.cert,
    keyPem: pki.server.key,
    port: 0,
    logger,
  });
  const client = createFederationClient(`127.0.0.1:${grpcServer.port}`, { ca: pki.caPem, key: pki.site.key, cert: pki.site.cert });

  const results: TransferResult[] = [];
  let taskSeq = 0;
  const placements = opts.clients ?? ['same-thread', 'worker-thread'];
  let worker: WorkerClient | undefined;
  try {
    // Opens the channel (TLS handshake, HTTP/2 settings) outside the timings, as the raw sockets are.
    await queryUpload(client, 'warm-up', Buffer.alloc(32));
    for (const placement of placements) {
      let sender: Sender;
      if (placement === 'same-thread') {
        let bytes: Buffer = Buffer.alloc(0);
        sender = {
          prepare: (size) => {
            bytes = randomFillSync(Buffer.allocUnsafe(size));
            return Promise.resolve();
          },
          raw: (p, n) => timeRuns(n, () => sendAll(p === 'tcp' ? tcpClient : tlsClient, bytes)),
          upload: async (taskId) => {
            // As the agent's first try: no digest up front; chunks are hashed as they go out, digest in the trailer.
            const t0 = process.hrtime.bigint();
            const receipt = await uploadUpdate(client, { taskId, studyId: 'bench', round: 1, siteId: SITE, bytes, offset: 0 });
            const s = Number(process.hrtime.bigint() - t0) / 1e9;
            checkReceipt(taskId, receipt, bytes);
            return s;
          },
          download: (version, digest, size) =>
            timeRuns(1, async () => {
              const got = await fetchModel(client, version, digest, { buffer: null, received: 0 });
              if (got.byteLength !== size) throw new Error(`download returned ${got.byteLength} of ${size} bytes`);
            }),
        };
      } else {
        const w = new WorkerClient();
        worker = w;
        await w.run({ op: 'init', caPem: pki.caPem, key: pki.site.key, cert: pki.site.cert, grpcAddress: `127.0.0.1:${grpcServer.port}`, tcpPort, tlsPort });
        sender = {
          prepare: async (size) => void (await w.run({ op: 'payload', size })),
          raw: (p, n) => w.run({ op: 'raw', path: p, runs: n }),
          upload: (taskId) => w.run({ op: 'upload', taskId, siteId: SITE }),
          download: (version, digest, size) => w.run({ op: 'download', version, digest, size }),
        };
      }
      for (const size of sizes) {
        await sender.prepare(size);
        tcpSink.expect = size;
        tlsSink.expect = size;
        const rawTcp = await sender.raw('tcp', runs);
        const rawTls = await sender.raw('tls', runs);

        // Upload: a pending FIT task per run (what the round workflow dispatches), then the agent's uploadUpdate.
        let upload = Number.POSITIVE_INFINITY;
        for (let i = 0; i < runs; i++) {
          const taskId = `bench-${++taskSeq}`;
          expected.set(taskId, size);
          void sessions.dispatch(SITE, { taskId, kind: 'TASK_KIND_FIT', studyId: 'bench', round: 1 }, 600_000);
          upload = Math.min(upload, await sender.upload(taskId));
          sessions.acceptRefusal(SITE, taskId, 'BENCH_DONE', 'benchmark run finished');
          expected.delete(taskId);
          await uploads.discard(taskId);
        }

        // Download: a stored model version of the same size, fetched with the agent's fetchModel.
        // Its transfer digest is what a task carries (computed once per version, before any task is sent).
        const version = await models.put(randomFillSync(Buffer.allocUnsafe(size)));
        const digest = await models.transferDigest(version);
        let download = Number.POSITIVE_INFINITY;
        for (let i = 0; i < runs; i++) download = Math.min(download, await sender.download(version, digest, size));
        rmSync(models.pathOf(version), { force: true });

        const mbps = (s: number): number => size / s / 1e6;
        const row = (p: TransferPath, s: number): TransferResult => ({
          path: p,
          client: placement,
          bytes: size,
          seconds: round(s),
          MBps: round(mbps(s)),
          ratioToRawTcp: round(mbps(s) / mbps(rawTcp), 3),
          ratioToRawTls: round(mbps(s) / mbps(rawTls), 3),
        });
        results.push(row('raw-tcp', rawTcp), row('raw-tls', rawTls), row('grpc-mtls-upload', upload), row('grpc-mtls-download', download));
      }
      await worker?.close();
      worker = undefined;
    }
  } finally {
    await worker?.close();
    client.close();
    tcpClient.destroy();
    tlsClient.destroy();
    await grpcServer.close();
    await uploads.close();
    await Promise.all([closeServer(tcpServer), closeServer(tlsServer)]);
    sessions.cancelAll('benchmark finished');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
