/**
 * CLI papercuts, on the compiled launcher (bin/tessera.js → dist/, built by `npm test`) as a shell runs it:
 * `provision --help` and `revoke --help` print their usage and exit 0 (they exited 2, "Unknown option"), as every
 * command does; output whose reader went away (`tessera … | head`) ends quietly with exit 0 instead of an
 * unhandled EPIPE stack trace.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tesseraBin } from '../../../cli/src/bin-path.js';

const COMMANDS = ['demo', 'provision', 'revoke', 'coordinator', 'agent', 'audit', 'export-model', 'deid', 'study', 'sites', 'data', 'deid-emr', 'report-labels'];

/** Runs the CLI with its stdout's reader already gone (closed before the process writes anything). */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tesseraBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('tessera CLI papercuts (compiled launcher)', () => {
  it('provision --help and revoke --help print their usage on stdout and exit 0; so do -h and every other command', () => {
    for (const [cmd, flag] of [
      ['provision', '--help'],
      ['revoke', '--help'],
      ['provision', '-h'],
      ['deid', '-h'],
    ] as const) {
      const r = spawnSync(process.execPath, [tesseraBin(), cmd, flag], { encoding: 'utf8' });
      expect(r.status, `${cmd} ${flag}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: tessera ${cmd} `));
      expect(r.stderr).toBe('');
    }
    for (const cmd of COMMANDS) expect(spawnSync(process.execPath, [tesseraBin(), cmd, '--help']).status, cmd).toBe(0);
  });

  it('piped into a reader that went away (| head), output ends quietly: exit 0, nothing on stderr', async () => {
    for (const args of [['deid', '--help'], ['provision', '--help'], ['--help']]) {
      const r = await runWithClosedStdout(args);
      expect(r, args.join(' ')).toEqual({ code: 0, signal: null, stderr: '' });
    }
  });

  it('a real pipeline: tessera … | head -1 shows the first line and the shell sees no error', () => {
    // `set -o pipefail` makes the pipeline fail if tessera does; a crash also prints a stack trace on stderr.
    const r = spawnSync('bash', ['-c', `set -o pipefail; for i in 1 2 3 4 5; do "${process.execPath}" "${tesseraBin()}" deid --help; done | head -1`], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^usage: tessera deid /);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
