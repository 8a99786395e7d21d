import { validateConfig } from '../../../shared/src/config/validate.js';
import { bucketWeight, quantize, SecAggSiteSession, type SecAggConfig } from '../../../shared/src/secagg/index.js';
import { pino } from 'pino';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import { StudySpecSchema, type StudySpec } from '../../../shared/src/study/study-spec.js';
import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import type { ModelStore, RoundDeps, SiteChannel } from '../../../coordinator/src/rounds/round-ports.js';
import type { PrivacyReport, SecAggReply, SiteResult, SiteTask, SiteTaskOutcome } from '../../../coordinator/src/rounds/site-task.js';
import { MemoryModelRepository, MemoryUpdateStore } from '../../../coordinator/src/store/memory-blobs.js';
import { MemoryCoordinatorStore } from '../../../coordinator/src/store/memory-store.js';

/** What a scripted site does with one task. */
export type Reply =
  | { ok: true; numExamples?: number; metrics?: Record<string, number>; upload?: Uint8Array; privacy?: PrivacyReport; secagg?: SecAggReply }
  | { refuse: string; code?: string }
  /** Never answers: a straggler, ended by the task's deadline. */
  | { silent: true }
  /** The site's stream ends now (the task waits the reconnect grace, as with SiteSessions). */
  | { disconnect: true };

export type Behaviour = (task: SiteTask, site: { id: string; models: ModelStore }) => Reply | Promise<Reply>;

interface Pending {
  siteId: string;
  task: SiteTask;
  startedAt: number;
  timer: NodeJS.Timeout;
  check: (r: SiteResult) => string | null;
  resolve: (o: SiteTaskOutcome) => void;
  grace: NodeJS.Timeout | undefined;
}

/**
 * In-process {@link SiteChannel} with scripted sites. Mirrors SiteSessions: a task for a site that is not
 * connected waits `graceMs` for it (and is sent when it connects), else ends `disconnected`; the deadline
 * ends a connected, silent site's task.
 */
export class FakeSiteChannel implements SiteChannel {
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly pending = new Map<string, Pending>();
  private readonly changeListeners = new Set<() => void>();
  private readonly disconnectListeners = new Set<(siteId: string) => void>();
  /** Every task sent to a connected site, in order. */
  readonly sent: { siteId: string; task: SiteTask }[] = [];

  constructor(
    readonly uploads: MemoryUpdateStore,
    readonly models: ModelStore,
    private readonly graceMs = 100,
  ) {}

  connect(siteId: string, behaviour: Behaviour): void {
    this.behaviours.set(siteId, behaviour);
    for (const p of [...this.pending.values()]) {
      if (p.siteId !== siteId) continue;
      clearTimeout(p.grace);
      p.grace = undefined;
      this.deliver(p);
    }
    for (const fn of this.changeListeners) fn();
  }

  private awaitReturn(p: Pending): void {
    p.grace ??= setTimeout(() => this.finish(p.task.taskId, { ok: false, outcome: 'disconnected', reason: `the site is not connected and did not come back within ${this.graceMs} ms`, durationMs: Date.now() - p.startedAt }), this.graceMs);
  }

  disconnect(siteId: string): void {
    if (!this.behaviours.delete(siteId)) return;
    for (const p of this.pending.values()) if (p.siteId === siteId) this.awaitReturn(p);
    for (const fn of this.disconnectListeners) fn(siteId);
    for (const fn of this.changeListeners) fn();
  }

  connectedSites(): string[] {
    return [...this.behaviours.keys()].sort();
  }

  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  onDisconnect(fn: (siteId: string) => void): () => void {
    this.disconnectListeners.add(fn);
    return () => this.disconnectListeners.delete(fn);
  }

  /** Tasks sent to `siteId` (optionally of one kind or SecAgg stage). */
  tasksOf(siteId: string, kind?: SiteTask['kind']): SiteTask[] {
    return this.sent.filter((s) => s.siteId === siteId && (kind === undefined || s.task.kind === kind)).map((s) => s.task);
  }

