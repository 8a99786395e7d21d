import * as tf from '@tensorflow/tfjs-core';
// Gradient functions (tfjs-layers registers them too; this test uses core ops only).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../shared/src/ml/backend.js';
import { registerWasmTrainingKernels } from '../../../shared/src/ml/wasm-kernels.js';
import { createRng } from '../../../shared/src/rng.js';
import { captureLogger } from '../../unit/ml/helpers.js';

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}

// Odd and even sizes, strides 1..3 (also unequal), channels 1..5, both paddings; the 28×28 case is
// the BreastMNIST first layer.
const CASES: Case[] = [
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 8], strides: [1, 1], pad: 'same' },
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 8], strides: [1, 1], pad: 'valid' },
  { x: [2, 9, 11, 3], filter: [3, 2, 3, 4], strides: [2, 2], pad: 'same' },
  { x: [2, 9, 11, 3], filter: [3, 2, 3, 4], strides: [2, 2], pad: 'valid' },
  { x: [3, 10, 10, 2], filter: [5, 5, 2, 3], strides: [3, 3], pad: 'valid' },
  { x: [3, 10, 10, 2], filter: [4, 4, 2, 3], strides: [3, 3], pad: 'same' },
  { x: [1, 7, 8, 5], filter: [1, 1, 5, 2], strides: [2, 1], pad: 'valid' },
  { x: [2, 13, 6, 4], filter: [3, 3, 4, 6], strides: [1, 2], pad: 'same' },
  { x: [5, 6, 6, 16], filter: [3, 3, 16, 32], strides: [1, 1], pad: 'same' },
];

function randomArray(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Gradient of Σ (conv2d(x, w) ⊙ r) with respect to the filter, on the active backend. */
function filterGradient(c: Case, seed: number): { dw: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
    const x = tf.tensor4d(randomArray(size(c.x), seed), c.x);
    const w = tf.tensor4d(randomArray(size(c.filter), seed + 1), c.filter);
    const outShape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const r = tf.tensor(randomArray(size(outShape), seed + 2), outShape);
    const grads = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.strides, c.pad), r)));
    const [dx, dw] = grads([x, w]);
    return { dx: (dx as tf.Tensor).dataSync() as Float32Array, dw: (dw as tf.Tensor).dataSync() as Float32Array };
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return m / Math.max(scale, 1);
}

describe('wasm Conv2DBackpropFilter', () => {
  const { logger } = captureLogger();
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', logger });
  });

  it('is registered for wasm by backend selection, once (with the faster Conv2DBackpropInput and MaxPoolGrad)', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.setupFunc).toBeDefined();
    expect(registerWasmTrainingKernels()).toEqual([]);
  });

  it.each(CASES.map((c, i) => [`${c.x.join('×')} * ${c.filter.join('×')} s${c.strides.join(',')} ${c.pad}`, c, i] as const))(
    'matches the cpu gradient: %s',
    async (_name, c, i) => {
      await selectBackend({ prefer: 'cpu', logger });
      const cpu = filterGradient(c, 100 + i);
      await selectBackend({ prefer: 'wasm', logger });
      const numTensors = tf.memory().numTensors;
      const wasm = filterGradient(c, 100 + i);
      expect(tf.memory().numTensors).toBe(numTensors);
      expect(maxAbsDiff(wasm.dw, cpu.dw)).toBeLessThan(1e-5);
      expect(maxAbsDiff(wasm.dx, cpu.dx)).toBeLessThan(1e-5);
      // Not trivially zero: the gradient carries signal.
      expect(cpu.dw.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    },
  );

  it.each([
    { x: [2, 28, 28, 16] as [number, number, number, number], size: 2, stride: 2, pad: 'valid' as const },
    { x: [3, 9, 11, 4] as [number, number, number, number], size: 3, stride: 2, pad: 'same' as const },
    { x: [1, 7, 7, 2] as [number, number, number, number], size: 3, stride: 1, pad: 'valid' as const },
  ])('MaxPoolGrad matches cpu: $x pool $size stride $stride $pad (overlapping windows summed)', async (c) => {
    const grad = (): Float32Array =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomArray(c.x.reduce((a, b) => a * b, 1), 11), [...c.x]);
        const g = tf.grad((xi: tf.Tensor) => {
          const y = tf.maxPool(xi as tf.Tensor4D, c.size, c.stride, c.pad);
          return tf.sum(tf.mul(y, tf.tensor(randomArray(y.size, 12), y.shape)));
        });
        return g(x).dataSync() as Float32Array;
      });
    await selectBackend({ prefer: 'cpu', logger });
    const cpu = grad();
    await selectBackend({ prefer: 'wasm', logger });
    const wasm = grad();
    expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-6);
    expect(cpu.some((v) => v !== 0)).toBe(true);
  });

  it('trains conv → relu → maxPool → avgPool → dense on wasm with the same losses as cpu', async () => {
    const run = async (prefer: 'cpu' | 'wasm'): Promise<number[]> => {
      await selectBackend({ prefer, logger });
      const w1 = tf.variable(tf.mul(tf.tensor4d(randomArray(3 * 3 * 4, 5), [3, 3, 1, 4]), 0.5));
      const w2 = tf.variable(tf.mul(tf.tensor2d(randomArray(4 * 2 * 2, 6), [16, 1]), 0.3));
      const x = tf.tensor4d(randomArray(8 * 12 * 12, 7), [8, 12, 12, 1]);
      const y = tf.tensor2d([0, 1, 0, 1, 1, 0, 1, 0], [8, 1]);
      const opt = tf.train.sgd(0.5);
      const losses: number[] = [];
      const forward = (): tf.Scalar => {
        let h: tf.Tensor4D = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'valid'));
        h = tf.maxPool(h, 2, 2, 'valid');
        h = tf.avgPool(h, 2, 2, 'valid');
        return tf.losses.sigmoidCrossEntropy(y, tf.matMul(tf.reshape(h, [8, 16]), w2));
      };
      for (let step = 0; step < 5; step++) {
        const loss = opt.minimize(forward, true) as tf.Scalar;
        losses.push(loss.dataSync()[0] as number);
        tf.dispose(loss);
      }
      tf.dispose([x, y, w1, w2]);
      opt.dispose();
      return losses;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expect(wasm).toHaveLength(5);
    wasm.forEach((l, i) => expect(l).toBeCloseTo(cpu[i] as number, 5));
    expect(cpu[4]).toBeLessThan(cpu[0] as number);
  });
});
