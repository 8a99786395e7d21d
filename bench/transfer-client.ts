/**
 * The site side of the transfer benchmark on its own thread (and event loop), as a site agent is its own
 * process: raw TCP and TLS senders and the agent's gRPC client functions. Driven by `transfer.ts` over
 * the worker's message port; every timing is taken here, around the client call alone.
 */
import { randomFillSync } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { parentPort } from 'node:worker_threads';
import { createFederationClient, fetchModel, queryUpload, uploadUpdate } from '../site-agent/src/coordinator-client.js';
import { transferDigest } from '../shared/src/transport/chunks.js';
import { sendAll } from './send-all.js';

export type ClientCommand =
  | { op: 'init'; caPem: Uint8Array; key: Uint8Array; cert: Uint8Array; grpcAddress: string; tcpPort: number; tlsPort: number }
  | { op: 'payload'; size: number }
  | { op: 'raw'; path: 'tcp' | 'tls'; runs: number }
  | { op: 'upload'; taskId: string; siteId: string }
  | { op: 'download'; version: string; digest: string; size: number }
  | { op: 'close' };

/** Throws unless `receipt` confirms all of `bytes` under their transfer digest. */
export function checkReceipt(taskId: string, receipt: { receivedBytes: number; complete: boolean; sha256: Buffer }, bytes: Buffer): void {
  if (!receipt.complete || receipt.receivedBytes !== bytes.byteLength) throw new Error(`upload ${taskId} incomplete: ${receipt.receivedBytes} of ${bytes.byteLength} bytes`);
  if (!receipt.sha256.equals(transferDigest(bytes).digest)) throw new Error(`upload ${taskId}: the digest sent is not the bytes' transfer digest`);
}

export type ClientReply = { ok: true; seconds?: number } | { ok: false; error: string };

let tcp: net.Socket | undefined;
let tlsSocket: tls.TLSSocket | undefined;
let client: ReturnType<typeof createFederationClient> | undefined;
let payload: Buffer = Buffer.alloc(0);

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function handle(cmd: ClientCommand): Promise<ClientReply> {
  switch (cmd.op) {
    case 'init': {
      const ca = Buffer.from(cmd.caPem);
      const key = Buffer.from(cmd.key);
      const cert = Buffer.from(cmd.cert);
      tcp = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(cmd.tcpPort, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
      tlsSocket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: cmd.tlsPort, ca, key, cert }, () => resolve(s));
        s.once('error', reject);
      });
      client = createFederationClient(cmd.grpcAddress, { ca, key, cert });
      // Opens the channel (TLS handshake, HTTP/2 settings) outside the timings, as the raw sockets are.
      await queryUpload(client, 'warm-up', Buffer.alloc(32));
      return { ok: true };
    }
    case 'payload':
      payload = randomFillSync(Buffer.allocUnsafe(cmd.size));
      return { ok: true };
    case 'raw': {
      const socket = cmd.path === 'tcp' ? tcp : tlsSocket;
      if (!socket) throw new Error('not initialised');
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < cmd.runs; i++) {
        const t0 = process.hrtime.bigint();
        await sendAll(socket, payload);
        best = Math.min(best, seconds(t0));
      }
      return { ok: true, seconds: best };
    }
    case 'upload': {
      if (!client) throw new Error('not initialised');
      // As the agent's first try: no digest up front; chunks are hashed as they go out, digest in the trailer.
      const t0 = process.hrtime.bigint();
      const receipt = await uploadUpdate(client, { taskId: cmd.taskId, studyId: 'bench', round: 1, siteId: cmd.siteId, bytes: payload, offset: 0 });
      const s = seconds(t0);
      checkReceipt(cmd.taskId, receipt, payload);
      return { ok: true, seconds: s };
    }
    case 'download': {
      if (!client) throw new Error('not initialised');
      const t0 = process.hrtime.bigint();
      const got = await fetchModel(client, cmd.version, cmd.digest, { buffer: null, received: 0 });
      const s = seconds(t0);
      if (got.byteLength !== cmd.size) throw new Error(`download returned ${got.byteLength} of ${cmd.size} bytes`);
      return { ok: true, seconds: s };
    }
    case 'close':
      client?.close();
      tcp?.destroy();
      tlsSocket?.destroy();
      return { ok: true };
  }
}

parentPort?.on('message', (cmd: ClientCommand) => {
  handle(cmd).then(
    (reply) => parentPort?.postMessage(reply),
    (err: unknown) => parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
