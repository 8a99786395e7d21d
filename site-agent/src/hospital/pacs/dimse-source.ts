/**
 * DIMSE source, for PACS that speak only DICOM networking: C-FIND (Study Root, study → series → image level)
 * to list instances, C-GET at image level to retrieve them on the same association (or C-MOVE to the agent's own
 * storage SCP, a loopback listener that takes only the instances a running batch asked for). The protocol is
 * dcmjs-dimse's (a maintained PS3.7/PS3.8 implementation) rather than a hand-written upper layer. Each
 * association carries a batch of requests; the rate limiter is charged per request before the association
 * opens and at most `concurrency` associations run at once. A retrieved data set is written as a Part 10 file
 * (0600) into the incoming folder, read back, handed to the gate and removed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import type { Writable } from 'node:stream';
import tls from 'node:tls';
import dimse from 'dcmjs-dimse';
import type { DimseSourceConfig, PacsQuery } from '../../../../shared/src/config/agent-config.js';
import { InputError, PacsError } from '../../../../shared/src/errors.js';
import { incomingFile, removeIncoming } from './incoming.js';
import { RateLimiter, runPool } from './limits.js';
import type { InstanceRef, PacsFailureCode, PacsSearchResult, PacsSource, RetrieveOutcome } from './pacs-source.js';

const { Client, Dataset } = dimse;
// dcmjs-dimse logs every PDU at info level; the agent logs what matters itself.
dimse.log.setLevel('silent');
const { CFindRequest, CGetRequest, CMoveRequest } = dimse.requests;
const { CStoreResponse } = dimse.responses;
type FindResponse = InstanceType<typeof dimse.responses.CFindResponse>;
type GetResponse = InstanceType<typeof dimse.responses.CGetResponse>;
type MoveResponse = InstanceType<typeof dimse.responses.CMoveResponse>;
const { Status } = dimse.constants;

type AnyRequest = InstanceType<typeof CFindRequest> | InstanceType<typeof CGetRequest> | InstanceType<typeof CMoveRequest>;
type StoreRequest = InstanceType<typeof dimse.requests.CStoreRequest>;
type StoreResponse = InstanceType<typeof CStoreResponse>;

/** The part of dcmjs-dimse's Network the source replaces (not in its typings). */
interface NetworkHooks {
  sendAssociationRequest(association: InstanceType<typeof dimse.association.Association>): void;
  createDatasetFromStoreWritableStream(
    writable: { toBuffer(): Buffer },
    context: { getAcceptedTransferSyntaxUid(): string | undefined },
    callback: (ds: InstanceType<typeof Dataset>) => void,
  ): void;
}

/** A C-STORE data set as received: its bytes in the accepted transfer syntax (no file meta). */
interface RawInstance {
  readonly bytes: Buffer;
  readonly transferSyntaxUid: string;
}

function metaElement(group: number, element: number, vr: string, value: Buffer): Buffer {
  const head = Buffer.alloc(vr === 'OB' ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(element, 2);
  head.write(vr, 4, 'latin1');
  if (vr === 'OB') head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

function uidValue(uid: string): Buffer {
  const b = Buffer.from(uid, 'latin1');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([0])]);
}

/** A Part 10 file around a data set received over the network: preamble, `DICM`, File Meta Information (PS3.10 §7.1). */
export function part10Instance(raw: RawInstance, sopClassUid: string, sopInstanceUid: string): Buffer {
  const body = Buffer.concat([
    metaElement(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    metaElement(0x0002, 0x0002, 'UI', uidValue(sopClassUid)),
    metaElement(0x0002, 0x0003, 'UI', uidValue(sopInstanceUid)),
    metaElement(0x0002, 0x0010, 'UI', uidValue(raw.transferSyntaxUid)),
    metaElement(0x0002, 0x0012, 'UI', uidValue('1.2.826.0.1.3680043.10.854')),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), metaElement(0x0002, 0x0000, 'UL', length), body, raw.bytes]);
}

