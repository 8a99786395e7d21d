/**
 * DICOMweb source: QIDO-RS to list studies, series and instances (PS3.18 §10.6), WADO-RS to retrieve each
 * instance as `multipart/related; type="application/dicom"` in its stored transfer syntax (§10.4). Every
 * request waits for the rate limiter and runs inside the concurrency limit; transient failures (network,
 * timeouts, 408/429/5xx) are retried with backoff; each instance's body is held in memory (or, above
 * `spillAboveBytes`, streamed into a 0600 file of the incoming folder), split, handed to the gate, and the file
 * removed as soon as the gate is done with it.
 */
import { readFile } from 'node:fs/promises';
import type { DicomwebSourceConfig, PacsQuery } from '../../../../shared/src/config/agent-config.js';
import { InputError, PacsError, TesseraError } from '../../../../shared/src/errors.js';
import { HttpClient, HttpFailure, type HttpResponse } from './http-client.js';
import { incomingFile, removeIncoming } from './incoming.js';
import { RateLimiter, runPool, sleep } from './limits.js';
import { parseMultipart } from './multipart.js';
import type { InstanceRef, PacsFailureCode, PacsSearchResult, PacsSource, RetrieveOutcome } from './pacs-source.js';

/** Settings of {@link DicomwebSource}, paths already resolved and secrets already read. */
export interface DicomwebSourceOptions {
  readonly url: string;
  readonly authorization?: string;
  readonly ca?: string;
  /** PEM client certificate and key (mutual TLS). */
  readonly clientCertificate?: { readonly cert: string; readonly key: string };
  readonly concurrency: number;
  readonly requestsPerSecond: number;
  readonly timeoutMs: number;
  readonly retries: number;
  /**
   * A WADO-RS body larger than this streams into the incoming folder instead of memory (huge multi-frame
   * instances); smaller ones never touch the disk before the gate. @default 64 MiB
   */
  readonly spillAboveBytes?: number;
  /** Results asked per QIDO page. @default 1000 */
  readonly pageSize?: number;
}

/** Reads the source's secrets and CA (paths relative to `baseDir`) into {@link DicomwebSourceOptions}. */
export async function dicomwebOptions(cfg: DicomwebSourceConfig, resolve: (p: string) => string, name: string): Promise<DicomwebSourceOptions> {
  const read = async (file: string, field: string): Promise<string> => {
    try {
      return (await readFile(resolve(file), 'utf8')).trim();
    } catch (err) {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `sources.${name}.${field}: cannot read ${resolve(file)}`, { file: resolve(file) }, { cause: err });
    }
  };
  let authorization: string | undefined;
  const auth = cfg.auth ?? { type: 'none' };
  if (auth.type === 'basic') authorization = `Basic ${Buffer.from(`${auth.username}:${await read(auth.passwordFile, 'auth.passwordFile')}`).toString('base64')}`;
  if (auth.type === 'bearer') authorization = `Bearer ${await read(auth.tokenFile, 'auth.tokenFile')}`;
  return {
    url: cfg.url,
    ...(authorization !== undefined ? { authorization } : {}),
    ...(cfg.ca !== undefined ? { ca: await read(cfg.ca, 'ca') } : {}),
    ...(cfg.clientCertificate !== undefined && cfg.clientKey !== undefined
      ? { clientCertificate: { cert: await read(cfg.clientCertificate, 'clientCertificate'), key: await read(cfg.clientKey, 'clientKey') } }
      : {}),
    concurrency: cfg.concurrency ?? 4,
    requestsPerSecond: cfg.requestsPerSecond ?? 20,
    timeoutMs: cfg.timeoutMs ?? 30_000,
    retries: cfg.retries ?? 2,
  };
}

/** A UID as a PACS may hold it: PS3.5 wants digits and dots, real archives hold worse; only what breaks a path or query is refused. */
const UID = /^[^\s/\\?#&*]{1,128}$/;
const ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*';

type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

function firstString(obj: DicomJson, tag: string): string | undefined {
  const v = obj[tag]?.Value?.[0];
  return typeof v === 'string' ? v.trim() : undefined;
}

const FILTER_TAGS: Readonly<Record<string, string>> = { Modality: '00080060', SeriesDescription: '0008103E', BodyPartExamined: '00180015', StudyDate: '00080020' };

/** DICOM wildcard matching (`*`, `?`), case-insensitive as most archives match descriptions. */
function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(value);
}