  dispatch(siteId: string, task: SiteTask, timeoutMs: number, check: (r: SiteResult) => string | null = () => null): Promise<SiteTaskOutcome> {
    return new Promise((resolve) => {
      const startedAt = Date.now();
      const timer = setTimeout(() => this.finish(task.taskId, { ok: false, outcome: 'timeout', reason: `no result within ${timeoutMs} ms`, durationMs: Date.now() - startedAt }), timeoutMs);
      const p: Pending = { siteId, task, startedAt, timer, check, resolve, grace: undefined };
      this.pending.set(task.taskId, p);
      if (this.behaviours.has(siteId)) this.deliver(p);
      else this.awaitReturn(p);
    });
  }

  private deliver(p: Pending): void {
    const behaviour = this.behaviours.get(p.siteId);
    if (!behaviour) return;
    this.sent.push({ siteId: p.siteId, task: p.task });
    void Promise.resolve()
      .then(() => behaviour(p.task, { id: p.siteId, models: this.models }))
      .then(
        (reply) => this.answer(p, reply),
        (err: unknown) => this.answer(p, { refuse: err instanceof Error ? err.message : String(err) }),
      );
  }

  private answer(p: Pending, reply: Reply): void {
    if (this.pending.get(p.task.taskId) !== p) return;
    const durationMs = Date.now() - p.startedAt;
    if ('silent' in reply) return;
    if ('disconnect' in reply) {
      this.disconnect(p.siteId);
      return;
    }
    if ('refuse' in reply) {
      this.finish(p.task.taskId, { ok: false, outcome: 'refused', reason: `${reply.code ?? 'TESSERA_AGENT_REFUSED'}: ${reply.refuse}`, durationMs });
      return;
    }
    const digest = reply.upload ? this.uploads.put(p.task.taskId, reply.upload) : '';
    const result: SiteResult = {
      taskId: p.task.taskId,
      studyId: p.task.studyId,
      round: p.task.round,
      kind: p.task.kind,
      numExamples: reply.numExamples ?? 0,
      metrics: reply.metrics ?? {},
      updateSha256: digest,
      updateBytes: reply.upload?.byteLength ?? 0,
      ...(reply.privacy ? { privacy: reply.privacy } : {}),
      ...(reply.secagg ? { secagg: reply.secagg } : {}),
    };
    const problem = p.check(result);
    this.finish(p.task.taskId, problem != null ? { ok: false, outcome: 'invalid', reason: problem, durationMs } : { ok: true, result, durationMs });
  }

  private finish(taskId: string, outcome: SiteTaskOutcome): void {
    const p = this.pending.get(taskId);
    if (!p) return;
    clearTimeout(p.timer);
    clearTimeout(p.grace);
    this.pending.delete(taskId);
    p.resolve(outcome);
  }
}

/** A plain site: trains by adding `delta` to every weight of the global model; evaluates with fixed metrics. */
export function plainSite(o: { delta: number; numExamples: number; loss?: number; accuracy?: number }): Behaviour {
  return async (task, site) => {
    if (task.kind === 'evaluate') return { ok: true, numExamples: o.numExamples, metrics: { loss: o.loss ?? 0.5, accuracy: o.accuracy ?? 0.8 } };
    const global = await site.models.get(task.modelVersion);
    const w = decodeWeights(global, global.byteLength / 4).map((x) => x + o.delta);
    return { ok: true, numExamples: o.numExamples, metrics: { loss: o.loss ?? 0.6, accuracy: o.accuracy ?? 0.7 }, upload: encodeWeights(w) };
  };
}

/** Wraps a behaviour: `override` answers the tasks it returns a reply for, `inner` the rest. */
export function scripted(inner: Behaviour, override: (task: SiteTask) => Reply | undefined): Behaviour {
  return (task, site) => override(task) ?? inner(task, site);
}

/** The SecAgg stage of a task ('advertise' for a secure fit task), or the task's kind. */
export function stageOf(task: SiteTask): string {
  return task.secagg?.request.stage ?? task.kind;
}

/**
 * A secure-aggregation site with the real protocol (shared/src/secagg): keys signed with its certificate,
 * pairwise and self masks, Shamir shares. Trains by adding `delta` to every weight.
 */
