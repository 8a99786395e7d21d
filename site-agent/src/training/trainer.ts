import type * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, InputError, TesseraError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { selectBackend, type BackendName, type TfCore } from '../../../shared/src/ml/backend.js';
import { augmentImages } from '../../../shared/src/ml/augment.js';
import { buildModel, getFlatWeights, setFlatWeights, trainableVariables } from '../../../shared/src/ml/build-model.js';
import { balancedAccuracy, macroAuc, multiClassAccuracy, perClassAuc, rocAuc } from '../../../shared/src/ml/metrics.js';
import { headOf, resolveInputShape, validateModelSpec, type HeadKind, type ModelSpec } from '../../../shared/src/ml/model-spec.js';
import { exchangedLayout, initialWeights, mergeExchanged, splitExchanged, totalParams, weightLayout, type WeightEntry } from '../../../shared/src/ml/weights.js';
import { createRng } from '../../../shared/src/rng.js';
import { createSecureRandom, poissonSample, type SecureRandom } from '../../../shared/src/dp/noise.js';
import { dpSgdGradients, type DpSgdConfig } from './dp-sgd.js';
import { BCE_EPSILON, binaryCrossEntropy, meanGradients, type ComputeGradients } from './gradients.js';

/**
 * A site's data set in memory: `n` rows of `d` float32 features (row-major) and 0/1 labels, one per row
 * for a binary head, `n × k` (row-major) for a head of `k` outputs: one-hot rows for multi-class, one
 * 0/1 per class for multi-label.
 */
export interface TrainingData {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
}

/** Local training settings for one round (from the study config and the strategy's overrides). */
export interface FitConfig {
  /** Passes over the local data; integer ≥ 1. */
  epochs: number;
  /** Rows per mini-batch; integer ≥ 1 (the last batch of an epoch may be smaller). */
  batchSize: number;
  /** Client learning rate (Flower's `eta_l`); > 0. */
  learningRate: number;
  optimizer: 'sgd' | 'adam';
  /** FedProx μ: adds `(μ/2)·‖w − w_global‖²` to the loss; 0 disables it. */
  proximalMu: number;
  /** Seeds the mini-batch shuffle (dropout masks are TF.js's own and not seeded). */
  seed: number;
  /**
   * Binary heads: weights `[negative, positive]` of each class's examples in the loss (see
   * `balancedClassWeights`); finite and > 0. Not with `dp`. @default both 1
   */
  classWeights?: readonly [number, number];
  /**
   * Record-level DP-SGD: replaces the epochs of shuffled mini-batches by `dp.steps` steps on Poisson
   * samples (from the CSPRNG), with per-example clipping and Gaussian noise. `epochs`, `batchSize`
   * and `seed` are then unused.
   */
  dp?: DpSgdConfig;
}

/** Loss (mean binary cross-entropy, no regularisers) and accuracy at threshold 0.5. */
export interface Metrics {
  loss: number;
  accuracy: number;
}

/** What a site reports after local training. */
export interface FitResult {
  weights: Float32Array;
  numExamples: number;
  /** On the training set, after training. */
  metrics: Metrics;
}

/** Metrics of a weight vector on a data set. */
export interface EvaluateResult extends Metrics {
  numExamples: number;
  /** ROC AUC of the predicted probabilities (multi-output heads: the macro AUC); `NaN` when undefined. */
  auc: number;
  /** Multi-output heads: one-vs-rest AUC per class (`NaN` where a class is absent or everywhere). */
  perClassAuc?: number[];
  /** Multi-class heads: mean per-class recall (FLamby Fed-ISIC2019's balanced accuracy). */
  balancedAccuracy?: number;
}

/** Options for {@link Trainer.create}. */
export interface TrainerOptions {
  spec: ModelSpec;
  inputDim: number;
  /** Force a TF.js backend. @default automatic (see `selectBackend`) */
  prefer?: BackendName;
  /** @default the logger `selectBackend` creates */
  logger?: Logger;
  /** The per-batch gradient step (the DP-SGD plug point). @default {@link meanGradients} @experimental */
  computeGradients?: ComputeGradients;
  /** Source of DP noise and Poisson sampling. @default {@link createSecureRandom} (node:crypto) */
  random?: SecureRandom;
  /**
   * FedBN: the batch-normalisation weights stay on this site. `fit`, `evaluate` and `predict` then take and
   * return the exchanged vector (`exchangedLayout(…, true)`), and the trainer keeps the site's own
   * normalisation weights between rounds (starting from gamma 1, beta 0, mean 0, variance 1). @default false
   */
  fedBn?: boolean;
  /**
   * Longest stretch of training steps run without giving the event loop a turn: TF.js (the wasm backend too)
   * computes on the main thread, so the agent's heartbeat timer and gRPC I/O only run between batches.
   * 0 yields after every batch. @default 50 ms
   */
  yieldEveryMs?: number;
}

