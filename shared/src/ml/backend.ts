import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Registers the pure-JS 'cpu' backend: always available, the last resort.
import '@tensorflow/tfjs-backend-cpu';
import { ConfigError, TesseraError, errorMessage } from '../errors.js';
import { createLogger, type Logger } from '../logging.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

/** TF.js backends Tessera knows how to select, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** The TF.js core namespace, as returned by {@link selectBackend}. */
export type TfCore = typeof tf;

/** Options for {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * Force one backend; selection fails instead of falling back when it is unavailable. Takes
   * precedence over the `TESSERA_TF_BACKEND` environment variable.
   * @default process.env.TESSERA_TF_BACKEND, else automatic (tensorflow → wasm → cpu)
   */
  prefer?: BackendName;
  /** @default a `tessera-ml` logger from {@link createLogger} */
  logger?: Logger;
}

/** The backend that was activated and the TF.js core namespace it is active on. */
export interface BackendSelection {
  backend: BackendName;
  tf: TfCore;
}

/** Environment variable that forces a backend (`tensorflow`, `wasm` or `cpu`). */
export const BACKEND_ENV = 'TESSERA_TF_BACKEND';

const ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

// The native binding is an optional dependency that is often absent (no CUDA, no prebuilt binary). A
// variable specifier keeps `tsc` from resolving it at build time; the import is then a plain runtime lookup.
const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';

type Request = BackendName | 'auto';
const cache = new Map<Request, Promise<BackendSelection>>();

function isBackendName(v: string): v is BackendName {
  return (ORDER as readonly string[]).includes(v);
}

function resolveRequest(prefer: BackendName | undefined): Request {
  if (prefer !== undefined) {
    if (!isBackendName(prefer)) throw new ConfigError(`'prefer' must be one of ${ORDER.join(', ')}`, { field: 'prefer' });
    return prefer;
  }
  const env = process.env[BACKEND_ENV];
  if (env == null || env === '') return 'auto';
  if (!isBackendName(env)) {
    throw new ConfigError(`'${BACKEND_ENV}' must be one of ${ORDER.join(', ')}`, { field: BACKEND_ENV });
  }
  return env;
}

async function activateTensorflow(): Promise<void> {
  // Importing the package registers the 'tensorflow' backend on the tfjs-core instance it resolves;
  // setBackend below fails (returns false) if that is not the instance we hold.
  await (import(TFJS_NODE_GPU) as Promise<unknown>);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node-gpu loaded but its backend did not initialise');
}

async function activateWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the .wasm binaries are read from disk: point the backend at the package's own dist folder.
  const require = createRequire(import.meta.url);
  const distDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  wasm.setWasmPaths(`${distDir}${path.sep}`);
  // wasm 4.22 has no Conv2DBackpropFilter: CNN training needs ours (built from its own kernels).
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not initialise');
}

async function activate(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow':
      return activateTensorflow();
    case 'wasm':
      return activateWasm();
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not initialise');
      return;
  }
}

async function select(request: Request, logger: Logger): Promise<BackendSelection> {
  const candidates = request === 'auto' ? ORDER : [request];
  for (const name of candidates) {
    try {
      await activate(name);
      await tf.ready();
      logger.info({ backend: name }, 'tfjs backend selected');
      return { backend: name, tf };
    } catch (err) {
      if (request !== 'auto') {
        throw new TesseraError('TESSERA_ML_BACKEND_UNAVAILABLE', `tfjs backend '${name}' is unavailable`, {
          backend: name,
        }, { cause: err });
      }
      // Expected on most machines for 'tensorflow' (package not installed or no native binding).
      logger.info({ backend: name, reason: errorMessage(err) }, 'tfjs backend unavailable, trying the next');
    }
  }
  // Unreachable in practice: 'cpu' is pure JS and registered by the static import above.
  throw new TesseraError('TESSERA_ML_BACKEND_UNAVAILABLE', 'no tfjs backend could be initialised', {});
}

/**
 * Activates the fastest available TF.js backend: `@tensorflow/tfjs-node-gpu` (native, optional
 * dependency), then `@tensorflow/tfjs-backend-wasm`, then the pure-JS `cpu` backend. Each unavailable
 * backend is logged at info with the reason; the choice is logged once as `{backend}` "tfjs backend
 * selected".
 *
 * Idempotent: the selection is cached per request (automatic, or each forced backend), and a cached
 * call re-activates its backend if something switched TF.js since. TF.js has one global active
 * backend per process, so concurrent callers forcing different backends race; don't do that.
 *
 * @throws ConfigError when `prefer` or `TESSERA_TF_BACKEND` is not a known backend name.
 * @throws TesseraError `TESSERA_ML_BACKEND_UNAVAILABLE` naming the backend when a forced one cannot load.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const request = resolveRequest(options.prefer);
  let pending = cache.get(request);
  if (pending === undefined) {
    const logger = options.logger ?? createLogger({ name: 'tessera-ml' });
    pending = select(request, logger);
    cache.set(request, pending);
    pending.catch(() => cache.delete(request));
    return pending;
  }
  const selection = await pending;
  if (tf.getBackend() !== selection.backend) await tf.setBackend(selection.backend);
  return selection;
}
