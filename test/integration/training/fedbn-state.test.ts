/**
 * The FedBN state file of a site (site-agent/src/training/fedbn-state.ts): written atomically with mode 0600 in a
 * 0700 folder, read back bit for bit, and refused with TESSERA_INPUT_FEDBN_STATE when damaged (a flipped byte, a
 * cut file, another study's file, another format) rather than trusted.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TesseraError } from '../../../shared/src/errors.js';
import { fedBnStateFile, readFedBnState, writeFedBnState, type FedBnSiteState } from '../../../site-agent/src/training/fedbn-state.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-fedbn-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const state: FedBnSiteState = {
  siteId: 'site-1',
  studyId: 'chest-fedbn',
  model: 'resnet-small',
  inputDim: 4096,
  round: 3,
  savedAt: '2026-12-07T23:00:00.000Z',
  local: Float32Array.from([1, 0.5, -0.25, 1e-7, Number.MIN_VALUE, 3.4e38]),
  global: { version: 'a'.repeat(64), round: 3, weights: Float32Array.from({ length: 100 }, (_, i) => Math.sin(i)) },
};

async function refusal(file: string, studyId?: string): Promise<string> {
  const err = await readFedBnState(file, studyId).catch((e: unknown) => e);
  return (err as TesseraError).code;
}

describe('FedBN site state file', () => {
  it('round-trips bit for bit, 0600 in a 0700 folder, no temporary left; a study id that is not a plain id is hashed into the name', async () => {
    const folder = path.join(dir, 'kit', 'fedbn');
    const file = fedBnStateFile(folder, state.studyId);
    expect(path.basename(file)).toBe('chest-fedbn.fedbn.json');
    await writeFedBnState(file, state);
    await writeFedBnState(file, { ...state, round: 4 });
    const back = await readFedBnState(file, state.studyId);
    expect(back).toMatchObject({ siteId: 'site-1', studyId: 'chest-fedbn', model: 'resnet-small', inputDim: 4096, round: 4, global: { version: 'a'.repeat(64), round: 3 } });
    expect(Buffer.from(back!.local.buffer).equals(Buffer.from(state.local.buffer))).toBe(true);
    expect(Buffer.from(back!.global!.weights.buffer).equals(Buffer.from(state.global!.weights.buffer))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(readdirSync(folder)).toEqual(['chest-fedbn.fedbn.json']);
    expect(path.basename(fedBnStateFile(folder, '../../etc/passwd'))).toMatch(/^sha256-[0-9a-f]{32}\.fedbn\.json$/);
    expect(await readFedBnState(path.join(folder, 'none.fedbn.json'))).toBeUndefined();
  });

  it('refuses a damaged or foreign file instead of trusting it', async () => {
    const file = path.join(dir, 'x.fedbn.json');
    await writeFedBnState(file, state);
    const text = readFileSync(file, 'utf8');
    const body = JSON.parse(text) as { local: { base64: string }; format: string };
    // A flipped value: the sha256 no longer matches.
    const bytes = Buffer.from(body.local.base64, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    writeFileSync(file, JSON.stringify({ ...body, local: { ...body.local, base64: bytes.toString('base64') } }));
    expect(await refusal(file)).toBe('TESSERA_INPUT_FEDBN_STATE');
    writeFileSync(file, text.slice(0, text.length >> 1));
    expect(await refusal(file)).toBe('TESSERA_INPUT_FEDBN_STATE');
    writeFileSync(file, JSON.stringify({ ...body, format: 'something-else/1' }));
    expect(await refusal(file)).toBe('TESSERA_INPUT_FEDBN_STATE');
    writeFileSync(file, text);
    expect(await refusal(file, 'another-study')).toBe('TESSERA_INPUT_FEDBN_STATE');
    expect((await readFedBnState(file, state.studyId))?.round).toBe(3);
  });
});
