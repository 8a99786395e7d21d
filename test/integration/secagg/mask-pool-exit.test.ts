import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// A child process on the compiled pool (npm test builds dist/ first), so an integration test; the pool's
// in-process tests are in test/unit/secagg/native-mask.test.ts.
describe('mask worker pool in a process of its own', () => {
  it('an idle pool never keeps its process alive, a busy one does (a coordinator exits after its last study)', () => {
    // The compiled module (npm test builds dist/ first), in a process of its own that just returns.
    const mod = new URL('../../../dist/shared/src/secagg/mask-pool.js', import.meta.url).href;
    const script = `const { MaskWorkerPool } = await import(${JSON.stringify(mod)});
      const pool = MaskWorkerPool.create(2);
      const t = new Uint32Array(new SharedArrayBuffer(40000));
      pool.applyMasks(t, [{ seed: new Uint8Array(32), sign: 1 }]).then(() => console.log('done ' + t[0]));`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-pool-exit-'));
    const file = path.join(dir, 'pool-exit.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    // The job finished before the exit: the pending job kept the process alive.
    expect(r.stdout).toMatch(/^done \d+/);
  }, 90_000);
});
