import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, TesseraError } from '../../../shared/src/errors.js';
import { selectBackend } from '../../../shared/src/ml/index.js';
import { captureLogger } from './helpers.js';

describe('selectBackend', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('falls back from the absent tfjs-node-gpu to wasm, logging why', async () => {
    vi.stubEnv('TESSERA_TF_BACKEND', '');
    const { logger, lines } = captureLogger();
    const sel = await selectBackend({ logger });
    expect(sel.backend).toBe('wasm');
    expect(sel.tf.getBackend()).toBe('wasm');
    const skipped = lines.find((l) => l['backend'] === 'tensorflow');
    expect(skipped?.['msg']).toBe('tfjs backend unavailable, trying the next');
    expect(lines.filter((l) => l['msg'] === 'tfjs backend selected')).toEqual([
      expect.objectContaining({ backend: 'wasm', level: 30 }),
    ]);
    // Idempotent: cached, no second "selected" line.
    const again = await selectBackend({ logger });
    expect(again.backend).toBe('wasm');
    expect(lines.filter((l) => l['msg'] === 'tfjs backend selected')).toHaveLength(1);
  });

  it('honours a forced cpu (option and env), then re-activates the cached automatic choice', async () => {
    const { logger } = captureLogger();
    expect((await selectBackend({ prefer: 'cpu', logger })).tf.getBackend()).toBe('cpu');
    vi.stubEnv('TESSERA_TF_BACKEND', 'cpu');
    expect((await selectBackend({ logger })).backend).toBe('cpu');
    vi.stubEnv('TESSERA_TF_BACKEND', '');
    const auto = await selectBackend({ logger });
    expect(auto.backend).toBe('wasm');
    expect(auto.tf.getBackend()).toBe('wasm');
  });

  it('fails naming a forced backend that is unavailable', async () => {
    const { logger } = captureLogger();
    const err = await selectBackend({ prefer: 'tensorflow', logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('TESSERA_ML_BACKEND_UNAVAILABLE');
    expect((err as TesseraError).message).toContain('tensorflow');
  });

  it('rejects an unknown TESSERA_TF_BACKEND', async () => {
    vi.stubEnv('TESSERA_TF_BACKEND', 'webgpu');
    await expect(selectBackend()).rejects.toBeInstanceOf(ConfigError);
  });
});