export function secureSite(o: { siteId: string; certPem: string; keyPem: string; caPem: string; delta: number; numExamples: number; now: Date }): Behaviour {
  const sessions = new Map<number, { session: SecAggSiteSession; input: Uint32Array }>();
  return async (task, site) => {
    if (task.kind === 'evaluate') return { ok: true, numExamples: o.numExamples, metrics: { loss: 0.4, accuracy: 0.9 } };
    const req = task.secagg?.request;
    if (!req) return { refuse: 'plaintext fit refused: this site requires secure aggregation' };
    const ctx = { studyId: task.studyId, round: task.round, attempt: task.secagg?.attempt ?? 0 };
    if (req.stage === 'advertise') {
      const config: SecAggConfig = { ...req.params };
      const session = new SecAggSiteSession({ ctx, config, siteId: o.siteId, certificatePem: o.certPem, keyPem: o.keyPem, caCertPem: o.caPem, now: () => o.now });
      const global = await site.models.get(task.modelVersion);
      const d = global.byteLength / 4;
      const input = new Uint32Array(d + 1);
      const weight = bucketWeight(o.numExamples, config.weightBucket, config.maxWeight);
      quantize(new Float32Array(d).fill(o.delta), weight, { clip: config.clip, cohortSize: config.cohort.length, maxWeight: config.maxWeight }, new Int32Array(input.buffer, 0, d));
      input[d] = weight;
      sessions.set(ctx.attempt, { session, input });
      return { ok: true, numExamples: o.numExamples, metrics: { loss: 0.6, accuracy: 0.7 }, secagg: { keys: session.advertise() } };
    }
    const active = sessions.get(ctx.attempt);
    if (!active) return { refuse: 'no secure-aggregation session for this attempt (the site restarted)' };
    switch (req.stage) {
      case 'share-keys':
        return { ok: true, secagg: { shares: active.session.shareKeys(req.keys) } };
      case 'masked-input': {
        const masked = active.session.maskInput(req.shares, active.input);
        return { ok: true, secagg: { masked: { length: masked.length } }, upload: new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength) };
      }
      case 'unmask':
        return { ok: true, secagg: { reveal: active.session.unmask(req.survivors, req.dropped) } };
    }
  };
}

/** A study contract with the schema's defaults and short deadlines. */
export function testSpec(overrides: Record<string, unknown> = {}): StudySpec {
  return validateConfig(
    StudySpecSchema,
    {
      id: 'core-study',
      name: 'core study',
      dataset: 'toy',
      model: 'logreg',
      inputDim: 4,
      rounds: 2,
      strategy: 'fedavg',
      minSites: 2,
      secureAggregation: false,
      timeouts: { waitForSitesMs: 300, fitMs: 300, evaluateMs: 300 },
      ...overrides,
    },
    'test spec',
  );
}

export const silentLogger = pino({ level: 'silent' });

/** Everything a round needs, in memory. */
export function memoryDeps(overrides: Partial<RoundDeps> = {}): RoundDeps & { channel: FakeSiteChannel; events: CoordinatorEvent[]; memStore: MemoryCoordinatorStore; memModels: MemoryModelRepository; memUploads: MemoryUpdateStore; abort: AbortController } {
  const memUploads = new MemoryUpdateStore();
  const memModels = (overrides.models as MemoryModelRepository | undefined) ?? new MemoryModelRepository();
  const channel = new FakeSiteChannel(memUploads, memModels);
  const memStore = (overrides.store as MemoryCoordinatorStore | undefined) ?? new MemoryCoordinatorStore();
  const events: CoordinatorEvent[] = [];
  const abort = new AbortController();
  return {
    store: memStore,
    sites: channel,
    models: memModels,
    uploads: memUploads,
    logger: silentLogger,
    emit: (e) => events.push(e),
    now: Date.now,
    expectUpdate: () => undefined,
    signal: abort.signal,
    caCertPem: '',
    ...overrides,
    channel,
    events,
    memStore,
    memModels,
    memUploads,
    abort,
  };
}
