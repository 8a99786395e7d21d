/**
 * Child process of the imaging training case: trains resnet-small on wasm with the agents' Node flags and
 * malloc settings (what a site's agent runs under), then reports images/s and its own peak resident memory
 * (VmHWM) to the parent over IPC. Started by `runTrainingBench` from `dist/bench`.
 */
import { readFileSync } from 'node:fs';

import { trainOnce, type TrainOnceOptions } from './imaging-training.js';

/** Peak resident set (VmHWM) of this process in MiB, from /proc; `process.resourceUsage` elsewhere. */
function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Math.round((m !== null ? Number(m[1]) : process.resourceUsage().maxRSS) / 1024);
}

process.once('message', (opts: TrainOnceOptions) => {
  trainOnce(opts).then(
    (r) => process.send?.({ ...r, peakRssMiB: peakRssMiB() }, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1)),
  );
});
