import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../../cli/src/commands/command-io.js';
import { provisionCommand } from '../../../cli/src/commands/provision.js';
import { revokeCommand } from '../../../cli/src/commands/revoke.js';
import { makeTempDir, NOW } from './pki-fixtures.js';

function captureIo(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), now: () => NOW };
}

describe('tessera provision / revoke commands', () => {
  let dir: string;
  let configFile: string;

  beforeAll(() => {
    dir = makeTempDir('cli');
    configFile = path.join(dir, 'consortium.yaml');
    writeFileSync(configFile, 'name: Test Consortium\nsites:\n  - id: st-olav\n');
  });

  it('provisions, prints JSON, then revokes a site by id', async () => {
    // Arrange
    const out = path.join(dir, 'out');
    const provisionIo = captureIo();
    const revokeIo = captureIo();
    // Act
    const provisionCode = await provisionCommand(['--config', configFile, '--out', out, '--json'], provisionIo);
    const revokeCode = await revokeCommand(['--ca-dir', out, '--site', 'st-olav', '--reason', 'key lost'], revokeIo);
    // Assert
    expect(provisionCode).toBe(0);
    expect(JSON.parse(provisionIo.stdout.join('\n'))).toMatchObject({ consortium: 'Test Consortium', coordinator: '127.0.0.1:7443' });
    expect(revokeCode).toBe(0);
    expect(revokeIo.stdout[0]).toContain("Revoked 'st-olav'");
    const list = JSON.parse(readFileSync(path.join(out, 'ca/revocations.json'), 'utf8')) as { revoked: { id: string; reason: string }[] };
    expect(list.revoked).toEqual([expect.objectContaining({ id: 'st-olav', reason: 'key lost' })]);
  });

  it.each([
    ['an unknown flag', ['--config', 'x', '--out', 'y', '--bogus']],
    ['a missing --out', ['--config', 'x']],
    ['an unreadable config file', ['--config', '/nonexistent/consortium.yaml', '--out', 'y']],
  ])('provision returns 2 for %s', async (_label, argv) => {
    // Arrange
    const io = captureIo();
    // Act
    const code = await provisionCommand(argv, io);
    // Assert
    expect(code).toBe(2);
    expect(io.stderr.join('\n')).not.toBe('');
  });

  it('provision returns 2 and names the path for an invalid config', async () => {
    // Arrange
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nsites:\n  - id: Bad\n');
    const io = captureIo();
    // Act
    const code = await provisionCommand(['--config', bad, '--out', path.join(dir, 'never')], io);
    // Assert
    expect(code).toBe(2);
    expect(io.stderr[0]).toContain('bad.yaml: /sites/0/id');
  });

  it('revoke returns 2 when both --site and --serial are given, or the id is unknown', async () => {
    // Arrange
    const io = captureIo();
    // Act
    const both = await revokeCommand(['--ca-dir', dir, '--site', 'a', '--serial', 'ff'], io);
    const unknownDir = await revokeCommand(['--ca-dir', dir, '--site', 'a'], io);
    // Assert
    expect(both).toBe(2);
    expect(unknownDir).toBe(2);
    expect(io.stderr.join('\n')).toContain('not a provisioning output folder');
  });
});
