import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StudySummary } from '../../../coordinator/src/study-summary.js';
import { LocalFederation } from '../local-federation/index.js';
import type { DemoArgs } from './demo-args.js';
import type { DemoPlan } from './demo-plan.js';
import { type DemoReport, progressLine } from './demo-report.js';

/** What the run hands the report: the coordinator's summary and each site's own privacy ledger. */
export interface DemoRun {
  summary: StudySummary;
  sitePrivacy: DemoReport['privacy']['perSite'];
  /** Stops the coordinator, the agents and the dashboard (after `--keep-running`, on Ctrl-C). */
  close(): Promise<void>;
}

function json(obj: unknown): string {
  return JSON.stringify(obj, null, 2);
}

/** Each site's own privacy limits under --dp-epsilon: this study's target for one study, and room for ten in total. */
function writePrivacyPolicy(a: DemoArgs, siteId: string): { policy: string; ledger: string } | undefined {
  if (!a.dp) return undefined;
  const privacy = { policy: path.join(a.workdir, `privacy-policy-${siteId}.yaml`), ledger: path.join(a.workdir, `privacy-ledger-${siteId}.sqlite`) };
  writeFileSync(
    privacy.policy,
    json({
      requireDp: true,
      maxEpsilonPerStudy: a.dp.epsilon,
      maxDeltaPerStudy: a.dp.delta,
      maxEpsilonTotal: 10 * a.dp.epsilon,
      maxDeltaTotal: 10 * a.dp.delta,
      minNoiseMultiplier: 0.5,
      maxRounds: 1000,
      accountant: a.dp.accountant,
    }),
  );
  return privacy;
}

/**
 * Provisions the consortium in the workdir, starts the coordinator with the study and one agent per site
 * (the local-federation launcher), prints progress, and resolves with the study's summary. Ctrl-C stops
 * the processes, and the run fails naming the coordinator's log.
 */
/**
 * The chest-xray sites decode thousands of 448–512 px images when a study's first task arrives, three agents
 * and the coordinator on one shared 2-core host: at load average 12 two of them went 8 s (the default 4 ×
 * 2 s) without a heartbeat and round 1 failed three times. A minute tolerates that and still drops a dead site.
 */
const CHEST_HEARTBEAT_TIMEOUT_MS = 60_000;

export async function runDemo(a: DemoArgs, plan: DemoPlan, say: (line: string) => void): Promise<DemoRun> {
  const studyFile = path.join(a.workdir, 'study.json');
  writeFileSync(studyFile, json(plan.spec));
  const fed = await LocalFederation.create({
    workdir: a.workdir,
    name: 'tessera-demo',
    sites: plan.sites.map((s) => {
      const privacy = writePrivacyPolicy(a, s.id);
      const config = { ...(privacy ? { privacy } : {}), ...(s.sources ? { sources: s.sources } : {}) };
      return { id: s.id, datasets: { [plan.spec.dataset]: s.dataset }, ...(Object.keys(config).length > 0 ? { config } : {}) };
    }),
    operators: [
      { id: 'operator', role: 'operator' },
      { id: 'compliance', role: 'compliance' },
    ],
    coordinator: { config: { heartbeatIntervalMs: 2000, ...(a.dataset === 'chest-xray' ? { heartbeatTimeoutMs: CHEST_HEARTBEAT_TIMEOUT_MS } : {}) }, studies: [studyFile], exitWhenDone: !a.keepRunning, ...(a.apiPort !== undefined ? { apiPort: a.apiPort } : {}) },
  });
  say(`provisioned consortium CA and ${plan.sites.length} site kits in ${fed.pkiDir}`);
  const interrupt = (): void => {
    for (const id of ['coordinator', ...fed.siteIds]) fed.process(id)?.kill('SIGTERM');
  };
  process.once('SIGINT', interrupt);
  const sitePrivacy: DemoReport['privacy']['perSite'] = {};
  const unsubscribe = fed.onMessage((msg) => {
    if (msg.kind === 'api') {
      // Printed even with --json (on stderr then), since the URL is what --api-port asks for.
      const line = `dashboard and REST API: ${msg.url}/  (sign in with the token in ${path.join(fed.pkiDir, 'operators', 'operator', 'token')}; compliance: ${path.join(fed.pkiDir, 'operators', 'compliance', 'token')})`;
      if (a.json) console.error(line);
      else say(line);
    } else if (msg.kind === 'listening') {
      say(`coordinator listening on 127.0.0.1:${msg.port} (mTLS); starting ${plan.sites.length} site agents`);
    } else if (msg.kind === 'event') {
      if (msg.event.type === 'site-privacy') {
        const e = msg.event;
        sitePrivacy[e.siteId] = { epsilon: e.epsilon, delta: e.delta, accountant: e.accountant, rounds: e.dpRounds };
      }
      const line = progressLine(msg.event, plan.spec.rounds);
      if (line != null) say(line);
    }
  });
  const close = async (): Promise<void> => {
    unsubscribe();
    process.removeListener('SIGINT', interrupt);
    await fed.close();
  };
  try {
    const summary = fed.waitForMessage((m) => m.kind === 'summary', { timeoutMs: 2 ** 31 - 1 });
    await fed.start();
    const done = await summary;
    if (done.kind !== 'summary') throw new Error('unreachable: waited for the summary');
    return { summary: done.summary, sitePrivacy, close };
  } catch (err) {
    await close();
    throw err;
  }
}
