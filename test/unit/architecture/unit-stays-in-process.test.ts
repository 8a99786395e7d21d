import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../shared/src/paths.js';

// The unit project stays in process (vitest.config.ts, CONTRIBUTING.md "Tests"): a test file under
// test/unit/ that starts a process, binds a port, opens a SQLite file, runs the compiled dist/ or a whole
// federation belongs in test/integration/. This names the file and what it does, so a merge that adds one
// to test/unit/ is caught here rather than by a slow unit run.
const OUT_OF_PROCESS: readonly [string, RegExp][] = [
  ['starts a child process', /from\s+['"](node:)?child_process['"]/],
  ['binds a port', /\.listen\(|\bcreate(Secure)?Server\(|\bbindAsync\(/],
  ['runs the compiled dist/', /['"`](\.\.\/)+dist\//],
  ['opens a SQLite file', /\.sqlite['"`]/],
  ['runs the tessera binary', /bin\/tessera\.js|\btesseraBin\(/],
  ['starts a federation', /\bstart(Rest)?Federation\(/],
];

const SELF = fileURLToPath(import.meta.url);

/** Every .ts file under test/unit/ but this one, whose examples name every way out. */
function unitFiles(): string[] {
  const root = path.join(repoRoot(), 'test', 'unit');
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && full !== SELF) out.push(full);
    }
  };
  walk(root);
  return out;
}

function outOfProcess(text: string): string[] {
  return OUT_OF_PROCESS.filter(([, re]) => re.test(text)).map(([what]) => what);
}

describe('unit tests stay in process', () => {
  it('the check recognises each way out of the process, and not in-memory SQLite or package paths', () => {
    // Arrange
    const out = [
      "import { spawnSync } from 'node:child_process';",
      'server.listen(0, "127.0.0.1");',
      "const mod = new URL('../../../dist/shared/src/x.js', import.meta.url);",
      "await SqliteCoordinatorStore.open(path.join(dir, 'coordinator.sqlite'));",
      "execFile(process.execPath, [path.join(repoRoot(), 'bin/tessera.js'), 'demo']);",
      'const fed = await startFederation({ sites: 3 });',
    ];
    const inProcess = ["await SqliteCoordinatorStore.open(':memory:');", "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';", 'const pool = MaskWorkerPool.create(2);'];
    // Act / Assert
    for (const line of out) expect(outOfProcess(line), line).not.toEqual([]);
    for (const line of inProcess) expect(outOfProcess(line), line).toEqual([]);
  });

  it('no file under test/unit/ leaves the process (move such a test to test/integration/)', () => {
    // Arrange
    const files = unitFiles();
    // Act
    const found = files.flatMap((f) => outOfProcess(readFileSync(f, 'utf8')).map((what) => `${path.relative(repoRoot(), f)} ${what}`));
    // Assert
    expect(files.length).toBeGreaterThan(40);
    expect(found).toEqual([]);
  });
});