/** Settings of {@link DimseSource}. */
export interface DimseSourceOptions {
  readonly host: string;
  readonly port: number;
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly concurrency: number;
  readonly requestsPerSecond: number;
  readonly timeoutMs: number;
  readonly retries: number;
  /** Image-level C-GET (C-MOVE) requests per association. @default 16 */
  readonly batchSize?: number;
  /** @default 'c-get' */
  readonly retrieve?: 'c-get' | 'c-move';
  /** The agent's storage SCP for C-MOVE: the AE title the PACS moves to, and where it listens. */
  readonly storeScp?: { readonly aeTitle: string; readonly host: string; readonly port: number };
  /**
   * DICOM TLS (PEM texts): every association runs over TLS, the PACS verified against `ca` (else the system's
   * roots), the agent presenting `cert`/`key`; the C-MOVE storage SCP serves `cert` and requires a client
   * certificate signed by `ca`.
   */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** {@link DimseSourceOptions} from the `agent.yaml` entry; TLS files (resolved by `resolve`) are read now. */
export async function dimseOptions(cfg: DimseSourceConfig, name: string, resolve: (p: string) => string = (p) => p): Promise<DimseSourceOptions> {
  if (cfg.retrieve === 'c-move' && cfg.storeScp === undefined) {
    throw new PacsError('TESSERA_PACS_REFUSED', `sources.${name}: retrieve c-move needs storeScp (the AE title and port the PACS moves to)`, { source: name });
  }
  const read = async (file: string | undefined, field: string): Promise<string | undefined> => {
    if (file === undefined) return undefined;
    try {
      return await readFile(resolve(file), 'utf8');
    } catch (err) {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `sources.${name}.tls.${field}: cannot read ${resolve(file)}`, { file: resolve(file) }, { cause: err });
    }
  };
  let tlsOptions: DimseSourceOptions['tls'];
  if (cfg.tls !== undefined) {
    const [ca, cert, key] = [await read(cfg.tls.ca, 'ca'), await read(cfg.tls.clientCertificate, 'clientCertificate'), await read(cfg.tls.clientKey, 'clientKey')];
    tlsOptions = { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
  }
  return {
    ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}),
    ...(cfg.retrieve !== undefined ? { retrieve: cfg.retrieve } : {}),
    ...(cfg.storeScp !== undefined ? { storeScp: { aeTitle: cfg.storeScp.aeTitle, host: cfg.storeScp.host ?? '127.0.0.1', port: cfg.storeScp.port } } : {}),
    host: cfg.host,
    port: cfg.port,
    calledAeTitle: cfg.calledAeTitle,
    callingAeTitle: cfg.callingAeTitle,
    concurrency: cfg.concurrency ?? 4,
    requestsPerSecond: cfg.requestsPerSecond ?? 20,
    timeoutMs: cfg.timeoutMs ?? 30_000,
    retries: cfg.retries ?? 2,
  };
}

