import path from 'node:path';
import { repoRoot } from '../../shared/src/paths.js';

/** Path of the `tessera` launcher, for starting coordinator and agent child processes. */
export function tesseraBin(): string {
  return path.join(repoRoot(), 'bin', 'tessera.js');
}

/**
 * Node flags for the agent processes `tessera demo` and the benchmarks start, many to one host: V8's young
 * generation is capped at 2 MB per semi-space (Node 20 lets it grow to 16 MB), which keeps each agent's
 * resident memory 15-30 MB smaller at the cost of more frequent, shorter scavenges. A site running its own
 * agent can set the same through NODE_OPTIONS.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * glibc malloc settings for those agent processes: two arenas instead of eight per core, and a fixed mmap
 * threshold, so model-sized buffers (4 MB at a million parameters) go back to the system when freed instead
 * of staying in an arena. Measured on 4 agents × 1,000,000 parameters: about 10 MB less idle and 20 MB less
 * at peak per agent. Ignored where the C library is not glibc.
 */
export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
