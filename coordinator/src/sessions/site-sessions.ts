import type { CoordinatorMessage } from '../../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { Task } from '../../../protos/gen/tessera/v1/Task.js';
import type { TaskResult__Output } from '../../../protos/gen/tessera/v1/TaskResult.js';
import type { Logger } from '../../../shared/src/logging.js';

/** A connected site's control stream. */
export interface SiteSession {
  readonly siteId: string;
  readonly backend: string;
  readonly agentVersion: string;
  readonly connectedAt: number;
  lastSeen: number;
  /** Writes one message down the stream; false when the stream is gone. */
  send(message: CoordinatorMessage): boolean;
  close(reason: string): void;
}

/** How a dispatched task ended. Failures are data, not exceptions (STYLE §10). */
export type TaskOutcome =
  | { ok: true; result: TaskResult__Output; durationMs: number }
  | { ok: false; outcome: 'timeout' | 'refused' | 'invalid' | 'disconnected'; reason: string; durationMs: number };

interface PendingTask {
  siteId: string;
  task: Task;
  startedAt: number;
  timer: NodeJS.Timeout;
  resolve: (outcome: TaskOutcome) => void;
  /** Optional check of a result before it resolves the task (e.g. the upload is complete). */
  validate: (result: TaskResult__Output) => string | null;
  /** Running while the site is away: when it fires, the task ends `disconnected`. */
  grace: NodeJS.Timeout | undefined;
}

/**
 * The registry of connected sites and of tasks in flight. A site whose stream ends keeps its pending tasks
 * for `reconnectGraceMs`: when it reconnects within it, they are sent again, and the agent answers from its
 * cache or resumes the upload where it stopped; otherwise they end `disconnected` then, not at their
 * deadline. A stream the endpoint closed after the site was silent for `silentAfterMs` (missed heartbeats)
 * does not start the grace: agents that train on their main thread are silent while they train, so only
 * the task deadline turns a silent site into a straggler.
 */
export class SiteSessions {
  private readonly sessions = new Map<string, SiteSession>();
  private readonly pending = new Map<string, PendingTask>();
  private readonly listeners = new Set<() => void>();
  private readonly disconnectListeners = new Set<(siteId: string) => void>();

