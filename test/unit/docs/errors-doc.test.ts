import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../../cli/src/exit-codes.js';

// Parity between the source and docs/errors.md (STYLE §9, after fastify test/internals/errors.test.js and
// Flower exit_code_test.py): every code in the source is documented, and every documented code still exists.

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SOURCE_DIRS = ['shared/src', 'coordinator/src', 'site-agent/src', 'cli/src'];
const EXCLUDED = [/(^|\/)test\//, /(^|\/)protos\/gen\//, /(^|\/)node_modules\//, /(^|\/)dist\//];
const DOC = path.join(ROOT, 'docs/errors.md');

// A concrete code: `TESSERA_` then upper-case words joined by single underscores. Template prefixes such as
// `TESSERA_INPUT_${string}` or `startsWith('TESSERA_INPUT_')` end in `_` and are not codes.
const CODE = /\bTESSERA_[A-Z0-9_]*/g;

function concreteCodes(text: string): string[] {
  return [...text.matchAll(CODE)].map((m) => m[0]).filter((c) => !c.endsWith('_'));
}

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const rel = path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (!EXCLUDED.some((re) => re.test(rel))) files.push(rel);
    }
  }
  return files.sort();
}

/** Code → the first source file that uses it. */
function codesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles()) {
    for (const code of concreteCodes(readFileSync(path.join(ROOT, file), 'utf8'))) {
      if (!found.has(code)) found.set(code, file);
    }
  }
  return found;
}

function docText(): string {
  return readFileSync(DOC, 'utf8');
}

/** Table rows of the doc whose first cell is a single backticked `TESSERA_…` name. */
function listedCodes(text: string): string[] {
  const listed: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\|\s*`(TESSERA_[A-Z0-9_]+)`\s*\|/.exec(line);
    if (m?.[1] !== undefined && !m[1].endsWith('_')) listed.push(m[1]);
  }
  return listed;
}

/** Rows of the "CLI exit codes" section: `| value | \`Name\` | …`. */
function listedExitCodes(text: string): Map<string, number> {
  const start = text.indexOf('\n## CLI exit codes');
  expect(start, 'docs/errors.md needs a "## CLI exit codes" section').toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + 1);
  const next = rest.indexOf('\n## ');
  const section = next === -1 ? rest : rest.slice(0, next);
  const rows = new Map<string, number>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*(\d+)\s*\|\s*`([A-Za-z]+)`\s*\|/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) rows.set(m[2], Number(m[1]));
  }
  return rows;
}

describe('docs/errors.md: error codes', () => {
  it('finds the codes it is meant to check (guards the scanner itself)', () => {
    // Arrange
    const codes = codesInSource();

    // Assert: one code per area that is known to exist, and no template prefix counted as a code.
    for (const known of ['TESSERA_CONFIG_INVALID', 'TESSERA_IDENTITY_REVOKED', 'TESSERA_PROTOCOL_NO_HELLO']) {
      expect(codes.has(known), known).toBe(true);
    }
    expect([...codes.keys()].filter((c) => c.endsWith('_'))).toEqual([]);
    expect(concreteCodes('`TESSERA_INPUT_${string}` startsWith(\'TESSERA_PROTOCOL_\') TESSERA_<AREA>_<WHAT>')).toEqual([]);
  });

  it('lists every code used in the source', () => {
    // Arrange
    const listed = new Set(listedCodes(docText()));

    // Act
    const missing = [...codesInSource()].filter(([code]) => !listed.has(code)).map(([code, file]) => `${code} (${file})`);

    // Assert
    expect(missing, 'add a row to docs/errors.md for each of these').toEqual([]);
  });

  it('lists no code that the source no longer uses, and none twice', () => {
    // Arrange
    const inSource = codesInSource();
    const text = docText();
    const listed = listedCodes(text);

    // Act: stale rows, and stale mentions anywhere in the page (prose included).
    const stale = [...new Set([...listed, ...concreteCodes(text)])].filter((code) => !inSource.has(code));
    const twice = listed.filter((code, i) => listed.indexOf(code) !== i);

    // Assert
    expect(stale, 'these are documented but no longer in the source').toEqual([]);
    expect(twice, 'these rows appear twice').toEqual([]);
  });
});

describe('docs/errors.md: CLI exit codes', () => {
  it('documents exactly the values of cli/src/exit-codes.ts', () => {
    // Arrange
    const documented = listedExitCodes(docText());

    // Act
    const inSource = new Map<string, number>(Object.entries(ExitCode));

    // Assert
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(inSource));
  });

  it('has one ExitCode table: no command defines its own', () => {
    // Arrange
    const definitions = sourceFiles().filter((file) =>
      /\bexport\s+const\s+ExitCode\b/.test(readFileSync(path.join(ROOT, file), 'utf8')),
    );

    // Assert
    expect(definitions).toEqual(['cli/src/exit-codes.ts']);
  });

  it('keeps the values scripts rely on', () => {
    // Assert: changing these breaks systemd units and shell scripts that test `$?`.
    expect(ExitCode.Ok).toBe(0);
    expect(ExitCode.Internal).toBe(1);
    expect(ExitCode.Usage).toBe(2);
  });
});
