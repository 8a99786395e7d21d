import type { FitContext, FitOutcome, FitProtocol } from './fit-protocol.js';
import { SecAggWorkflow } from './secagg-workflow.js';

/**
 * The secure fit protocol: SecAgg(+) over the cohort (secagg-workflow.ts). The strategies consume the
 * securely computed weighted mean as one update: FedAvg/FedProx return it, the server optimizers take
 * (mean − global) as their pseudo-gradient.
 */
export class SecureFit implements FitProtocol {
  constructor(private readonly c: FitContext) {}

  async run(cohort: readonly string[]): Promise<FitOutcome> {
    const { deps, spec, tasks, model, dp } = this.c;
    const secure = await new SecAggWorkflow({
      ...(dp.siteLevel ? { siteLevel: dp.siteLevel } : {}),
      onSiteResult: (siteId, r) => this.c.reportPrivacy(siteId, r),
      deps,
      spec,
      ctx: tasks.ref,
      caCertPem: deps.caCertPem,
      fitTask: (siteId) => tasks.make('fit', siteId, model),
      taskId: (stage, siteId) => tasks.taskId(stage, siteId),
    }).run(cohort, this.c.global);
    if (!secure.ok) return { ok: false, reason: `secure aggregation: ${secure.reason}` };
    return {
      ok: true,
      updates: [{ siteId: 'secure-aggregate', weights: secure.fit.mean, numExamples: 1 }],
      metrics: secure.fit.metrics.map((m) => ({ n: 1, ...m })),
      contributors: secure.fit.contributors,
      ...(secure.fit.noisyUnclipped !== undefined ? { noisyUnclipped: secure.fit.noisyUnclipped } : {}),
    };
  }
}
