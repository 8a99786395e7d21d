import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../shared/src/paths.js';

// Belt and braces beside lint (eslint.config.mjs keeps every product module but the demo from importing
// cli/src/public-data.ts): no product source even names the developers' data folder. The only modules
// allowed to are the one that resolves it and the demo command (cli/src/commands/demo.ts and demo-*.ts,
// cli/src/demo/**, as the demo grows into several files), whose optional data sets live there.
const PRODUCT_FOLDERS = ['shared', 'coordinator', 'site-agent', 'cli'];
const allowed = (file: string): boolean => file === 'cli/src/public-data.ts' || /^cli\/src\/(commands\/demo(-[a-z-]+)?\.ts|demo\/[a-z0-9/-]+\.ts)$/.test(file);
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build']);

/** What names the data folder: its helper, its variable, or a path to `../shared` that is not a source import. */
const FORBIDDEN: readonly [string, RegExp][] = [
  ['sharedDataDir', /\bsharedDataDir\b/],
  ['TESSERA_SHARED_DATA', /TESSERA_SHARED_DATA/],
  ['../shared (the sibling data folder)', /\.\.\/shared(?!\/src\/)(?=[/'"`\s]|$)/m],
  ["'..', 'shared' (path segments)", /['"`]\.\.['"`]\s*,\s*['"`]shared['"`]/],
  ['shared/data', /\bshared\/data\b/],
];

function productFiles(): string[] {
  const root = repoRoot();
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP_DIRS.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|mts|js|mjs|json|html|css|yaml|yml)$/.test(entry.name)) out.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  for (const folder of PRODUCT_FOLDERS) walk(path.join(root, folder));
  return out;
}

function offences(text: string): string[] {
  return FORBIDDEN.filter(([, re]) => re.test(text)).map(([name]) => name);
}

describe('nothing the product needs at run time reads ../shared', () => {
  it('the check recognises each way of naming the data folder, and not imports of shared/src', () => {
    // Arrange
    const bad = [
      "import { sharedDataDir } from '../public-data.js';",
      "const d = process.env['TESSERA_SHARED_DATA'];",
      "readFileSync('../shared/data/deid-profile/table.json')",
      "path.resolve(repoRoot(), '..', 'shared', 'data')",
      'see ../shared for the data',
      "path.join(root, 'shared/data', 'x')",
    ];
    const good = ["import { errorMessage } from '../../../shared/src/errors.js';", "import type { Logger } from '../../shared/src/logging.js';"];
    // Act / Assert
    for (const line of bad) expect(offences(line), line).not.toEqual([]);
    for (const line of good) expect(offences(line), line).toEqual([]);
  });

  it('no module under shared/, coordinator/, site-agent/ or cli/ (but public-data.ts and the demo) names it', () => {
    // Arrange
    const files = productFiles();
    // Act
    const found = files.filter((f) => !allowed(f)).flatMap((f) => offences(readFileSync(path.join(repoRoot(), f), 'utf8')).map((o) => `${f}: ${o}`));
    // Assert
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('site-agent/src/hospital/deid/dicom-profile.ts');
    expect(['cli/src/commands/demo.ts', 'cli/src/commands/demo-plan.ts', 'cli/src/demo/chest-xray/plan.ts'].every(allowed)).toBe(true);
    expect(['cli/src/commands/deid.ts', 'cli/src/main.ts', 'cli/src/demo/../commands/deid.ts'].some(allowed)).toBe(false);
    expect(found).toEqual([]);
  });
});
