/**
 * The HTTP edge of the DICOMweb source: node:http/node:https with keep-alive, the hospital's own CA, a
 * per-request timeout and a size cap; the body either comes back in memory or streams into a file.
 */
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** Why a request produced no usable answer; `transient` ones are retried. */
export type HttpFailureCode = 'unreachable' | 'timeout' | 'http-status' | 'too-large' | 'connection-reset';

/** A failed request: a stable code, the status when there was one, and a message free of PHI. */
export class HttpFailure extends Error {
  constructor(
    readonly code: HttpFailureCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpFailure';
  }

  /** Network trouble, timeouts, 408, 429 and 5xx may pass; other 4xx will not. */
  get transient(): boolean {
    if (this.code === 'http-status') return this.status === 408 || this.status === 429 || (this.status ?? 0) >= 500;
    return this.code !== 'too-large';
  }
}

/** Options of {@link HttpClient}. */
export interface HttpClientOptions {
  /** PEM text of the CA that signed the server's certificate (https only). */
  readonly ca?: string | Buffer;
  /** PEM certificate and private key the client presents when the server asks for one (mutual TLS; https only). */
  readonly clientCertificate?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** `Authorization` header value sent with every request. */
  readonly authorization?: string;
  readonly timeoutMs: number;
  /** Largest body accepted. @default 2 GiB */
  readonly maxBytes?: number;
  /** Sockets kept open per host. */
  readonly maxSockets: number;
}

/** A response whose body is in memory. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** GETs over one keep-alive agent. */
export class HttpClient {
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #opts: HttpClientOptions;

  constructor(opts: HttpClientOptions) {
    this.#opts = opts;
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.clientCertificate !== undefined ? { cert: opts.clientCertificate.cert, key: opts.clientCertificate.key } : {}),
    });
  }

  /** GETs `url`; resolves with any status (callers decide), rejects with {@link HttpFailure} for transport trouble. */
  get(url: URL, headers: Record<string, string>): Promise<HttpResponse> {
    return this.#request(url, headers, async (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res) {
        size += (chunk as Buffer).length;
        if (size > (this.#opts.maxBytes ?? 2 ** 31)) throw new HttpFailure('too-large', `response from ${url.pathname} is larger than ${this.#opts.maxBytes ?? 2 ** 31} bytes`);
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    });
  }

  /**
   * GETs `url`; a 2xx body up to `spill.aboveBytes` stays in memory, a larger one (by Content-Length, or once it
   * grows past the limit) streams into `spill.file` (created with mode 0600, never overwritten). Other statuses
   * come back in memory (first 64 chunks).
   */
  async getOrSpill(
    url: URL,
    headers: Record<string, string>,
    spill: { readonly file: string; readonly aboveBytes: number },
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body?: Buffer; file?: string }> {
    const max = this.#opts.maxBytes ?? 2 ** 31;
    const res = await this.#request(url, headers, async (r): Promise<{ body?: Buffer; file?: string }> => {
      const chunks: Buffer[] = [];
      if ((r.statusCode ?? 0) < 200 || (r.statusCode ?? 0) >= 300) {
        for await (const chunk of r) if (chunks.length < 64) chunks.push(chunk as Buffer);
        return { body: Buffer.concat(chunks) };
      }
      const declared = Number(r.headers['content-length'] ?? Number.NaN);
      if (declared > max) throw new HttpFailure('too-large', `response from ${url.pathname} declares ${declared} bytes, more than ${max}`);
      let size = 0;
      let out: ReturnType<typeof createWriteStream> | undefined;
      const toFile = (): ReturnType<typeof createWriteStream> => {
        const w = createWriteStream(spill.file, { mode: 0o600, flags: 'wx' });
        for (const c of chunks) w.write(c);
        chunks.length = 0;
        return w;
      };
      if (declared > spill.aboveBytes) out = toFile();
      for await (const chunk of r) {
        size += (chunk as Buffer).length;
        if (size > max) throw new HttpFailure('too-large', `response from ${url.pathname} is larger than ${max} bytes`);
        if (out === undefined) {
          chunks.push(chunk as Buffer);
          if (size > spill.aboveBytes) out = toFile();
        } else if (!out.write(chunk)) await new Promise((resolve) => out?.once('drain', resolve));
      }
      if (out === undefined) return { body: Buffer.concat(chunks, size) };
      const w = out;
      await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())));
      return { file: spill.file };
    });
    return { status: res.status, headers: res.headers, ...res.body };
  }

  #request<T>(url: URL, headers: Record<string, string>, read: (res: http.IncomingMessage) => Promise<T>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: T }> {
    const isHttps = url.protocol === 'https:';
    const h: Record<string, string> = { ...headers };
    if (this.#opts.authorization !== undefined) h['authorization'] = this.#opts.authorization;
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, { method: 'GET', headers: h, agent: isHttps ? this.#httpsAgent : this.#httpAgent });
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(toFailure(err, url));
      };
      const timer = setTimeout(() => fail(new HttpFailure('timeout', `no complete answer from ${url.host}${url.pathname} within ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
      timer.unref();
      req.on('error', fail);
      req.on('response', (res) => {
        res.on('error', fail);
        read(res).then(
          (body) => {
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          },
          (err: unknown) => {
            clearTimeout(timer);
            fail(err);
          },
        );
      });
      req.end();
    });
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

function toFailure(err: unknown, url: URL): HttpFailure {
  if (err instanceof HttpFailure) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') {
    return new HttpFailure('unreachable', `${url.host} is unreachable (${code})`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new HttpFailure('connection-reset', `${url.host} closed the connection before the answer was complete (${code})`);
  }
  if (typeof code === 'string' && code.startsWith('ERR_SSL')) {
    // Alerts from the server: most often it wants a client certificate it trusts (mutual TLS).
    return new HttpFailure('unreachable', `TLS with ${url.host} failed (${code}): check the source's ca, clientCertificate and clientKey files`);
  }
  if (typeof code === 'string' && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('DEPTH_ZERO') || code === 'SELF_SIGNED_CERT_IN_CHAIN')) {
    return new HttpFailure('unreachable', `TLS with ${url.host} failed (${code}): check the source's ca file`);
  }
  return new HttpFailure('unreachable', `request to ${url.host} failed (${code ?? (err instanceof Error ? err.message : 'unknown')})`);
}
