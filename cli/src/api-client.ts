import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { ApiError, ConfigError } from '../../shared/src/errors.js';

/** Where the operator CLI finds the REST API and its credentials: flags first, then environment variables. */
export interface ApiTarget {
  /** e.g. `http://127.0.0.1:7480` */
  url: string;
  token: string;
  /** PEM of the CA that signed an HTTPS API's certificate (the consortium CA). */
  ca?: string;
}

/** Options every `tessera study` / `tessera sites` command accepts. */
export const API_OPTIONS = {
  api: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

export const API_OPTIONS_USAGE = `  --api URL           REST API base URL (env TESSERA_API_URL; default http://127.0.0.1:7480)
  --token-file FILE   operator token from tessera provision (env TESSERA_API_TOKEN_FILE, or the token itself in
                      TESSERA_API_TOKEN)
  --ca FILE           CA certificate for an HTTPS API (the consortium's ca.crt)
  --json              machine-readable output on stdout`;

/** Resolves the API target from flags and environment; throws ConfigError (exit 2) when no token is given. */
export function resolveApiTarget(values: { api?: string | undefined; 'token-file'?: string | undefined; ca?: string | undefined }): ApiTarget {
  const url = (values.api ?? process.env['TESSERA_API_URL'] ?? 'http://127.0.0.1:7480').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(url)) throw new ConfigError(`--api must be http(s)://host:port, not '${url}'`);
  const tokenFile = values['token-file'] ?? process.env['TESSERA_API_TOKEN_FILE'];
  let token = process.env['TESSERA_API_TOKEN'];
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      throw new ConfigError(`--token-file ${tokenFile} cannot be read`);
    }
  }
  if (token === undefined || token === '') {
    throw new ConfigError('no credentials: give --token-file (operators/<id>/token from tessera provision) or set TESSERA_API_TOKEN');
  }
  return { url, token, ...(values.ca !== undefined ? { ca: readFileSync(values.ca, 'utf8') } : {}) };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A small REST client on node:http(s) (node's fetch cannot take a private CA without extra packages). */
export class ApiClient {
  constructor(
    private readonly target: ApiTarget,
    private readonly timeoutMs = 30_000,
  ) {}

  private request(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const url = new URL(path, this.target.url);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.target.token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.byteLength } : {}),
          },
          ...(this.target.ca !== undefined ? { ca: this.target.ca } : {}),
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) =>
        reject(new ApiError('TESSERA_API_UNREACHABLE', `cannot reach ${this.target.url}: ${err.message}`, { url: this.target.url }, { cause: err })),
      );
      req.end(payload);
    });
  }

  /** JSON request; non-2xx answers throw ApiError with the server's code and message. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    const text = res.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (res.status < 200 || res.status >= 300) {
      const err = parsed as { code?: string; message?: string } | null;
      const code = err?.code?.startsWith('TESSERA_API_') ? (err.code as `TESSERA_API_${string}`) : 'TESSERA_API_FAILED';
      throw new ApiError(code, err?.message ?? `HTTP ${res.status}`, { status: res.status });
    }
    return parsed as T;
  }

  /**
   * Follows the server-sent event stream until `onEvent` returns true (done) or the stream ends. Resolves true when
   * `onEvent` finished it.
   */
  events(onEvent: (event: { type: string; studyId?: string } & Record<string, unknown>) => boolean, onOpen?: () => void): Promise<boolean> {
    const url = new URL('/api/v1/events', this.target.url);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: 'GET',
          headers: { authorization: `Bearer ${this.target.token}`, accept: 'text/event-stream' },
          ...(this.target.ca !== undefined ? { ca: this.target.ca } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new ApiError(res.statusCode === 401 ? 'TESSERA_API_UNAUTHENTICATED' : 'TESSERA_API_FORBIDDEN', `event stream refused: HTTP ${res.statusCode ?? 0}`));
            return;
          }
          let buffer = '';
          res.setEncoding('utf8');
          onOpen?.();
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const data = block
                .split('\n')
                .filter((l) => l.startsWith('data: '))
                .map((l) => l.slice(6))
                .join('\n');
              if (data === '') continue;
              if (onEvent(JSON.parse(data) as { type: string })) {
                req.destroy();
                resolve(true);
                return;
              }
            }
          });
          res.on('end', () => resolve(false));
          res.on('error', () => resolve(false));
        },
      );
      req.on('error', (err) => {
        if (req.destroyed && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return;
        reject(new ApiError('TESSERA_API_UNREACHABLE', `cannot reach ${this.target.url}: ${err.message}`, { url: this.target.url }, { cause: err }));
      });
      req.end();
    });
  }
}

/** A text progress bar: redrawn in place on a TTY, one line per update otherwise (logs, CI). */
export class ProgressBar {
  private lastLine = '';
  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly width = 24,
  ) {}

  update(done: number, total: number, text: string): void {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * this.width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%  ${text}`;
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  end(): void {
    if (this.stream.isTTY && this.lastLine !== '') this.stream.write('\n');
    this.lastLine = '';
  }
}
