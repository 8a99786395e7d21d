import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../exit-codes.js';
import { DEMO_USAGE, type DemoArgs, parseDemoArgs } from './demo-args.js';
import { DemoPlanError, imagingTrainCounts, planDemo } from './demo-plan.js';
import { buildDemoReport, printSummary } from './demo-report.js';
import { runDemo } from './demo-run.js';
import { chestSiteLabels, finishChestXray, printChestXray, stopChestPacs } from '../demo/chest-xray/index.js';

export { DEMO_USAGE } from './demo-args.js';
export { type DemoReport, selectModel } from './demo-report.js';

/**
 * `tessera demo`: the whole federation on one machine, as separate processes over mTLS. Four steps: parse the
 * command line (demo-args), plan the sites' data and the study (demo-plan), run the federation (demo-run, on the
 * local-federation launcher), and report (demo-report).
 */
export async function demoCommand(argv: string[]): Promise<number> {
  let args: DemoArgs | 'help';
  try {
    args = parseDemoArgs(argv);
  } catch (err) {
    console.error(`tessera demo: ${err instanceof Error ? err.message : String(err)}\n\n${DEMO_USAGE}`);
    return ExitCode.Usage;
  }
  if (args === 'help') {
    console.log(DEMO_USAGE);
    return ExitCode.Ok;
  }
  const started = Date.now();
  const a = args;
  if (existsSync(a.workdir) && readdirSync(a.workdir).length > 0) {
    console.error(`tessera demo: --workdir ${a.workdir} is not empty`);
    return ExitCode.Usage;
  }
  if (a.dataset === 'heart-disease' && !existsSync(a.dataDir)) {
    console.error(`tessera demo: heart-disease data folder not found: ${a.dataDir} (set --data-dir)`);
    return ExitCode.InputMissing;
  }
  const say = (line: string): void => {
    if (!a.json) console.log(line);
  };
  mkdirSync(path.join(a.workdir, 'logs'), { recursive: true });

  let plan;
  try {
    plan = await planDemo(a, say);
  } catch (err) {
    if (!(err instanceof DemoPlanError)) throw err;
    console.error(`tessera demo: ${err.message}`);
    return err.kind === 'usage' ? ExitCode.Usage : ExitCode.InputMissing;
  }
  const chest = plan.chest;
  const federationStarted = Date.now();
  let run;
  try {
    run = await runDemo(a, plan, say);
  } catch (err) {
    if (chest !== undefined) await stopChestPacs(chest);
    throw err;
  }
  try {
    const { summary } = run;
    // The coordinator never learned the imaging sites' train counts under secure aggregation; the demo reads each site's de-identified cache.
    if (a.dataset === 'breastmnist' && summary.secureAggregation) await imagingTrainCounts(a, plan);
    // The chest-xray sites' labels (and so their train counts), from each site's own evaluation of the study.
    const labels = chest !== undefined ? await chestSiteLabels(chest.sites, a.dataDir, plan.spec.id, plan.spec.data) : [];
    for (const l of labels) plan.localTrainExamples.set(l.id, l.splits.train.positive + l.splits.train.negative);
    const report = buildDemoReport(a, summary, run.sitePrivacy, plan.localTrainExamples, Date.now() - started);
    if (chest !== undefined) {
      const federationMs = Date.now() - federationStarted;
      report.chestXray = await finishChestXray(a, chest, { studyId: plan.spec.id, modelVersion: report.final.modelVersion || null, federationMs, labels }, say);
      report.durationMs = Date.now() - started;
    }
    if (a.report !== undefined) writeFileSync(a.report, JSON.stringify(report, null, 2) + '\n');
    if (a.json) console.log(JSON.stringify(report, null, 2));
    else {
      printSummary(report);
      if (report.chestXray) printChestXray(report.chestXray, report.durationMs);
    }
    if (a.keepRunning) {
      console.error('tessera demo: coordinator, site agents and dashboard keep running; Ctrl-C to stop');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return summary.status === 'completed' ? ExitCode.Ok : ExitCode.StudyFailed;
  } finally {
    await run.close();
    if (chest !== undefined) await stopChestPacs(chest);
  }
}
