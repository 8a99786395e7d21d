import type { SiteChannel } from '../rounds/round-ports.js';
import type { SiteResult, SiteTask, SiteTaskOutcome } from '../rounds/site-task.js';
import type { SiteSessions } from '../sessions/site-sessions.js';
import { fromWireResult, toWireTask } from './wire-convert.js';

/** {@link SiteChannel} over the gRPC control streams (SiteSessions): converts tasks and results at the wire. */
export class GrpcSiteChannel implements SiteChannel {
  constructor(private readonly sessions: SiteSessions) {}

  connectedSites(): string[] {
    return this.sessions.connectedSites();
  }

  onChange(fn: () => void): () => void {
    return this.sessions.onChange(fn);
  }

  onDisconnect(fn: (siteId: string) => void): () => void {
    return this.sessions.onDisconnect(fn);
  }

  async dispatch(siteId: string, task: SiteTask, timeoutMs: number, check?: (result: SiteResult) => string | null): Promise<SiteTaskOutcome> {
    const outcome = await this.sessions.dispatch(siteId, toWireTask(task), timeoutMs, check ? (r) => check(fromWireResult(r, task.kind)) : undefined);
    return outcome.ok ? { ok: true, result: fromWireResult(outcome.result, task.kind), durationMs: outcome.durationMs } : outcome;
  }
}
