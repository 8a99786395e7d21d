import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CoordinatorEvent } from '../rounds/events.js';
import type { PhaseTiming } from '../store/coordinator-store.js';

/**
 * The coordinator's Prometheus metrics, in their own registry (no process-global state, so two coordinators in
 * one test process do not collide). Labels are bounded sets (phase, direction, outcome, error code, route): never
 * a site-provided string beyond the site id, never anything derived from data or updates.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly phaseSeconds: Histogram<'phase' | 'status'>;
  readonly roundSeconds: Histogram<'status'>;
  readonly bytes: Counter<'direction'>;
  readonly sitesConnected: Gauge;
  readonly refusals: Counter<'source' | 'reason'>;
  readonly siteOutcomes: Counter<'phase' | 'outcome'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly roundsCommitted: Counter;

  constructor(connectedSites: () => number) {
    const registers = [this.registry];
    const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
    this.phaseSeconds = new Histogram({
      name: 'tessera_round_phase_duration_seconds',
      help: 'Duration of each round phase (waiting, fitting, aggregating, evaluating), by how the round ended',
      labelNames: ['phase', 'status'],
      buckets,
      registers,
    });
    this.roundSeconds = new Histogram({
      name: 'tessera_round_duration_seconds',
      help: 'Duration of a round attempt from start to commit or failure',
      labelNames: ['status'],
      buckets,
      registers,
    });
    this.bytes = new Counter({
      name: 'tessera_transfer_bytes_total',
      help: 'Model and update bytes moved over gRPC (in: site updates; out: model downloads)',
      labelNames: ['direction'],
      registers,
    });
    this.sitesConnected = new Gauge({
      name: 'tessera_sites_connected',
      help: 'Site agents with an open control stream',
      registers,
      collect() {
        this.set(connectedSites());
      },
    });
    this.refusals = new Counter({
      name: 'tessera_refusals_total',
      help: 'Refused requests: mTLS identity checks (source grpc), REST authentication/authorization (source rest), and site task refusals (source site)',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.siteOutcomes = new Counter({
      name: 'tessera_site_task_outcomes_total',
      help: 'Outcome of each fit/evaluate task dispatched to a site',
      labelNames: ['phase', 'outcome'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'tessera_http_requests_total',
      help: 'REST API requests by route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.roundsCommitted = new Counter({
      name: 'tessera_rounds_committed_total',
      help: 'Rounds committed',
      registers,
    });
    this.bytes.inc({ direction: 'in' }, 0);
    this.bytes.inc({ direction: 'out' }, 0);
  }

  /** Counts what an event says (site outcomes, refusals, commits). */
  observeEvent(e: CoordinatorEvent): void {
    if (e.type === 'site-finished') {
      this.siteOutcomes.inc({ phase: e.phase, outcome: e.outcome });
      if (e.outcome === 'refused') this.refusals.inc({ source: 'site', reason: 'task-refused' });
    } else if (e.type === 'round-committed') {
      this.roundsCommitted.inc();
    }
  }

  /** Records a finished round attempt's phase timings (from the store's round record). */
  observeRound(status: string, startedAt: number, endedAt: number | null, phases: Record<string, PhaseTiming>): void {
    for (const [phase, t] of Object.entries(phases)) {
      if (t.endedAt !== undefined) this.phaseSeconds.observe({ phase, status }, Math.max(0, t.endedAt - t.startedAt) / 1000);
    }
    if (endedAt !== null) this.roundSeconds.observe({ status }, Math.max(0, endedAt - startedAt) / 1000);
  }
}
