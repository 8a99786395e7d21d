import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * Declarative model specifications. A site never executes code received over the network: the
 * coordinator names a spec from the vetted registry (see `model-registry.ts`) and each site builds
 * the network itself from this data. New layer kinds (conv2d, maxPooling2d, flatten) are added as
 * further members of {@link LayerSpec}, each with its own branch in validation, layout and build.
 */

/** Activation functions a dense layer may use. */
export type DenseActivation = 'linear' | 'relu' | 'sigmoid' | 'tanh';

/** A fully connected layer: `y = activation(x · kernel + bias)`. */
export interface DenseLayerSpec {
  type: 'dense';
  /** Output width, 1..{@link MAX_UNITS}. */
  units: number;
  activation: DenseActivation;
}

/** Dropout during training only (identity at inference); holds no weights. */
export interface DropoutLayerSpec {
  type: 'dropout';
  /** Fraction of inputs dropped, in [0, 1). */
  rate: number;
}

/** One layer of a {@link ModelSpec}; a discriminated union on `type`. */
export type LayerSpec = DenseLayerSpec | DropoutLayerSpec;

/** The losses a spec may name. Only binary classification for now. */
export type LossName = 'binary-crossentropy';

/**
 * A model as data. The input dimension is not part of the spec: it comes from the data set when the
 * model is built, so one spec serves every cohort with the same task.
 */
export interface ModelSpec {
  /** Registry name, kebab-case (e.g. `logreg`). */
  name: string;
  /** One-line human description shown in the dashboard and audit log. */
  description: string;
  /** Layers in order, input to output. */
  layers: LayerSpec[];
  loss: LossName;
  /**
   * L2 penalty factor on dense kernels (Keras `l2` semantics: `l2 · Σ kernel²`, biases exempt).
   * @default 0 (no penalty)
   */
  l2?: number;
}

/** Largest `units` a dense layer may have. */
export const MAX_UNITS = 4096;
/** Most layers a spec may have. */
export const MAX_LAYERS = 16;

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'sigmoid', 'tanh'];
const NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

function fail(field: string, message: string): never {
  throw new ConfigError(`'${field}' ${message}`, { field });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateLayer(layer: unknown, field: string): void {
  if (!isRecord(layer)) fail(field, 'must be an object');
  switch (layer['type']) {
    case 'dense': {
      const units = layer['units'];
      if (typeof units !== 'number' || !Number.isInteger(units) || units < 1 || units > MAX_UNITS) {
        fail(`${field}.units`, `must be an integer in 1..${MAX_UNITS}`);
      }
      const act = layer['activation'];
      if (typeof act !== 'string' || !ACTIVATIONS.includes(act)) {
        fail(`${field}.activation`, `must be one of ${ACTIVATIONS.join(', ')}`);
      }
      checkKeys(layer, ['type', 'units', 'activation'], field);
      return;
    }
    case 'dropout': {
      const rate = layer['rate'];
      if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
        fail(`${field}.rate`, 'must be a number in [0, 1)');
      }
      checkKeys(layer, ['type', 'rate'], field);
      return;
    }
    default:
      fail(`${field}.type`, "must be 'dense' or 'dropout'");
  }
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(field === '' ? key : `${field}.${key}`, 'is not a known key');
  }
}

/**
 * Checks a spec received from config or the registry and narrows it to {@link ModelSpec}.
 * Unknown keys fail, as do more than {@link MAX_LAYERS} layers, `units` outside 1..{@link MAX_UNITS},
 * and (for `binary-crossentropy`) a last layer other than dense with 1 unit and sigmoid activation.
 *
 * @throws ConfigError naming the offending field (e.g. `'layers[1].units' must be ...`).
 */
export function validateModelSpec(spec: unknown): asserts spec is ModelSpec {
  if (!isRecord(spec)) fail('spec', 'must be an object');
  checkKeys(spec, ['name', 'description', 'layers', 'loss', 'l2'], '');
  const name = spec['name'];
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 64) {
    fail('name', 'must be a kebab-case string of at most 64 characters');
  }
  if (typeof spec['description'] !== 'string') fail('description', 'must be a string');
  if (spec['loss'] !== 'binary-crossentropy') fail('loss', "must be 'binary-crossentropy'");
  const l2 = spec['l2'];
  if (l2 !== undefined && (typeof l2 !== 'number' || !Number.isFinite(l2) || l2 < 0)) {
    fail('l2', 'must be a finite number ≥ 0');
  }
  const layers = spec['layers'];
  if (!Array.isArray(layers) || layers.length === 0) fail('layers', 'must be a non-empty array');
  if (layers.length > MAX_LAYERS) fail('layers', `must have at most ${MAX_LAYERS} layers`);
  layers.forEach((layer, i) => validateLayer(layer, `layers[${i}]`));
  const last = layers[layers.length - 1] as LayerSpec;
  if (last.type !== 'dense' || last.units !== 1 || last.activation !== 'sigmoid') {
    fail(`layers[${layers.length - 1}]`, 'must be dense with 1 unit and sigmoid activation for binary-crossentropy');
  }
}

/** JSON with object keys sorted recursively, so equal specs serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (lowercase hex) of the spec's canonical JSON; pins the exact architecture in round records. */
export function modelSpecHash(spec: ModelSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
