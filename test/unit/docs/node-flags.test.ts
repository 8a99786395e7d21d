import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS, AGENT_OLD_SPACE_FLAG, COORDINATOR_NODE_FLAGS, OLD_SPACE_FLAG } from '../../../cli/src/bin-path.js';

// Node refuses V8 heap flags such as --initial-old-space-size in NODE_OPTIONS, so every launcher of a
// coordinator or agent names them itself. These are the launchers outside `tessera demo` (which forks with
// the constants): they must not drift from cli/src/bin-path.ts.

const ROOT = path.resolve(import.meta.dirname, '../../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** The node flags of a command line `node FLAGS… SCRIPT …`. */
function flagsOf(commandLine: string): string[] {
  const words = commandLine.trim().split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  const out: string[] = [];
  for (const w of words.slice(node + 1)) {
    if (!w.startsWith('--')) break;
    out.push(w);
  }
  return out;
}

describe('node flags of the launchers', () => {
  it('the systemd units start the coordinator and the agent with the flags bin-path.ts gives them', () => {
    const execStart = (file: string): string => /^ExecStart=(.*)$/m.exec(read(file))?.[1] ?? '';
    expect(flagsOf(execStart('deploy/systemd/tessera-coordinator.service'))).toEqual([...COORDINATOR_NODE_FLAGS]);
    expect(flagsOf(execStart('deploy/systemd/tessera-agent.service'))).toEqual([...AGENT_NODE_FLAGS]);
  });

  it('the container image and the benchmarks (whose transfer suite runs the coordinator end) start with the old-space flag', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('deploy/Dockerfile'))?.[1] ?? '[]';
    expect(flagsOf((JSON.parse(entrypoint) as string[]).join(' '))).toEqual([OLD_SPACE_FLAG]);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(flagsOf((scripts['bench'] ?? '').split('&&').pop() ?? '')).toEqual([...COORDINATOR_NODE_FLAGS]);
    expect(AGENT_NODE_FLAGS).toContain(AGENT_OLD_SPACE_FLAG);
  });
});