/**
 * Loss (mean binary cross-entropy, probabilities clipped to [1e-7, 1 − 1e-7]), accuracy (≥ 0.5 counts
 * as 1) and ROC AUC of predicted probabilities `p` against 0/1 labels `y`.
 */
export function scoreMetrics(p: Float32Array, y: Float32Array): EvaluateResult {
  let lossSum = 0;
  let correct = 0;
  for (let r = 0; r < p.length; r++) {
    const label = y[r] as number;
    const pr = Math.min(Math.max(p[r] as number, BCE_EPSILON), 1 - BCE_EPSILON);
    lossSum -= label * Math.log(pr) + (1 - label) * Math.log(1 - pr);
    if ((pr >= 0.5 ? 1 : 0) === label) correct++;
  }
  return { loss: lossSum / p.length, accuracy: correct / p.length, auc: rocAuc(p, y), numExamples: p.length };
}

/**
 * Metrics of a multi-output head on `n × k` probabilities: loss (mean categorical cross-entropy for
 * multi-class, mean element-wise binary cross-entropy for multi-label), accuracy (arg-max for multi-class,
 * element-wise at 0.5 for multi-label), per-class and macro AUC, and balanced accuracy for multi-class.
 */
export function scoreMultiOutput(p: Float32Array, y: Float32Array, k: number, kind: Exclude<HeadKind, 'binary'>): EvaluateResult {
  const n = p.length / k;
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < p.length; i++) {
    const label = y[i] as number;
    const pr = Math.min(Math.max(p[i] as number, BCE_EPSILON), 1 - BCE_EPSILON);
    if (kind === 'multi-class') lossSum -= label * Math.log(pr);
    else {
      lossSum -= label * Math.log(pr) + (1 - label) * Math.log(1 - pr);
      if ((pr >= 0.5 ? 1 : 0) === label) correct++;
    }
  }
  const perClass = perClassAuc(p, y, k);
  return {
    loss: kind === 'multi-class' ? lossSum / n : lossSum / p.length,
    accuracy: kind === 'multi-class' ? multiClassAccuracy(p, y, k) : correct / p.length,
    auc: macroAuc(perClass),
    perClassAuc: perClass,
    ...(kind === 'multi-class' ? { balancedAccuracy: balancedAccuracy(p, y, k) } : {}),
    numExamples: n,
  };
}

/** Mean categorical cross-entropy of softmax probabilities `p` against one-hot `y` (`[m, k]`). */
function categoricalCrossEntropy(tf: TfCore, p: tfc.Tensor2D, y: tfc.Tensor2D): tfc.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, BCE_EPSILON, 1 - BCE_EPSILON))), 1))));
}

/** Rows predicted per tensor during evaluation, to bound memory on large cohorts. */
const EVAL_CHUNK = 4096;

function checkConfig(cfg: FitConfig): void {
  const bad = (field: string, rule: string): never => {
    throw new ConfigError(`'training.${field}' must be ${rule}`, { field: `training.${field}` });
  };
  if (!Number.isSafeInteger(cfg.epochs) || cfg.epochs < 1) bad('epochs', 'an integer ≥ 1');
  if (!Number.isSafeInteger(cfg.batchSize) || cfg.batchSize < 1) bad('batchSize', 'an integer ≥ 1');
  if (!Number.isFinite(cfg.learningRate) || cfg.learningRate <= 0) bad('learningRate', 'a finite number > 0');
  if (!Number.isFinite(cfg.proximalMu) || cfg.proximalMu < 0) bad('proximalMu', 'a finite number ≥ 0');
  if (cfg.optimizer !== 'sgd' && cfg.optimizer !== 'adam') bad('optimizer', "'sgd' or 'adam'");
  if (!Number.isInteger(cfg.seed)) bad('seed', 'an integer');
  if (cfg.classWeights !== undefined) {
    if (cfg.classWeights.length !== 2 || !cfg.classWeights.every((w) => Number.isFinite(w) && w > 0)) bad('classWeights', 'two finite numbers > 0 ([negative, positive])');
    if (cfg.dp !== undefined) bad('classWeights', 'absent under DP-SGD (its per-example clipping assumes unweighted examples)');
  }
}