  private readonly reconnectGraceMs: number;
  /** Sites whose last stream was closed after a long silence (see silentAfterMs). */
  private readonly silent = new Set<string>();
  private readonly silentAfterMs: number;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    options: {
      /** How long a site whose stream ended may take to come back before its tasks end `disconnected`. @default 10000 */
      reconnectGraceMs?: number;
      /**
       * A site silent this long before its stream ended (the endpoint closed it for missed heartbeats) may only be
       * busy (an agent training on its main thread sends no heartbeat): its tasks keep their deadline. @default 20000
       */
      silentAfterMs?: number;
    } = {},
  ) {
    this.reconnectGraceMs = options.reconnectGraceMs ?? 10_000;
    this.silentAfterMs = options.silentAfterMs ?? 20_000;
  }

  /** Starts the reconnect grace of a pending task whose site is away. */
  private awaitReturn(taskId: string, p: PendingTask): void {
    if (p.grace !== undefined) return;
    p.grace = setTimeout(() => {
      this.finish(taskId, {
        ok: false,
        outcome: 'disconnected',
        reason: `the site is not connected and did not come back within ${this.reconnectGraceMs} ms`,
        durationMs: this.now() - p.startedAt,
      });
    }, this.reconnectGraceMs);
  }

  connectedSites(): string[] {
    return [...this.sessions.keys()].sort();
  }

  get(siteId: string): SiteSession | undefined {
    return this.sessions.get(siteId);
  }

  /** Calls `fn` whenever the set of connected sites changes; returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls `fn` with the site's id whenever a connected site's stream ends; returns an unsubscribe function. */
  onDisconnect(fn: (siteId: string) => void): () => void {
    this.disconnectListeners.add(fn);
    return () => this.disconnectListeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  register(session: SiteSession): void {
    const previous = this.sessions.get(session.siteId);
    if (previous && previous !== session) previous.close('superseded by a newer connection from the same site');
    this.sessions.set(session.siteId, session);
    this.silent.delete(session.siteId);
    // Re-send tasks the site had not finished when its previous stream dropped.
    for (const p of this.pending.values()) {
      if (p.siteId !== session.siteId) continue;
      clearTimeout(p.grace);
      p.grace = undefined;
      session.send({ task: p.task });
    }
    this.changed();
  }

  unregister(session: SiteSession): void {
    if (this.sessions.get(session.siteId) === session) {
      this.sessions.delete(session.siteId);
      // A stream that ended while the site was talking: the site went away (process gone, connection cut).
      // One closed after a long silence may belong to a site that is only busy: its tasks keep their deadline.
      if (this.now() - session.lastSeen < this.silentAfterMs) {
        for (const [taskId, p] of this.pending) if (p.siteId === session.siteId) this.awaitReturn(taskId, p);
      } else {
        this.silent.add(session.siteId);
      }
      for (const fn of this.disconnectListeners) fn(session.siteId);
      this.changed();
    }
  }

  /** Sends `task` to `siteId` and resolves when the site answers, refuses, or the deadline passes. */
  dispatch(
    siteId: string,
    task: Task,
    timeoutMs: number,
    validate: (result: TaskResult__Output) => string | null = () => null,
  ): Promise<TaskOutcome> {
    const taskId = task.taskId ?? '';
    const startedAt = this.now();
    return new Promise<TaskOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.finish(taskId, {
          ok: false,
          outcome: 'timeout',
          reason: `no result within ${timeoutMs} ms`,
          durationMs: this.now() - startedAt,
        });
      }, timeoutMs);
      const p: PendingTask = { siteId, task, startedAt, timer, resolve, validate, grace: undefined };
      this.pending.set(taskId, p);
      const session = this.sessions.get(siteId);
      if (!session?.send({ task })) {
        this.logger.info({ siteId, taskId }, 'site not connected; task waits for it to reconnect');
        if (!this.silent.has(siteId)) this.awaitReturn(taskId, p);
      }
    });
  }

  private finish(taskId: string, outcome: TaskOutcome): void {
    const p = this.pending.get(taskId);
    if (!p) return;
    clearTimeout(p.timer);
    clearTimeout(p.grace);
    this.pending.delete(taskId);
    p.resolve(outcome);
  }

  /** Whether `siteId` has a task open now (dispatched, not yet answered) that starts from `modelVersion`. */
  hasOpenTaskOnModel(siteId: string, modelVersion: string): boolean {
    for (const p of this.pending.values()) if (p.siteId === siteId && p.task.modelVersion === modelVersion) return true;
    return false;
  }

  /** The pending task `taskId` if it was sent to `siteId`. */
  pendingTask(taskId: string, siteId: string): Task | undefined {
    const p = this.pending.get(taskId);
    return p && p.siteId === siteId ? p.task : undefined;
  }

  /** Routes a site's result; returns a reason string when it is refused (unknown task, wrong site…). */
  acceptResult(siteId: string, result: TaskResult__Output): string | null {
    const p = this.pending.get(result.taskId);
    if (!p) return `result for unknown or finished task ${result.taskId}`;
    if (p.siteId !== siteId) return `result for task ${result.taskId} which belongs to another site`;
    if (result.studyId !== p.task.studyId || result.round !== p.task.round) {
      return `result for study ${result.studyId} round ${result.round}, task is study ${p.task.studyId} round ${p.task.round}`;
    }
    if (result.kind !== p.task.kind) return `result of kind ${result.kind} for a ${String(p.task.kind)} task`;
    const problem = p.validate(result);
    if (problem != null) {
      this.finish(result.taskId, { ok: false, outcome: 'invalid', reason: problem, durationMs: this.now() - p.startedAt });
      return problem;
    }
    this.finish(result.taskId, { ok: true, result, durationMs: this.now() - p.startedAt });
    return null;
  }

  acceptRefusal(siteId: string, taskId: string, code: string, reason: string): string | null {
    const p = this.pending.get(taskId);
    if (!p || p.siteId !== siteId) return `refusal for unknown task ${taskId}`;
    this.finish(taskId, {
      ok: false,
      outcome: 'refused',
      reason: `${code}: ${reason}`.slice(0, 500),
      durationMs: this.now() - p.startedAt,
    });
    return null;
  }

  /** Ends every pending task (shutdown). */
  cancelAll(reason: string): void {
    for (const [taskId, p] of this.pending) {
      this.finish(taskId, { ok: false, outcome: 'disconnected', reason, durationMs: this.now() - p.startedAt });
    }
    for (const s of this.sessions.values()) s.close(reason);
    this.sessions.clear();
  }
}
