import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChestPlanError, ensureChestHoldings } from '../../../../cli/src/demo/chest-xray/plan.js';

describe('chest-xray demo planning', () => {
  let dir: string;
  const saved = process.env['TESSERA_SHARED_DATA'];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-cxplan-'));
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env['TESSERA_SHARED_DATA'];
    else process.env['TESSERA_SHARED_DATA'] = saved;
    await rm(dir, { recursive: true, force: true });
  });
  const options = (dataDir: string) => ({ workdir: path.join(dir, 'work'), dataDir, seed: 42, quick: true, pacs: false, inputShape: [28, 28, 1] as const });

  it('fails with a message naming the missing npz and the environment variable that points at it', async () => {
    process.env['TESSERA_SHARED_DATA'] = path.join(dir, 'no-such-folder');
    const err = await ensureChestHoldings(options(path.join(dir, 'data')), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChestPlanError);
    expect((err as ChestPlanError).kind).toBe('input-missing');
    expect((err as Error).message).toMatch(/no-such-folder\/medmnist\/pneumoniamnist_varun19424\.npz/);
    expect((err as Error).message).toMatch(/TESSERA_SHARED_DATA/);
  });

  it('refuses a data folder that holds another seed\'s hospitals rather than mixing them', async () => {
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'heldout'), { recursive: true });
    await writeFile(path.join(data, 'heldout', 'labels.json'), '{}\n');
    await writeFile(path.join(data, 'holdings.json'), JSON.stringify({ seed: 7, quick: true, sites: [], generateMs: 1000 }));
    const err = await ensureChestHoldings(options(data), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChestPlanError);
    expect((err as ChestPlanError).kind).toBe('usage');
    expect((err as Error).message).toMatch(/seed 7/);
  });

  it('reuses the hospitals a previous run of the same seed and size left in the data folder', async () => {
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'heldout'), { recursive: true });
    await writeFile(path.join(data, 'heldout', 'labels.json'), '{}\n');
    await writeFile(path.join(data, 'holdings.json'), JSON.stringify({ seed: 42, quick: true, sites: [], generateMs: 1000 }));
    const said: string[] = [];
    const held = await ensureChestHoldings(options(data), (l) => said.push(l));
    expect(held.reused).toBe(true);
    expect(said.join('\n')).toMatch(/using the hospitals' holdings/);
  });
});
