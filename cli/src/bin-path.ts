import path from 'node:path';
import { repoRoot } from '../../shared/src/paths.js';

/** Path of the `tessera` launcher, for starting coordinator and agent child processes. */
export function tesseraBin(): string {
  return path.join(repoRoot(), 'bin', 'tessera.js');
}

/**
 * V8's first old-generation limit, in MB, for Tessera's long-running processes. Left to itself V8 starts
 * old space at about 20-40 MB and, while 1 MiB transfer buffers stream through, runs a full mark-compact
 * every few dozen MB: about 50 per 768 MiB uploaded at each end, with concurrent marking on every core
 * (a third of the machine's cycles on a 2-core host, profiled). Starting at 128 MB leaves one or two per
 * transfer and moved upload throughput on loopback from about 220 to 300-330 MB/s (`npm run bench --
 * transfer`). It is a starting limit, not a reservation: resident memory did not change in the benchmark,
 * and an idle process never grows to it. Node does not accept this flag in NODE_OPTIONS, so every launcher
 * passes it on the command line (`tessera demo`, deploy/systemd, deploy/Dockerfile, the benchmarks).
 */
export const OLD_SPACE_FLAG = '--initial-old-space-size=128';

/** Node flags for the coordinator process. */
export const COORDINATOR_NODE_FLAGS: readonly string[] = [OLD_SPACE_FLAG];

/**
 * The agents' old-space start: 64 MB. In the 10-agent secagg-e2e bench it gave the same round times as 128
 * (1.53 vs 1.54 s secure, 1.18 vs 1.15 s plaintext) with 184 instead of 199 MB peak per agent (167 without
 * the flag), which counts where many agents share one host.
 */
export const AGENT_OLD_SPACE_FLAG = '--initial-old-space-size=64';

/**
 * Node flags for the agent processes `tessera demo` and the benchmarks start, many to one host: V8's young
 * generation is capped at 2 MB per semi-space (Node 20 lets it grow to 16 MB), which keeps each agent's
 * resident memory 15-30 MB smaller at the cost of more frequent, shorter scavenges; and the old-space
 * start of {@link AGENT_OLD_SPACE_FLAG}. A site running its own agent passes the same on node's command line
 * (deploy/systemd does).
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', AGENT_OLD_SPACE_FLAG];

/**
 * glibc malloc settings for those agent processes: two arenas instead of eight per core, and a fixed mmap
 * threshold, so model-sized buffers (4 MB at a million parameters) go back to the system when freed instead
 * of staying in an arena. Measured on 4 agents × 1,000,000 parameters: about 10 MB less idle and 20 MB less
 * at peak per agent. Ignored where the C library is not glibc.
 */
export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