/** A UID as a PACS may hold it: PS3.5 wants digits and dots, real archives hold worse; only what breaks a path or query is refused. */
const UID = /^[^\s/\\?#&*]{1,128}$/;

/** Transfer syntaxes proposed for each storage class: the native ones and every compressed one a bundled codec reads. */
const STORAGE_TRANSFER_SYNTAXES: readonly string[] = [
  '1.2.840.10008.1.2.1', // Explicit VR Little Endian
  '1.2.840.10008.1.2', // Implicit VR Little Endian
  '1.2.840.10008.1.2.2', // Explicit VR Big Endian (retired, still stored)
  '1.2.840.10008.1.2.1.99', // Deflated Explicit VR Little Endian
  '1.2.840.10008.1.2.4.50', // JPEG Baseline
  '1.2.840.10008.1.2.4.51', // JPEG Extended
  '1.2.840.10008.1.2.4.57', // JPEG Lossless
  '1.2.840.10008.1.2.4.70', // JPEG Lossless SV1
  '1.2.840.10008.1.2.4.80', // JPEG-LS Lossless
  '1.2.840.10008.1.2.4.81', // JPEG-LS Near-Lossless
  '1.2.840.10008.1.2.4.90', // JPEG 2000 Lossless
  '1.2.840.10008.1.2.4.91', // JPEG 2000
  '1.2.840.10008.1.2.5', // RLE Lossless
  '1.2.840.10008.1.2.4.201', // HTJ2K Lossless
  '1.2.840.10008.1.2.4.202', // HTJ2K Lossless RPCL
  '1.2.840.10008.1.2.4.203', // HTJ2K
  '1.2.840.10008.1.2.8.1', // Deflated Image Frame Compression
];

/** Storage classes per association: 7 × 17 contexts + the C-GET one stay under the 128 a PDU allows. */
const CLASSES_PER_ASSOCIATION = 7;

function str(ds: InstanceType<typeof Dataset> | undefined, keyword: string): string | undefined {
  const v = ds?.getElement(keyword) as unknown;
  const first = Array.isArray(v) ? (v[0] as unknown) : v;
  return typeof first === 'string' ? first.trim() : undefined;
}

/** A DIMSE PACS. */
export class DimseSource implements PacsSource {
  readonly kind = 'dimse' as const;
  readonly #opts: DimseSourceOptions;
  readonly #limiter: RateLimiter;

  constructor(opts: DimseSourceOptions) {
    this.#opts = opts;
    this.#limiter = new RateLimiter(opts.requestsPerSecond, opts.concurrency);
  }

  /**
   * Opens one association, sends `requests`, resolves when it is released. Rejects with {@link PacsError}
   * when the association cannot be made (refused, unreachable, timed out).
   */
  #associate(
    requests: readonly AnyRequest[],
    onStore?: (request: StoreRequest, raw: RawInstance | undefined, respond: (status: number) => void) => void,
    storageClasses: readonly string[] = [],
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      // Keep each C-STORE data set as the bytes that came over the wire: dcmjs would naturalise it and write it
      // again, which changes values and throws on some real-world ones (e.g. a DA written 1997.04.24).
      const raws = new WeakMap<object, RawInstance>();
      for (const r of requests) client.addRequest(r);
      let done = false;
      const finish = (err?: PacsError): void => {
        if (done) return;
        done = true;
        if (err !== undefined) reject(err);
        else resolve();
      };
      const where = `${this.#opts.host}:${this.#opts.port}`;
      client.on('associationRejected', () => finish(new PacsError('TESSERA_PACS_REFUSED', `${where} (${this.#opts.calledAeTitle}) rejected the association from ${this.#opts.callingAeTitle}`, { host: where })));
      client.on('associationAborted', () => finish(new PacsError('TESSERA_PACS_UNREACHABLE', `${where} aborted the association`, { host: where })));
      client.on('networkError', (e: Error) => {
        const code = (e as NodeJS.ErrnoException).code ?? e.message;
        const hint = this.#opts.tls !== undefined && /ssl|tls|cert|verify|issuer|self.signed|depth_zero|econnreset|eproto/i.test(code) ? ': DICOM TLS failed; check the source\'s tls ca, clientCertificate and clientKey' : '';
        finish(new PacsError('TESSERA_PACS_UNREACHABLE', `${where} is unreachable or the connection broke (${code})${hint}`, { host: where }));
      });
      let accepted = false;
      client.on('associationAccepted', () => (accepted = true));
      // A peer that drops the connection before accepting (a TLS handshake it refused, say) is no empty answer.
      client.on('closed', () =>
        finish(accepted ? undefined : new PacsError('TESSERA_PACS_UNREACHABLE', `${where} closed the connection before accepting an association${this.#opts.tls !== undefined ? ' (DICOM TLS: check the source\'s tls ca, clientCertificate and clientKey)' : ''}`, { host: where })),
      );
      if (onStore !== undefined) {
        client.on('cStoreRequest', (request: StoreRequest, callback: (response: StoreResponse) => void) => {
          const ds = request.getDataset();
          onStore(request, ds === undefined ? undefined : raws.get(ds), (status) => {
            const response = CStoreResponse.fromRequest(request);
            response.setStatus(status);
            callback(response);
          });
        });
      }
      const t = this.#opts.tls;
      client.send(this.#opts.host, this.#opts.port, this.#opts.callingAeTitle, this.#opts.calledAeTitle, {
        connectTimeout: this.#opts.timeoutMs,
        associationTimeout: this.#opts.timeoutMs,
        pduTimeout: this.#opts.timeoutMs,
        // dcmjs-dimse hands these to tls.connect (host name or IP checked against the certificate, as https does).
        ...(t !== undefined ? { securityOptions: { ...(t.ca !== undefined ? { ca: t.ca } : {}), ...(t.cert !== undefined ? { cert: t.cert } : {}), ...(t.key !== undefined ? { key: t.key } : {}), rejectUnauthorized: true, minVersion: 'TLSv1.2' } } : {}),
      });
      // The association's network object exists once send() returns; its store hook is replaced there.
      const network = (client as unknown as { network?: NetworkHooks }).network;
      if (network !== undefined) {
        network.createDatasetFromStoreWritableStream = (writable, context, callback) => {
          const transferSyntaxUid = context.getAcceptedTransferSyntaxUid() ?? '1.2.840.10008.1.2';
          const placeholder = new Dataset({}, transferSyntaxUid);
          raws.set(placeholder, { bytes: writable.toBuffer(), transferSyntaxUid });
          callback(placeholder);
        };
        if (storageClasses.length > 0) {
          // One presentation context per storage class and transfer syntax, SCP role proposed (C-GET), so the PACS
          // sends each instance as stored instead of transcoding it (or failing to).
          const send = network.sendAssociationRequest.bind(network);
          network.sendAssociationRequest = (association) => {
            for (const sopClass of storageClasses) {
              for (const ts of STORAGE_TRANSFER_SYNTAXES) {
                const id = association.addPresentationContext(sopClass);
                association.addTransferSyntaxToPresentationContext(id, ts);
                association.getPresentationContext(id).setProviderRole(true);
                association.getPresentationContext(id).setUserRole(true);
              }
            }
            send(association);
          };
        }
      } else if (onStore !== undefined) {
        finish(new PacsError('TESSERA_PACS_REFUSED', 'dcmjs-dimse did not expose its network: cannot receive instances', { host: where }));
      }
    });
  }

  /** One C-FIND; the matches' data sets. */
  async #find(request: InstanceType<typeof CFindRequest>): Promise<InstanceType<typeof Dataset>[]> {
    await this.#limiter.take();
    const found: InstanceType<typeof Dataset>[] = [];
    let failure: number | undefined;
    request.on('response', (response: FindResponse) => {
      const status = response.getStatus();
      if (status === Status.Pending) {
        const ds = response.getDataset();
        if (ds !== undefined) found.push(ds);
      } else if (status !== Status.Success) failure = status;
    });
    await this.#associate([request]);
    if (failure !== undefined) {
      throw new PacsError('TESSERA_PACS_REFUSED', `C-FIND at ${this.#opts.host}:${this.#opts.port} answered status 0x${failure.toString(16)}`, { host: this.#opts.host });
    }
    return found;
  }

  async search(query: PacsQuery): Promise<PacsSearchResult> {
    const problems: { code: PacsFailureCode; message: string }[] = [];
    const base: Record<string, string> = { StudyInstanceUID: '' };
    if (query.studyDateFrom !== undefined || query.studyDateTo !== undefined) base['StudyDate'] = `${query.studyDateFrom ?? ''}-${query.studyDateTo ?? ''}`;
    if (query.studyDescription !== undefined) base['StudyDescription'] = query.studyDescription;
    const searches: Record<string, string>[] = [];
    for (const a of query.accessionNumbers ?? []) searches.push({ ...base, AccessionNumber: a });
    for (const p of query.patientIds ?? []) searches.push({ ...base, PatientID: p });
    if (searches.length === 0) searches.push(base);
    const studies = new Set<string>();
    let reached = false;
    let firstError: PacsError | undefined;
    await runPool(searches, this.#opts.concurrency, async (elements, i) => {
      try {
        for (const ds of await this.#find(CFindRequest.createStudyFindRequest(elements))) {
          const uid = str(ds, 'StudyInstanceUID');
          if (uid !== undefined && UID.test(uid)) studies.add(uid);
        }
        reached = true;
      } catch (err) {
        const e = err instanceof PacsError ? err : new PacsError('TESSERA_PACS_UNREACHABLE', String(err));
        firstError ??= e;
        problems.push({ code: 'dimse-status', message: `study search ${i + 1}: ${e.message}` });
      }
    });
    if (!reached && firstError !== undefined) throw firstError;
    const seriesFilters = (query.modalities ?? [undefined]).map((m) => ({
      SeriesInstanceUID: '',
      ...(m !== undefined ? { Modality: m } : {}),
      ...(query.seriesDescription !== undefined ? { SeriesDescription: query.seriesDescription } : {}),
      ...(query.bodyPart !== undefined ? { BodyPartExamined: query.bodyPart } : {}),
    }));
    const series: { study: string; series: string }[] = [];
    await runPool([...studies].sort(), this.#opts.concurrency, async (study, i) => {
      for (const filter of seriesFilters) {
        try {
          for (const ds of await this.#find(CFindRequest.createSeriesFindRequest({ StudyInstanceUID: study, ...filter }))) {
            const uid = str(ds, 'SeriesInstanceUID');
            if (uid !== undefined && UID.test(uid)) series.push({ study, series: uid });
          }
        } catch (err) {
          problems.push({ code: 'dimse-status', message: `series search in study ${i + 1}: ${err instanceof Error ? err.message : String(err)}` });
        }
      }
    });
    const instances: InstanceRef[] = [];
    const seen = new Set<string>();
    await runPool(series, this.#opts.concurrency, async (s, i) => {
      try {
        const found = await this.#find(CFindRequest.createImageFindRequest({ StudyInstanceUID: s.study, SeriesInstanceUID: s.series, SOPInstanceUID: '', SOPClassUID: '' }));
        for (const ds of found) {
          const uid = str(ds, 'SOPInstanceUID');
          if (uid !== undefined && UID.test(uid) && !seen.has(uid)) {
            seen.add(uid);
            const sopClassUid = str(ds, 'SOPClassUID');
            instances.push({ studyUid: s.study, seriesUid: s.series, sopUid: uid, ...(sopClassUid !== undefined && UID.test(sopClassUid) ? { sopClassUid } : {}) });
          }
        }
      } catch (err) {
        problems.push({ code: 'dimse-status', message: `instance search in series ${i + 1}: ${err instanceof Error ? err.message : String(err)}` });
      }
    });
    instances.sort((a, b) => (a.studyUid + a.seriesUid + a.sopUid < b.studyUid + b.seriesUid + b.sopUid ? -1 : 1));
    return { instances: query.maxInstances !== undefined ? instances.slice(0, query.maxInstances) : instances, problems };
  }

  async retrieve(refs: readonly InstanceRef[], incoming: string, deliver: (ref: InstanceRef, outcome: RetrieveOutcome) => Promise<void>): Promise<void> {
    const size = this.#opts.batchSize ?? 16;
    // Batches share at most CLASSES_PER_ASSOCIATION storage classes (the contexts they need).
    const batches: InstanceRef[][] = [];
    let current: InstanceRef[] = [];
    let classes = new Set<string>();
    for (const ref of [...refs].sort((a, b) => ((a.sopClassUid ?? '') < (b.sopClassUid ?? '') ? -1 : 1))) {
      const cls = ref.sopClassUid ?? '';
      if (current.length >= size || (!classes.has(cls) && classes.size >= CLASSES_PER_ASSOCIATION)) {
        batches.push(current);
        current = [];
        classes = new Set();
      }
      current.push(ref);
      classes.add(cls);
    }
    if (current.length > 0) batches.push(current);
    const scp = this.#opts.retrieve === 'c-move' ? await this.#startStoreScp() : undefined;
    try {
      await runPool(batches, this.#opts.concurrency, async (batch) => {
        let pending = batch;
        for (let attempt = 0; pending.length > 0; attempt++) {
          const failed = await this.#getBatch(pending, incoming, deliver, attempt >= this.#opts.retries);
          pending = failed;
        }
      });
    } finally {
      await scp?.close();
    }
  }

  /** C-MOVE routes: original SOP Instance UID → the batch waiting for it (set while its association runs). */
  readonly #moveRoutes = new Map<string, (sopClassUid: string, raw: RawInstance, respond: (status: number) => void) => void>();

  /**
   * The agent's storage SCP for C-MOVE, on `storeScp.host:port` (loopback by default): accepts every presentation
   * context in the first transfer syntax proposed, keeps each data set as received, and hands it to the batch
   * that asked for it; an instance nobody asked for is refused.
   */
  async #startStoreScp(): Promise<{ close(): Promise<void> }> {
    const cfg = this.#opts.storeScp;
    if (cfg === undefined) throw new PacsError('TESSERA_PACS_REFUSED', 'retrieve c-move needs storeScp');
    const routes = this.#moveRoutes;
    const raws = new WeakMap<object, RawInstance>();
    class StoreScp extends dimse.Scp {
      override associationRequested(association: InstanceType<typeof dimse.association.Association>): void {
        for (const { id } of association.getPresentationContexts()) {
          const context = association.getPresentationContext(id);
          const ts = context.getTransferSyntaxUids()[0];
          if (ts !== undefined) context.setResult(dimse.constants.PresentationContextResult.Accept, ts);
          else context.setResult(dimse.constants.PresentationContextResult.RejectTransferSyntaxesNotSupported);
        }
        this.sendAssociationAccept();
      }
      override associationReleaseRequested(): void {
        this.sendAssociationReleaseResponse();
      }
      override cEchoRequest(request: InstanceType<typeof dimse.requests.CEchoRequest>, callback: (response: InstanceType<typeof dimse.responses.CEchoResponse>) => void): void {
        const response = dimse.responses.CEchoResponse.fromRequest(request);
        response.setStatus(Status.Success);
        callback(response);
      }
      override createDatasetFromStoreWritableStream(
        writable: Writable,
        context: InstanceType<typeof dimse.association.PresentationContext>,
        callback: (ds: InstanceType<typeof Dataset>) => void,
      ): void {
        const transferSyntaxUid = context.getAcceptedTransferSyntaxUid() ?? '1.2.840.10008.1.2';
        const placeholder = new Dataset({}, transferSyntaxUid);
        // dcmjs-dimse's default store stream is a memory stream with toBuffer().
        raws.set(placeholder, { bytes: (writable as Writable & { toBuffer(): Buffer }).toBuffer(), transferSyntaxUid });
        callback(placeholder);
      }
      override cStoreRequest(request: StoreRequest, callback: (response: StoreResponse) => void): void {
        const respond = (status: number): void => {
          const response = CStoreResponse.fromRequest(request);
          response.setStatus(status);
          callback(response);
        };
        const ds = request.getDataset();
        const raw = ds === undefined ? undefined : raws.get(ds);
        const sop = request.getAffectedSopInstanceUid()?.replace(/\0+$/, '').trim() ?? '';
        const route = routes.get(sop);
        if (raw === undefined || route === undefined) respond(Status.ProcessingFailure);
        else route(request.getAffectedSopClassUid()?.replace(/\0+$/, '').trim() ?? '', raw, respond);
      }
    }
    const scps = new Set<InstanceType<typeof dimse.Scp>>();
    const serve = (socket: net.Socket): void => {
      const scp = new StoreScp(socket, { connectTimeout: this.#opts.timeoutMs, associationTimeout: this.#opts.timeoutMs, pduTimeout: this.#opts.timeoutMs });
      scps.add(scp);
      socket.once('close', () => scps.delete(scp));
      scp.on('networkError', () => socket.destroy());
    };
    const t = this.#opts.tls;
    // Over DICOM TLS the SCP serves the agent's certificate and takes only a PACS whose certificate `ca` signed.
    const server =
      t !== undefined
        ? tls.createServer({ ...(t.cert !== undefined ? { cert: t.cert } : {}), ...(t.key !== undefined ? { key: t.key } : {}), ...(t.ca !== undefined ? { ca: t.ca } : {}), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, serve)
        : net.createServer(serve);
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new PacsError('TESSERA_PACS_REFUSED', `the storage SCP cannot listen on ${cfg.host}:${cfg.port} (${(err as NodeJS.ErrnoException).code ?? err.message})`, { port: cfg.port })));
      server.listen(cfg.port, cfg.host, resolve);
    });
    return {
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const scp of scps) (scp as unknown as { socket?: net.Socket }).socket?.destroy();
        }),
    };
  }

  /**
   * One association of image-level C-GETs. Instances delivered (as bytes or as a final failure) are done;
   * returns those that failed for a transient reason and may be tried again (unless `last`).
   */
  async #getBatch(batch: readonly InstanceRef[], incoming: string, deliver: (ref: InstanceRef, outcome: RetrieveOutcome) => Promise<void>, last: boolean): Promise<InstanceRef[]> {
    await this.#limiter.take(batch.length);
    const bySop = new Map(batch.map((r) => [r.sopUid, r]));
    const knownClasses = batch.every((r) => r.sopClassUid !== undefined);
    const storageClasses = knownClasses ? [...new Set(batch.map((r) => r.sopClassUid as string))] : [];
    const delivered = new Set<string>();
    const work: Promise<void>[] = [];
    const statuses = new Map<string, number>();
    const move = this.#opts.retrieve === 'c-move' ? this.#opts.storeScp : undefined;
    const requests = batch.map((ref) => {
      if (move !== undefined) {
        const request = CMoveRequest.createImageMoveRequest(move.aeTitle, ref.studyUid, ref.seriesUid, ref.sopUid);
        request.on('response', (response: MoveResponse) => {
          const status = response.getStatus();
          if (status !== Status.Pending) statuses.set(ref.sopUid, status);
        });
        return request;
      }
      const request = CGetRequest.createImageGetRequest(ref.studyUid, ref.seriesUid, ref.sopUid);
      // With every class known, only their contexts are proposed (all transfer syntaxes); else dcmjs-dimse's list.
      request.setAddStorageSopClassesToAssociation(!knownClasses);
      request.on('response', (response: GetResponse) => {
        const status = response.getStatus();
        if (status !== Status.Pending) statuses.set(ref.sopUid, status);
      });
      return request;
    });
    const onStore = (
      moved: { sop: string; sopClassUid: string } | undefined,
      raw: RawInstance | undefined,
      respond: (status: number) => void,
      request?: StoreRequest,
    ): void => {
      const sop = moved?.sop ?? request?.getAffectedSopInstanceUid()?.replace(/\0+$/, '').trim();
      const ref = sop === undefined ? undefined : bySop.get(sop);
      if (raw === undefined || ref === undefined || delivered.has(ref.sopUid)) {
        respond(Status.ProcessingFailure);
        return;
      }
      delivered.add(ref.sopUid);
      const file = incomingFile(incoming);
      const part10 = part10Instance(raw, moved?.sopClassUid ?? request?.getAffectedSopClassUid()?.replace(/\0+$/, '').trim() ?? '', ref.sopUid);
      const job = writeFile(file, part10, { mode: 0o600, flag: 'wx' })
        .then(
          () => true,
          () => false,
        )
        .then(async (ok) => {
          respond(ok ? Status.Success : Status.ProcessingFailure);
          let outcome: RetrieveOutcome;
          try {
            if (!ok) throw new Error('not written');
            outcome = { ok: true, bytes: await readFile(file) };
          } catch {
            outcome = { ok: false, code: 'dimse-status', message: 'the retrieved data set could not be written to the incoming folder' };
          }
          await deliver(ref, outcome);
        })
        .finally(() => removeIncoming(file));
      work.push(job);
    };
    let associationError: PacsError | undefined;
    if (move !== undefined) {
      for (const ref of batch) {
        this.#moveRoutes.set(ref.sopUid, (sopClassUid, raw, respond) => onStore({ sop: ref.sopUid, sopClassUid }, raw, respond));
      }
    }
    try {
      if (move !== undefined) await this.#associate(requests);
      else await this.#associate(requests, (request, raw, respond) => onStore(undefined, raw, respond, request), storageClasses);
    } catch (err) {
      associationError = err instanceof PacsError ? err : new PacsError('TESSERA_PACS_UNREACHABLE', String(err));
    } finally {
      for (const ref of batch) this.#moveRoutes.delete(ref.sopUid);
    }
    await Promise.all(work);
    const retry: InstanceRef[] = [];
    for (const ref of batch) {
      if (delivered.has(ref.sopUid)) continue;
      if (associationError !== undefined && !last) {
        retry.push(ref);
        continue;
      }
      const status = statuses.get(ref.sopUid);
      const message =
        associationError !== undefined
          ? associationError.message
          : `C-GET answered status 0x${(status ?? 0).toString(16)} and sent no instance`;
      const code: PacsFailureCode = associationError?.code === 'TESSERA_PACS_UNREACHABLE' ? 'unreachable' : 'dimse-status';
      await deliver(ref, { ok: false, code, message });
    }
    return retry;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