/**
 * Local training of a registry model with TF.js, in a custom loop (not `model.fit`) so the loss can
 * carry a FedProx term and the gradient step can be swapped for DP-SGD.
 *
 * One instance owns one TF.js model; `fit` and `evaluate` overwrite its weights, so calls MUST NOT
 * overlap. Call {@link Trainer.dispose} when done. No tensor outlives a call.
 */
export class Trainer {
  readonly spec: ModelSpec;
  readonly inputDim: number;
  readonly backend: BackendName;
  readonly numParams: number;
  /** What the head predicts and how many outputs per row. */
  readonly head: { kind: HeadKind; outputs: number };
  readonly fedBn: boolean;
  readonly #layout: WeightEntry[];
  /** FedBN: this site's normalisation weights, kept between rounds. */
  #local: Float32Array;
  readonly #tf: TfCore;
  readonly #model: tfl.LayersModel;
  readonly #computeGradients: ComputeGradients;
  readonly #logger: Logger | undefined;
  readonly #random: SecureRandom;
  readonly #yieldEveryMs: number;
  #lastYield = 0;

  private constructor(opts: TrainerOptions, tf: TfCore, backend: BackendName) {
    this.spec = resolveInputShape(opts.spec, opts.inputDim);
    this.inputDim = opts.inputDim;
    this.backend = backend;
    this.fedBn = opts.fedBn ?? false;
    this.#layout = weightLayout(opts.spec, opts.inputDim);
    this.numParams = totalParams(exchangedLayout(this.#layout, this.fedBn));
    this.#local = splitExchanged(initialWeights(opts.spec, opts.inputDim, 0), this.#layout, this.fedBn).local;
    this.head = headOf(opts.spec);
    this.#tf = tf;
    this.#model = buildModel(tfl, opts.spec, opts.inputDim);
    this.#computeGradients = opts.computeGradients ?? meanGradients;
    this.#logger = opts.logger;
    this.#random = opts.random ?? createSecureRandom();
    this.#yieldEveryMs = opts.yieldEveryMs ?? 50;
  }

  /** Gives the event loop a turn (timers, I/O) when the last one was `yieldEveryMs` ago or more. */
  async #maybeYield(): Promise<void> {
    if (performance.now() - this.#lastYield < this.#yieldEveryMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  /**
   * Validates the spec, selects the TF.js backend and builds the model.
   * @throws ConfigError for an invalid spec or input dimension; TesseraError if a forced backend is unavailable.
   */
  static async create(opts: TrainerOptions): Promise<Trainer> {
    validateModelSpec(opts.spec);
    weightLayout(opts.spec, opts.inputDim);
    const sel = await selectBackend({
      ...(opts.prefer !== undefined ? { prefer: opts.prefer } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    });
    return new Trainer(opts, sel.tf, sel.backend);
  }

  /**
   * Trains from `global` on `data` and returns the new weights with train-set metrics.
   * @throws ConfigError for an invalid `cfg`; InputError for malformed data or weights;
   * TesseraError `TESSERA_TRAINING_DIVERGED` when training produced non-finite weights.
   */
  async fit(global: Float32Array, data: TrainingData, cfg: FitConfig): Promise<FitResult> {
    checkConfig(cfg);
    if (cfg.dp && this.head.kind !== 'binary') throw new ConfigError(`DP-SGD trains binary heads only; model '${this.spec.name}' has a ${this.head.kind} head`, { model: this.spec.name });
    if (cfg.classWeights && this.head.kind !== 'binary') throw new ConfigError(`class weights apply to binary heads only; model '${this.spec.name}' has a ${this.head.kind} head`, { model: this.spec.name, field: 'training.classWeights' });
    this.#checkData(data);
    const tf = this.#tf;
    const started = performance.now();
    const full = this.#load(global);
    const variables = trainableVariables(this.#model);
    const trainable = this.#layout.filter((e) => e.trainable);
    const kernels = variables.filter((_, i) => trainable[i]?.role === 'kernel');
    // The proximal anchor: this round's global weights (trainable ones lead the layout), constant during the fit.
    const anchorTensors = cfg.proximalMu > 0 ? this.#splitLike(full, variables) : [];
    const optimizer: tfc.Optimizer = cfg.optimizer === 'sgd' ? tf.train.sgd(cfg.learningRate) : tf.train.adam(cfg.learningRate);
    const l2 = this.spec.l2 ?? 0;
    const regularizer = (): tfc.Scalar =>
      tf.tidy(() => {
        let r: tfc.Scalar = tf.scalar(0);
        if (l2 > 0) for (const k of kernels) r = tf.add(r, tf.mul(tf.sum(tf.square(k)), l2));
        if (cfg.proximalMu > 0) {
          variables.forEach((v, i) => {
            const diff = tf.sub(v, anchorTensors[i] as tfc.Tensor);
            r = tf.add(r, tf.mul(tf.sum(tf.square(diff)), cfg.proximalMu / 2));
          });
        }
        return r;
      });
    const classWeights = cfg.classWeights;
    const loss = this.head.kind === 'multi-class' ? categoricalCrossEntropy : (t: TfCore, p: tfc.Tensor2D, y: tfc.Tensor2D): tfc.Scalar => binaryCrossEntropy(t, p, y, classWeights);
    // Training mode: dropout drops, batch normalisation uses (and updates the moving averages of) batch statistics.
    const dataLoss = (x: tfc.Tensor2D, y: tfc.Tensor2D): tfc.Scalar => loss(tf, this.#model.apply(x, { training: true }) as tfc.Tensor2D, y);
    const hasRegularizer = l2 > 0 || cfg.proximalMu > 0;
    const computeGradients = cfg.dp ? dpSgdGradients(this.spec, cfg.dp, data.n, this.#random) : this.#computeGradients;
    const step = (x: tfc.Tensor2D, y: tfc.Tensor2D): void => {
      const { grads } = computeGradients({ tf, variables, x, y, dataLoss, regularizer, hasRegularizer });
      optimizer.applyGradients(grads);
    };
    try {
      if (cfg.dp) await this.#runPoissonSteps(data, cfg.dp, step);
      else await this.#runEpochs(data, cfg, step);
    } finally {
      optimizer.dispose();
      tf.dispose(anchorTensors);
    }
    const weights = this.#readFiniteWeights();
    const metrics = await this.#evaluateLoadedYielding(data);
    this.#logger?.debug(
      { model: this.spec.name, n: data.n, epochs: cfg.epochs, ms: Math.round(performance.now() - started) },
      'local training done',
    );
    return { weights, numExamples: data.n, metrics: { loss: metrics.loss, accuracy: metrics.accuracy } };
  }

  /**
   * Loss (mean binary cross-entropy, probabilities clipped to [1e-7, 1 − 1e-7]; no L2/proximal terms)
   * and accuracy (prediction ≥ 0.5 counts as 1) of `weights` on `data`, in inference mode.
   * @throws InputError for malformed data or a wrong-length weight vector.
   */
  evaluate(weights: Float32Array, data: TrainingData): EvaluateResult {
    this.#checkData(data);
    this.#load(weights);
    return this.#evaluateLoaded(data);
  }

  /** FedBN: a copy of this site's normalisation weights (empty without FedBN). */
  localWeights(): Float32Array {
    return this.#local.slice();
  }

  /**
   * FedBN: puts back normalisation weights saved earlier (a restarted agent's state folder).
   * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` when their length is not this model's.
   */
  restoreLocalWeights(local: Float32Array): void {
    if (local.length !== this.#local.length) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `normalisation weights have ${local.length} values, the model keeps ${this.#local.length}`, { got: local.length, expected: this.#local.length });
    }
    this.#local = local.slice();
  }

  /** Loads an exchanged vector (merged with this site's normalisation weights under FedBN); returns the full one. */
  #load(exchanged: Float32Array): Float32Array {
    const full = this.fedBn ? mergeExchanged(exchanged, this.#local, this.#layout, true) : exchanged;
    setFlatWeights(this.#model, full);
    return full;
  }

  /** Frees the model's variables. The instance is unusable afterwards. */
  dispose(): void {
    this.#model.dispose();
  }

  /**
   * Predicted probabilities (inference mode) of `weights` on `data`, one per row.
   * @throws InputError for malformed data or a wrong-length weight vector.
   */
  predict(weights: Float32Array, data: TrainingData): Float32Array {
    this.#checkData(data);
    this.#load(weights);
    return this.#predictLoaded(data);
  }

  /**
   * Runs `cfg.epochs` passes of mini-batches in an order shuffled by `createRng(cfg.seed)`; each
   * `step` runs inside `tf.tidy` with the batch tensors `x [m, d]` and `y [m, 1]`. Image specs with
   * `augment` transform each batch's rows first (same generator, so still reproducible per seed).
   */
  async #runEpochs(data: TrainingData, cfg: FitConfig, step: (x: tfc.Tensor2D, y: tfc.Tensor2D) => void): Promise<void> {
    const tf = this.#tf;
    const order = Array.from({ length: data.n }, (_, i) => i);
    const rng = createRng(cfg.seed);
    const k = this.head.outputs;
    const xb = new Float32Array(cfg.batchSize * data.d);
    const yb = new Float32Array(cfg.batchSize * k);
    const { augment, inputShape: shape } = this.spec;
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      rng.shuffle(order);
      for (let start = 0; start < data.n; start += cfg.batchSize) {
        const m = Math.min(cfg.batchSize, data.n - start);
        for (let r = 0; r < m; r++) {
          const row = order[start + r] as number;
          xb.set(data.x.subarray(row * data.d, (row + 1) * data.d), r * data.d);
          yb.set(data.y.subarray(row * k, (row + 1) * k), r * k);
        }
        if (augment !== undefined && shape !== undefined) augmentImages(xb, m, shape, augment, rng, data.d);
        tf.tidy(() => step(tf.tensor2d(xb.subarray(0, m * data.d), [m, data.d]), tf.tensor2d(yb.subarray(0, m * k), [m, k])));
        // Between batches, so a long fit keeps heartbeating (the coordinator drops a site that goes silent).
        await this.#maybeYield();
      }
    }
  }

  /**
   * Runs `dp.steps` steps, each on a fresh Poisson sample of the rows at rate `dp.samplingRate` drawn
   * from the CSPRNG; an empty sample still makes a (noise-only) step, as the accounting assumes.
   */
  async #runPoissonSteps(data: TrainingData, dp: DpSgdConfig, step: (x: tfc.Tensor2D, y: tfc.Tensor2D) => void): Promise<void> {
    const tf = this.#tf;
    const xb = new Float32Array(data.n * data.d);
    const yb = new Float32Array(data.n);
    for (let s = 0; s < dp.steps; s++) {
      const rows = poissonSample(data.n, dp.samplingRate, this.#random);
      rows.forEach((row, r) => {
        xb.set(data.x.subarray(row * data.d, (row + 1) * data.d), r * data.d);
        yb[r] = data.y[row] as number;
      });
      const m = rows.length;
      tf.tidy(() => step(tf.tensor2d(xb.subarray(0, m * data.d), [m, data.d]), tf.tensor2d(yb.subarray(0, m), [m, 1])));
      await this.#maybeYield();
    }
  }

  /**
   * The model's weights, flat and exchanged (under FedBN the normalisation weights are kept here instead).
   * @throws TesseraError `TESSERA_TRAINING_DIVERGED` on NaN/±Infinity.
   */
  #readFiniteWeights(): Float32Array {
    const full = getFlatWeights(this.#model);
    let weights = full;
    if (this.fedBn) {
      const split = splitExchanged(full, this.#layout, true);
      weights = split.exchanged;
      this.#local = split.local;
    }
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (w - w !== 0) {
        throw new TesseraError('TESSERA_TRAINING_DIVERGED', `training produced a non-finite weight at index ${i}`, {
          index: i,
          model: this.spec.name,
        });
      }
    }
    return weights;
  }

  /** Predictions for rows [start, start + EVAL_CHUNK) of `data` with the loaded weights. */
  #predictChunk(data: TrainingData, start: number): ArrayLike<number> {
    const tf = this.#tf;
    const shape = this.spec.inputShape;
    const flip = this.spec.augment?.testTimeFlip === true && shape !== undefined;
    const s = shape !== undefined ? (this.spec.augment?.testTimeShift ?? 0) : 0;
    const m = Math.min(EVAL_CHUNK, data.n - start);
    return tf.tidy(() => {
      const x = tf.tensor2d(data.x.subarray(start * data.d, (start + m) * data.d), [m, data.d]);
      if (shape === undefined || (!flip && s === 0)) return (this.#model.predict(x) as tfc.Tensor).dataSync();
      // Test-time augmentation: the mean over every view (shift dy, dx ∈ [−s, s], zero-filled, as
      // training's augmentImages shifts; each also mirrored along the width axis when flip is on).
      const [h, w, c] = shape;
      // A feature input's columns follow the pixels: every view keeps them as they are.
      const pixels = h * w * c;
      const features = data.d > pixels ? tf.slice(x, [0, pixels], [m, data.d - pixels]) : undefined;
      const image = tf.reshape(features !== undefined ? tf.slice(x, [0, 0], [m, pixels]) : x, [m, h, w, c]);
      const padded = s > 0 ? tf.pad(image, [[0, 0], [s, s], [s, s], [0, 0]]) : image;
      let sum: tfc.Tensor | undefined;
      let views = 0;
      for (let dy = -s; dy <= s; dy++) {
        for (let dx = -s; dx <= s; dx++) {
          // out[i][j] = image[i − dy][j − dx], 0 outside.
          const view = s > 0 ? tf.slice(padded, [0, s - dy, s - dx, 0], [m, h, w, c]) : image;
          const variants = flip ? [view, tf.reverse(view, 2)] : [view];
          for (const v of variants) {
            const flat = tf.reshape(v, [m, pixels]);
            const y = this.#model.predict(features !== undefined ? tf.concat([flat, features], 1) : flat) as tfc.Tensor;
            sum = sum === undefined ? y : tf.add(sum, y);
            views++;
          }
        }
      }
      return tf.div(sum as tfc.Tensor, views).dataSync();
    });
  }

  #predictLoaded(data: TrainingData): Float32Array {
    const out = new Float32Array(data.n * this.head.outputs);
    for (let start = 0; start < data.n; start += EVAL_CHUNK) out.set(this.#predictChunk(data, start), start * this.head.outputs);
    return out;
  }

  #evaluateLoaded(data: TrainingData): EvaluateResult {
    return this.#score(this.#predictLoaded(data), data);
  }

  /** As {@link #evaluateLoaded}, giving the event loop a turn between chunks (the train-set metrics after a fit). */
  async #evaluateLoadedYielding(data: TrainingData): Promise<EvaluateResult> {
    const out = new Float32Array(data.n * this.head.outputs);
    for (let start = 0; start < data.n; start += EVAL_CHUNK) {
      out.set(this.#predictChunk(data, start), start * this.head.outputs);
      await this.#maybeYield();
    }
    return this.#score(out, data);
  }

  #score(p: Float32Array, data: TrainingData): EvaluateResult {
    return this.head.kind === 'binary' ? scoreMetrics(p, data.y) : scoreMultiOutput(p, data.y, this.head.outputs, this.head.kind);
  }

  /** Splits a flat vector into tensors shaped like `variables` (kept: the caller disposes them). */
  #splitLike(flat: Float32Array, variables: tfc.Variable[]): tfc.Tensor[] {
    let offset = 0;
    return variables.map((v) => {
      const t = this.#tf.keep(this.#tf.tensor(flat.subarray(offset, offset + v.size), v.shape));
      offset += v.size;
      return t;
    });
  }

  #checkData(data: TrainingData): void {
    const shape = (msg: string): never => {
      throw new InputError('TESSERA_INPUT_DATA_SHAPE', msg, { n: data.n, d: data.d });
    };
    if (!Number.isSafeInteger(data.n) || data.n < 1) shape('data set must have at least one row');
    if (data.d !== this.inputDim) shape(`data has ${data.d} features, the model expects ${this.inputDim}`);
    if (data.x.length !== data.n * data.d) shape(`x has ${data.x.length} values, expected n·d = ${data.n * data.d}`);
    const k = this.head.outputs;
    if (data.y.length !== data.n * k) shape(`y has ${data.y.length} labels, expected ${k === 1 ? '' : `n·${k} = `}${data.n * k}`);
    for (let i = 0; i < data.x.length; i++) {
      const v = data.x[i] as number;
      if (v - v !== 0) {
        throw new InputError('TESSERA_INPUT_DATA_NONFINITE', `non-finite feature at row ${Math.floor(i / data.d)}`, {
          row: Math.floor(i / data.d),
          column: i % data.d,
        });
      }
    }
    for (let i = 0; i < data.y.length; i++) {
      const y = data.y[i];
      if (y !== 0 && y !== 1) throw new InputError('TESSERA_INPUT_DATA_LABEL', `label at row ${Math.floor(i / k)} is not 0 or 1`, { row: Math.floor(i / k) });
    }
    if (this.head.kind === 'multi-class') {
      for (let r = 0; r < data.n; r++) {
        let sum = 0;
        for (let c = 0; c < k; c++) sum += data.y[r * k + c] as number;
        if (sum !== 1) throw new InputError('TESSERA_INPUT_DATA_LABEL', `labels of row ${r} are not one-hot over ${k} classes`, { row: r });
      }
    }
  }
}
