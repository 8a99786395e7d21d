import { describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/src/errors.js';
import {
  assertFinite,
  decodeWeights,
  encodeWeights,
  getModelSpec,
  initialWeights,
  totalParams,
  weightLayout,
  weightsSha256,
} from '../../../shared/src/ml/index.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).code;
  }
  throw new Error('expected an InputError');
}

describe('weightLayout', () => {
  it('lists kernel [in,out] then bias [out] per dense layer', () => {
    const layout = weightLayout(getModelSpec('mlp-small'), 13);
    expect(layout).toEqual([
      { name: 'dense_0/kernel', shape: [13, 16], size: 208, role: 'kernel', trainable: true, normalization: false },
      { name: 'dense_0/bias', shape: [16], size: 16, role: 'bias', trainable: true, normalization: false },
      { name: 'dense_1/kernel', shape: [16, 1], size: 16, role: 'kernel', trainable: true, normalization: false },
      { name: 'dense_1/bias', shape: [1], size: 1, role: 'bias', trainable: true, normalization: false },
    ]);
    expect(totalParams(layout)).toBe(241);
    expect(totalParams(weightLayout(getModelSpec('logreg'), 13))).toBe(14);
  });
});

describe('initialWeights', () => {
  it('is deterministic per seed, Glorot-bounded, with zero biases', () => {
    const spec = getModelSpec('mlp-small');
    const a = initialWeights(spec, 13, 42);
    expect(initialWeights(spec, 13, 42)).toEqual(a);
    expect(initialWeights(spec, 13, 43)).not.toEqual(a);
    const limit0 = Math.sqrt(6 / (13 + 16));
    const kernel0 = a.subarray(0, 208);
    expect(Math.max(...kernel0.map(Math.abs))).toBeLessThanOrEqual(limit0);
    expect(Math.max(...kernel0.map(Math.abs))).toBeGreaterThan(limit0 * 0.8);
    expect([...a.subarray(208, 224)]).toEqual(new Array(16).fill(0));
    expect(a[240]).toBe(0);
  });
});

describe('encode/decode', () => {
  it('round-trips as little-endian float32 bytes', () => {
    const w = new Float32Array([1, -2.5, 3.25e-8, 0]);
    const buf = encodeWeights(w);
    expect(buf.length).toBe(16);
    expect(buf.readFloatLE(4)).toBe(-2.5);
    expect([...buf.subarray(0, 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(decodeWeights(buf, 4)).toEqual(w);
    // An unaligned view still decodes.
    const shifted = Buffer.concat([Buffer.from([9]), buf]).subarray(1);
    expect(decodeWeights(shifted, 4)).toEqual(w);
  });

  it('rejects a wrong length with TESSERA_INPUT_WEIGHTS_SHAPE', () => {
    const buf = encodeWeights(new Float32Array(4));
    expect(codeOf(() => decodeWeights(buf, 5))).toBe('TESSERA_INPUT_WEIGHTS_SHAPE');
    expect(codeOf(() => decodeWeights(buf.subarray(0, 15), 4))).toBe('TESSERA_INPUT_WEIGHTS_SHAPE');
  });

  it.each([NaN, Infinity, -Infinity])('rejects %s with the index but not the value', (bad) => {
    const w = new Float32Array([0, 1, bad, 3, bad]);
    const buf = encodeWeights(w);
    expect(codeOf(() => decodeWeights(buf, 5))).toBe('TESSERA_INPUT_WEIGHTS_NONFINITE');
    try {
      assertFinite(w, 'update from site-a');
    } catch (err) {
      const e = err as InputError;
      expect(e.message).toContain('index 2');
      expect(e.message).toContain('site-a');
      expect(e.message).not.toMatch(/NaN|Infinity/);
      expect(e.context['index']).toBe(2);
    }
  });

  it('hashes the encoded bytes', () => {
    const w = new Float32Array([1, 2, 3]);
    expect(weightsSha256(w)).toMatch(/^[0-9a-f]{64}$/);
    expect(weightsSha256(w)).toBe(weightsSha256(new Float32Array([1, 2, 3])));
    expect(weightsSha256(w)).not.toBe(weightsSha256(new Float32Array([1, 2, 4])));
  });
});
