/**
 * Shared set-up of the PACS tests and the imaging bench: a real Orthanc loaded with the shared DICOM corpus,
 * and a fault-injecting HTTP proxy in front of its DICOMweb service (the network edge: the faults a real PACS
 * or a proxy produces, on chosen instances only).
 */
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { startOrthanc, type Orthanc } from './orthanc.js';

/** The corpus files (SOURCES.md lists them), sorted. */
export function corpusFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.tsv') && !e.name.endsWith('.md'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** One corpus file as Orthanc took it. */
export interface LoadedFile {
  readonly file: string;
  /** Stored now or before (`Success`, `AlreadyStored`). */
  readonly ok: boolean;
  readonly status: string;
  readonly sopInstanceUid?: string;
}

/** Starts Orthanc and POSTs every corpus file; returns what each upload answered. */
export async function orthancWithCorpus(root: string): Promise<{ orthanc: Orthanc; loaded: LoadedFile[] }> {
  const orthanc = await startOrthanc();
  try {
    const loaded: LoadedFile[] = [];
    for (const file of corpusFiles(root)) loaded.push({ file, ...(await orthanc.upload(file)) });
    return { orthanc, loaded };
  } catch (err) {
    await orthanc.close();
    throw err;
  }
}

/**
 * What the proxy does to a WADO-RS request whose path holds a given SOP Instance UID: answer 500 or 404, wait
 * before answering, reset the connection, answer a multipart body whose part is HTML, or a multipart body cut in
 * half (a complete HTTP answer).
 */
export type Fault = 'http-500' | 'http-404' | 'slow' | 'non-dicom-part' | 'truncated' | 'reset';

/** A proxy in front of Orthanc's DICOMweb root. `faults` may be changed between pulls. */
export interface FaultProxy {
  url: string;
  readonly faults: Map<string, Fault>;
  /** Answer 404 to the root `/instances` search, as servers without it do (the source then walks the hierarchy). */
  refuseRootSearch: boolean;
  /** Requests seen, by kind, and the most WADO-RS requests in flight at once. */
  readonly seen: { qido: number; wado: number; maxWadoInFlight: number };
  close: () => Promise<void>;
}

/** Starts a proxy on 127.0.0.1:0 forwarding to `target` (Orthanc's base URL), applying `faults` to WADO-RS instance requests. */
export async function startFaultProxy(target: string, slowMs = 5_000): Promise<FaultProxy> {
  const faults = new Map<string, Fault>();
  const seen = { qido: 0, wado: 0, maxWadoInFlight: 0 };
  const proxy: FaultProxy = { url: '', faults, seen, refuseRootSearch: false, close: () => Promise.resolve() };
  let wadoInFlight = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      const isWado = /\/instances\/[^/?]+$/.test(url.split('?')[0] ?? '');
      if (isWado) {
        seen.wado++;
        wadoInFlight++;
        seen.maxWadoInFlight = Math.max(seen.maxWadoInFlight, wadoInFlight);
        res.once('close', () => wadoInFlight--);
      } else seen.qido++;
      if (proxy.refuseRootSearch && /\/dicom-web\/instances$/.test(url.split('?')[0] ?? '')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such resource');
        return;
      }
      const fault = isWado ? [...faults].find(([uid]) => url.includes(uid))?.[1] : undefined;
      if (fault === 'http-500' || fault === 'http-404') {
        res.writeHead(fault === 'http-500' ? 500 : 404, { 'content-type': 'text/plain' }).end('fault injected');
        return;
      }
      if (fault === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault === 'slow') await new Promise((r) => setTimeout(r, slowMs));
      const upstream = await fetch(`${target}${url}`, { headers: { accept: req.headers.accept ?? '*/*' } });
      const body = Buffer.from(await upstream.arrayBuffer());
      const contentType = upstream.headers.get('content-type') ?? 'application/octet-stream';
      if (fault === 'non-dicom-part') {
        const boundary = 'tessera-fault-boundary';
        const text = Buffer.from(`--${boundary}\r\nContent-Type: text/html\r\n\r\n<html>login required</html>\r\n--${boundary}--\r\n`);
        res.writeHead(200, { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'content-length': text.length }).end(text);
        return;
      }
      if (fault === 'truncated') {
        // A complete HTTP answer whose multipart body stops half-way (no closing delimiter).
        const half = body.subarray(0, Math.floor(body.length / 2));
        res.writeHead(upstream.status, { 'content-type': contentType, 'content-length': half.length }).end(half);
        return;
      }
      res.writeHead(upstream.status, { 'content-type': contentType, 'content-length': body.length }).end(body);
    })().catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${port}/dicom-web`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
