import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The optional native mask kernel (native/mask.c, built by `npm install` with node-gyp into
 * build/Release/tessera_mask.node): AES-256-CTR from the OpenSSL inside Node.js, written straight into a
 * scratch block and added in C, about 4× the WebAssembly path because it skips Node's allocation and copy
 * of every cipher output. Same words out as the WebAssembly path (tests check both). Absent — no compiler
 * at install time, or `TESSERA_NATIVE_MASK=0` — the WebAssembly path runs.
 */
export interface NativeMask {
  /**
   * For every seed s: target[lo..hi) ±= AES-256-CTR(seeds[32s..32s+32), counter lo/4)[lo..hi) mod 2^32.
   * @throws Error with code `TESSERA_SECAGG_NATIVE` for bad arguments or an OpenSSL failure.
   */
  maskRange(target: Uint32Array, lo: number, hi: number, seeds: Uint8Array, signs: Int8Array): void;
}

const FILE = path.join('build', 'Release', 'tessera_mask.node');

/** Where the built kernel is: the repository (or install) root above this module, sources or dist/. */
export function nativeMaskPath(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, FILE);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

let loaded: { kernel: NativeMask; file: string } | null | undefined;

function load(): { kernel: NativeMask; file: string } | null {
  if (loaded !== undefined) return loaded;
  const file = process.env['TESSERA_NATIVE_MASK'] === '0' ? undefined : nativeMaskPath();
  loaded = null;
  if (file !== undefined) {
    try {
      loaded = { kernel: createRequire(import.meta.url)(file) as NativeMask, file };
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** The native kernel, or undefined (not built, disabled by TESSERA_NATIVE_MASK=0, or failed to load). */
export function nativeMask(): NativeMask | undefined {
  return load()?.kernel;
}

/** The file of the native kernel that loaded here (for worker threads to load the same), or undefined. */
export function nativeMaskFile(): string | undefined {
  return load()?.file;
}

/** Which kernel masks here: 'native' (OpenSSL + C adds) or 'wasm' (node:crypto + WebAssembly SIMD adds). */
export function maskKernel(): 'native' | 'wasm' {
  return nativeMask() ? 'native' : 'wasm';
}

/** The seeds of `masks` packed 32 bytes each, and their signs, as the native kernel takes them. */
export function packMasks(masks: readonly { seed: Uint8Array; sign: 1 | -1 }[]): { seeds: Uint8Array; signs: Int8Array } {
  const seeds = new Uint8Array(masks.length * 32);
  masks.forEach((m, i) => seeds.set(m.seed, i * 32));
  return { seeds, signs: Int8Array.from(masks, (m) => m.sign) };
}