/** Whether every filter the answer echoes (modality, series description, body part, study date) matches. */
function echoedFiltersMatch(inst: DicomJson, params: Record<string, string>): boolean {
  for (const [key, tag] of Object.entries(FILTER_TAGS)) {
    const want = params[key];
    const got = firstString(inst, tag);
    if (want === undefined || got === undefined) continue;
    if (key === 'StudyDate') {
      const [from, to] = want.split('-');
      if ((from !== undefined && from !== '' && got < from) || (to !== undefined && to !== '' && got > to)) return false;
    } else if (!wildcard(want, got)) return false;
  }
  return true;
}

/** A DICOMweb PACS. */
export class DicomwebSource implements PacsSource {
  readonly kind = 'dicomweb' as const;
  readonly #base: string;
  readonly #http: HttpClient;
  readonly #limiter: RateLimiter;
  readonly #opts: DicomwebSourceOptions;

  constructor(opts: DicomwebSourceOptions) {
    this.#opts = opts;
    this.#base = opts.url.replace(/\/+$/, '').replace(/\/studies$/, '');
    this.#http = new HttpClient({
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.clientCertificate !== undefined ? { clientCertificate: opts.clientCertificate } : {}),
      ...(opts.authorization !== undefined ? { authorization: opts.authorization } : {}),
      timeoutMs: opts.timeoutMs,
      maxSockets: opts.concurrency,
    });
    this.#limiter = new RateLimiter(opts.requestsPerSecond, opts.concurrency);
  }

  /** `GET` with rate limit and retries; resolves with a 2xx response or throws {@link HttpFailure}. */
  async #get(url: URL, accept: string): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      await this.#limiter.take();
      try {
        const res = await this.#http.get(url, { accept });
        if (res.status >= 200 && res.status < 300) return res;
        throw new HttpFailure('http-status', `${url.pathname.slice(this.#basePathLength())} answered HTTP ${res.status}`, res.status);
      } catch (err) {
        const failure = err instanceof HttpFailure ? err : new HttpFailure('unreachable', String(err));
        if (!failure.transient || attempt >= this.#opts.retries) throw failure;
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  #basePathLength(): number {
    return new URL(this.#base).pathname.length;
  }

  async #qido(pathname: string, params: Record<string, string>): Promise<DicomJson[]> {
    const pageSize = this.#opts.pageSize ?? 1000;
    const out: DicomJson[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const url = new URL(`${this.#base}${pathname}`);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      url.searchParams.set('limit', String(pageSize));
      url.searchParams.set('offset', String(offset));
      const res = await this.#get(url, 'application/dicom+json');
      if (res.status === 204 || res.body.length === 0) return out;
      let page: unknown;
      try {
        page = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new HttpFailure('http-status', `${pathname} answered with a body that is not DICOM JSON`, res.status);
      }
      if (!Array.isArray(page)) throw new HttpFailure('http-status', `${pathname} answered with a body that is not a DICOM JSON array`, res.status);
      out.push(...(page as DicomJson[]));
      if (page.length < pageSize) return out;
    }
  }

  /**
   * One QIDO-RS "search for all instances" (`/instances`, PS3.18 §10.6.1) per accession number / patient ID ×
   * modality, every filter in the query string: a handful of requests instead of one per study and series.
   * Every filter the answer echoes is checked again here (a server that ignored one must not widen the pull).
   * Returns undefined when the server does not offer the resource (400, 404, 405, 501): the caller walks
   * studies → series → instances instead.
   */
  async #searchFlat(query: PacsQuery): Promise<PacsSearchResult | undefined> {
    const base: Record<string, string> = { includefield: '00080060,0008103E,00180015,00080020' };
    if (query.studyDateFrom !== undefined || query.studyDateTo !== undefined) base['StudyDate'] = `${query.studyDateFrom ?? ''}-${query.studyDateTo ?? ''}`;
    if (query.studyDescription !== undefined) base['StudyDescription'] = query.studyDescription;
    if (query.seriesDescription !== undefined) base['SeriesDescription'] = query.seriesDescription;
    if (query.bodyPart !== undefined) base['BodyPartExamined'] = query.bodyPart;
    const ids: Record<string, string>[] = [
      ...(query.accessionNumbers ?? []).map((a) => ({ AccessionNumber: a })),
      ...(query.patientIds ?? []).map((p) => ({ PatientID: p })),
    ];
    const searches = (ids.length > 0 ? ids : [{}]).flatMap((id) => (query.modalities ?? [undefined]).map((m) => ({ ...base, ...id, ...(m !== undefined ? { Modality: m } : {}) })));
    const instances: InstanceRef[] = [];
    const seen = new Set<string>();
    const problems: { code: PacsFailureCode; message: string }[] = [];
    for (const params of searches) {
      let found: DicomJson[];
      try {
        found = await this.#qido('/instances', params);
      } catch (err) {
        if (err instanceof HttpFailure && err.code === 'http-status' && [400, 404, 405, 501].includes(err.status ?? 0)) return undefined;
        throw err;
      }
      for (const inst of found) {
        const study = firstString(inst, '0020000D');
        const series = firstString(inst, '0020000E');
        const sop = firstString(inst, '00080018');
        if (study === undefined || series === undefined || sop === undefined || ![study, series, sop].every((u) => UID.test(u))) {
          problems.push({ code: 'not-found', message: 'instance search: a result without valid Study, Series and SOP Instance UIDs' });
          continue;
        }
        if (!echoedFiltersMatch(inst, params)) continue;
        if (seen.has(sop)) continue;
        seen.add(sop);
        const sopClassUid = firstString(inst, '00080016');
        instances.push({ studyUid: study, seriesUid: series, sopUid: sop, ...(sopClassUid !== undefined ? { sopClassUid } : {}) });
      }
    }
    instances.sort((a, b) => (a.studyUid + a.seriesUid + a.sopUid < b.studyUid + b.seriesUid + b.sopUid ? -1 : 1));
    return { instances: query.maxInstances !== undefined ? instances.slice(0, query.maxInstances) : instances, problems };
  }

  async search(query: PacsQuery): Promise<PacsSearchResult> {
    try {
      const flat = await this.#searchFlat(query);
      if (flat !== undefined) return flat;
    } catch (err) {
      const f = err instanceof HttpFailure ? err : new HttpFailure('unreachable', String(err));
      throw new PacsError('TESSERA_PACS_UNREACHABLE', `DICOMweb search at ${new URL(this.#base).host} failed: ${f.message}`, { host: new URL(this.#base).host, reason: f.code });
    }
    return this.#searchHierarchy(query);
  }

  /** Studies, then their series, then their instances: for servers without the `/instances` search. */
  async #searchHierarchy(query: PacsQuery): Promise<PacsSearchResult> {
    const problems: { code: PacsFailureCode; message: string }[] = [];
    const note = (err: unknown, what: string): void => {
      const f = err instanceof HttpFailure ? err : new HttpFailure('unreachable', String(err));
      problems.push({ code: f.code, message: `${what}: ${f.message}` });
    };
    // Study level: date range, description and one search per accession number or patient ID.
    const base: Record<string, string> = {};
    if (query.studyDateFrom !== undefined || query.studyDateTo !== undefined) base['StudyDate'] = `${query.studyDateFrom ?? ''}-${query.studyDateTo ?? ''}`;
    if (query.studyDescription !== undefined) base['StudyDescription'] = query.studyDescription;
    const studySearches: Record<string, string>[] = [];
    for (const a of query.accessionNumbers ?? []) studySearches.push({ ...base, AccessionNumber: a });
    for (const p of query.patientIds ?? []) studySearches.push({ ...base, PatientID: p });
    if (studySearches.length === 0) studySearches.push(base);
    const studies = new Set<string>();
    let reached = false;
    let firstFailure: HttpFailure | undefined;
    await runPool(studySearches, this.#opts.concurrency, async (params, i) => {
      try {
        for (const s of await this.#qido('/studies', params)) {
          const uid = firstString(s, '0020000D');
          if (uid !== undefined && UID.test(uid)) studies.add(uid);
          else problems.push({ code: 'not-found', message: `study search ${i + 1}: a result without a valid Study Instance UID` });
        }
        reached = true;
      } catch (err) {
        firstFailure ??= err instanceof HttpFailure ? err : undefined;
        note(err, `study search ${i + 1}`);
      }
    });
    if (!reached && firstFailure !== undefined) {
      throw new PacsError('TESSERA_PACS_UNREACHABLE', `DICOMweb search at ${new URL(this.#base).host} failed: ${firstFailure.message}`, { host: new URL(this.#base).host, reason: firstFailure.code });
    }
    // Series level: modality, series description, body part.
    const seriesParams: Record<string, string>[] = (query.modalities ?? [undefined]).map((m) => ({
      ...(m !== undefined ? { Modality: m } : {}),
      ...(query.seriesDescription !== undefined ? { SeriesDescription: query.seriesDescription } : {}),
      ...(query.bodyPart !== undefined ? { BodyPartExamined: query.bodyPart } : {}),
    }));
    const series: { study: string; series: string }[] = [];
    const studyList = [...studies].sort();
    await runPool(studyList, this.#opts.concurrency, async (study, i) => {
      for (const params of seriesParams) {
        try {
          for (const s of await this.#qido(`/studies/${encodeURIComponent(study)}/series`, params)) {
            const uid = firstString(s, '0020000E');
            if (uid !== undefined && UID.test(uid)) series.push({ study, series: uid });
          }
        } catch (err) {
          note(err, `series search in study ${i + 1}`);
        }
      }
    });
    const instances: InstanceRef[] = [];
    const seen = new Set<string>();
    await runPool(series, this.#opts.concurrency, async (s, i) => {
      try {
        for (const inst of await this.#qido(`/studies/${encodeURIComponent(s.study)}/series/${encodeURIComponent(s.series)}/instances`, {})) {
          const uid = firstString(inst, '00080018');
          if (uid === undefined || !UID.test(uid)) {
            problems.push({ code: 'not-found', message: `instance search in series ${i + 1}: a result without a valid SOP Instance UID` });
          } else if (!seen.has(uid)) {
            seen.add(uid);
            instances.push({ studyUid: s.study, seriesUid: s.series, sopUid: uid });
          }
        }
      } catch (err) {
        note(err, `instance search in series ${i + 1}`);
      }
    });
    instances.sort((a, b) => (a.studyUid + a.seriesUid + a.sopUid < b.studyUid + b.seriesUid + b.sopUid ? -1 : 1));
    return { instances: query.maxInstances !== undefined ? instances.slice(0, query.maxInstances) : instances, problems };
  }

  async retrieve(refs: readonly InstanceRef[], incoming: string, deliver: (ref: InstanceRef, outcome: RetrieveOutcome) => Promise<void>): Promise<void> {
    await runPool(refs, this.#opts.concurrency, async (ref) => {
      const file = incomingFile(incoming);
      // Set once an attempt may have created the file (a spilled body, a failure mid-body): only then is there anything to remove.
      const touched = { file: false };
      try {
        await deliver(ref, await this.#retrieveOne(ref, file, touched));
      } finally {
        if (touched.file) await removeIncoming(file);
      }
    });
  }

  async #retrieveOne(ref: InstanceRef, file: string, touched: { file: boolean }): Promise<RetrieveOutcome> {
    const url = new URL(`${this.#base}/studies/${encodeURIComponent(ref.studyUid)}/series/${encodeURIComponent(ref.seriesUid)}/instances/${encodeURIComponent(ref.sopUid)}`);
    for (let attempt = 0; ; attempt++) {
      await this.#limiter.take();
      // A fresh name per instance: only a failed attempt can have left a file behind.
      if (touched.file) await removeIncoming(file);
      let failure: HttpFailure;
      try {
        touched.file = true;
        const res = await this.#http.getOrSpill(url, { accept: ACCEPT_DICOM }, { file, aboveBytes: this.#opts.spillAboveBytes ?? 64 * 1024 * 1024 });
        touched.file = res.file !== undefined;
        if (res.status >= 200 && res.status < 300) {
          if (res.body !== undefined) return this.#split(res.body, res.headers['content-type'] ?? '');
          // A spilled body is read back and its identified file removed at once, not after the gate and the next step.
          const body = await readFile(file).finally(() => removeIncoming(file));
          return this.#split(body, res.headers['content-type'] ?? '');
        }
        failure = new HttpFailure('http-status', `WADO-RS answered HTTP ${res.status}`, res.status);
      } catch (err) {
        failure = err instanceof HttpFailure ? err : new HttpFailure('unreachable', String(err));
      }
      if (!failure.transient || attempt >= this.#opts.retries) {
        const code: PacsFailureCode = failure.status === 404 ? 'not-found' : failure.code;
        return { ok: false, code, message: attempt > 0 ? `${failure.message} (after ${attempt + 1} attempts)` : failure.message };
      }
      await sleep(200 * 2 ** attempt);
    }
  }

  /** Keeps the one `application/dicom` part of a WADO-RS body. */
  #split(body: Uint8Array, contentType: string): RetrieveOutcome {
    let parts;
    try {
      parts = parseMultipart(body, contentType, 'WADO-RS response');
    } catch (err) {
      return { ok: false, code: 'multipart', message: err instanceof TesseraError ? err.message : 'multipart body cannot be split' };
    }
    const dicom = parts.filter((p) => p.contentType === 'application/dicom');
    const other = parts.find((p) => p.contentType !== 'application/dicom');
    if (other !== undefined) return { ok: false, code: 'not-dicom', message: `WADO-RS response holds a part of type ${other.contentType || 'none'}, not application/dicom` };
    if (dicom.length !== 1) return { ok: false, code: 'multipart', message: `WADO-RS response holds ${dicom.length} DICOM parts, expected 1` };
    return { ok: true, bytes: (dicom[0] as { body: Uint8Array }).body };
  }

  close(): Promise<void> {
    this.#http.close();
    return Promise.resolve();
  }
}
