import type * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CoordinatorMessage__Output } from '../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import type { SiteMessage } from '../../protos/gen/tessera/v1/SiteMessage.js';
import type { Task__Output } from '../../protos/gen/tessera/v1/Task.js';
import { createFederationClient, type ClientTls } from '../../site-agent/src/coordinator-client.js';
import { PROTOCOL_VERSION } from '../../shared/src/transport/proto.js';

/** The mTLS material of a provisioned site kit (`<pkiDir>/sites/<id>`). */
export function siteTls(pkiDir: string, siteId: string): ClientTls {
  const dir = path.join(pkiDir, 'sites', siteId);
  return {
    ca: readFileSync(path.join(dir, 'ca.crt')),
    cert: readFileSync(path.join(dir, 'site.crt')),
    key: readFileSync(path.join(dir, 'site.key')),
  };
}

/** The consortium CA (`<pkiDir>/ca`), for issuing extra certificates in a test. */
export function consortiumCa(pkiDir: string): { certPem: string; keyPem: string } {
  return {
    certPem: readFileSync(path.join(pkiDir, 'ca', 'ca.crt'), 'utf8'),
    keyPem: readFileSync(path.join(pkiDir, 'ca', 'ca.key'), 'utf8'),
  };
}

/**
 * A hand-driven site: a real mTLS `Connect` stream on which the test writes protocol messages itself,
 * recording everything the coordinator sends and how the stream ends.
 */
export class HandSite {
  readonly client: FederationClient;
  readonly stream: grpc.ClientDuplexStream<SiteMessage, CoordinatorMessage__Output>;
  readonly received: CoordinatorMessage__Output[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(address: string, tls: ClientTls) {
    this.client = createFederationClient(address, tls);
    this.stream = this.client.Connect();
    this.stream.on('data', (m: CoordinatorMessage__Output) => {
      this.received.push(m);
      this.notify();
    });
    this.stream.on('error', (e: grpc.ServiceError) => {
      this.error = e;
      this.notify();
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /** Says hello as `siteId`, then keeps the stream alive with a heartbeat every `heartbeatMs` like an agent. */
  hello(siteId: string, heartbeatMs = 500): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.error || this.ended) clearInterval(this.heartbeat);
      else this.send({ heartbeat: { sentAtMs: Date.now() } });
    }, heartbeatMs);
    this.send({ hello: { siteId, agentVersion: 'hand-0', backend: 'cpu', protocolVersion: PROTOCOL_VERSION, datasets: {} } });
  }

  send(message: SiteMessage): void {
    this.stream.write(message);
  }

  /** Waits until `pick` finds something, the stream fails, or `timeoutMs` passes (rejects naming `what`). */
  private until<T>(what: string, pick: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const hit = pick();
        if (hit !== undefined) return finish(() => resolve(hit));
        const error = this.error;
        if (error) return finish(() => reject(error));
        if (this.ended) finish(() => reject(new Error(`stream ended while waiting for ${what}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms`))), timeoutMs);
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  welcome(timeoutMs = 5000): Promise<NonNullable<CoordinatorMessage__Output['welcome']>> {
    return this.until('welcome', () => this.received.find((m) => m.welcome)?.welcome ?? undefined, timeoutMs);
  }

  /** The first task of `kind` received (tasks are re-sent on reconnect; the first copy is returned). */
  task(kind: Task__Output['kind'], timeoutMs = 15_000): Promise<Task__Output> {
    return this.until(`${kind} task`, () => this.received.find((m) => m.task?.kind === kind)?.task ?? undefined, timeoutMs);
  }

  /** Resolves with the stream's error status (rejects if the stream is still healthy after `timeoutMs`). */
  failure(timeoutMs = 5000): Promise<grpc.ServiceError> {
    return this.until('stream error', () => this.error, timeoutMs);
  }

  /** The coordinator's answer to hello: a welcome, or the stream's error status. */
  outcome(timeoutMs = 5000): Promise<{ ok: true } | { ok: false; error: grpc.ServiceError }> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.received.some((m) => m.welcome)) finish(() => resolve({ ok: true }));
        else if (this.error) {
          const error = this.error;
          finish(() => resolve({ ok: false, error }));
        } else if (this.ended) finish(() => reject(new Error('stream ended without a welcome or an error')));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no answer to hello within ${timeoutMs} ms`))), timeoutMs);
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.stream.cancel();
    this.client.close();
  }
}

/**
 * Opens a `Connect` stream with `tls`, says hello as `siteId` and reports how the coordinator answered:
 * a welcome, or the error status of the (first) call. With TLS 1.3 a refused client certificate shows up
 * only here, on the first call, not at connect time.
 */
export async function tryConnect(
  address: string,
  tls: ClientTls,
  siteId: string,
  timeoutMs = 5000,
): Promise<{ ok: true } | { ok: false; error: grpc.ServiceError }> {
  const site = new HandSite(address, tls);
  site.hello(siteId);
  try {
    return await site.outcome(timeoutMs);
  } finally {
    site.close();
  }
}
