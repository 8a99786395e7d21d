import { randomBytes } from 'node:crypto';
import { SecAggError } from '../errors.js';

/**
 * Shamir t-of-n secret sharing (Shamir 1979) over the prime field GF(p), p = 2^130 − 5 (the Poly1305
 * prime). A secret of any length that is a multiple of 16 bytes is split into 128-bit blocks, each well
 * below p, and every block is shared with its own random polynomial of degree t − 1. A 32-byte secret
 * (a self-mask seed or an X25519 private key: 256 bits end to end) becomes two field elements, so a
 * share has a constant size: 2 × 17 bytes for the value plus nothing else (the x coordinate is the share
 * holder's index in the public cohort and travels beside it).
 */
export const FIELD_PRIME = (1n << 130n) - 5n;
/** Bytes of one encoded field element (130 bits). */
export const ELEMENT_BYTES = 17;
/** Bytes of secret per field element. */
export const BLOCK_BYTES = 16;

/** One share: the evaluation point x (1-based holder index) and the encoded values, one per secret block. */
export interface Share {
  x: number;
  /** `blocks × ELEMENT_BYTES` bytes, big-endian elements. */
  y: Buffer;
}

function mod(a: bigint): bigint {
  const r = a % FIELD_PRIME;
  return r < 0n ? r + FIELD_PRIME : r;
}

function toBig(buf: Uint8Array): bigint {
  let n = 0n;
  for (const b of buf) n = (n << 8n) | BigInt(b);
  return n;
}

function writeBig(n: bigint, out: Buffer, offset: number, bytes: number): void {
  let v = n;
  for (let i = bytes - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** A uniform element of GF(p) from the CSPRNG, by rejection sampling on 130 bits. */
function randomElement(): bigint {
  for (;;) {
    const b = randomBytes(ELEMENT_BYTES);
    b[0] = (b[0] as number) & 0x03; // keep 130 bits
    const v = toBig(b);
    if (v < FIELD_PRIME) return v;
  }
}

function inverse(a: bigint): bigint {
  // Extended Euclid; a ≠ 0 mod p.
  let [oldR, r] = [mod(a), FIELD_PRIME];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS);
}

/**
 * Splits `secret` into `n` shares, any `t` of which reconstruct it and any `t − 1` of which are
 * independent of it (information-theoretically).
 * @throws SecAggError `TESSERA_SECAGG_PARAMS` for a bad t/n or a secret whose length is not a multiple of 16.
 */
export function splitSecret(secret: Uint8Array, t: number, n: number): Share[] {
  if (!Number.isInteger(t) || !Number.isInteger(n) || t < 1 || n < t || n > 65_535) {
    throw new SecAggError('TESSERA_SECAGG_PARAMS', `Shamir sharing needs 1 ≤ t ≤ n ≤ 65535, got t=${t} n=${n}`);
  }
  if (secret.byteLength === 0 || secret.byteLength % BLOCK_BYTES !== 0) {
    throw new SecAggError('TESSERA_SECAGG_PARAMS', `secret must be a non-empty multiple of ${BLOCK_BYTES} bytes, got ${secret.byteLength}`);
  }
  const blocks = secret.byteLength / BLOCK_BYTES;
  const shares: Share[] = [];
  for (let x = 1; x <= n; x++) shares.push({ x, y: Buffer.alloc(blocks * ELEMENT_BYTES) });
  for (let b = 0; b < blocks; b++) {
    const coeffs = [toBig(secret.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES))];
    for (let i = 1; i < t; i++) coeffs.push(randomElement());
    for (const share of shares) {
      const x = BigInt(share.x);
      let acc = 0n;
      for (let i = coeffs.length - 1; i >= 0; i--) acc = mod(acc * x + (coeffs[i] as bigint));
      writeBig(acc, share.y, b * ELEMENT_BYTES, ELEMENT_BYTES);
    }
  }
  return shares;
}

/**
 * Reconstructs a secret of `secretBytes` bytes from at least `t` shares by Lagrange interpolation at 0.
 * With fewer than `t` shares it refuses rather than return a wrong value: a caller can never mistake an
 * under-threshold interpolation for the secret.
 * @throws SecAggError `TESSERA_SECAGG_RECONSTRUCT` for too few shares, duplicate or out-of-range points,
 * or share values of the wrong size.
 */
export function combineShares(shares: readonly Share[], t: number, secretBytes: number): Buffer {
  if (shares.length < t) {
    throw new SecAggError('TESSERA_SECAGG_RECONSTRUCT', `${shares.length} shares cannot reconstruct a ${t}-of-n secret`);
  }
  const blocks = secretBytes / BLOCK_BYTES;
  if (!Number.isInteger(blocks) || blocks < 1) {
    throw new SecAggError('TESSERA_SECAGG_PARAMS', `secret must be a non-empty multiple of ${BLOCK_BYTES} bytes, got ${secretBytes}`);
  }
  const used = shares.slice(0, t);
  const xs = used.map((s) => s.x);
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1 || x > 65_535)) {
    throw new SecAggError('TESSERA_SECAGG_RECONSTRUCT', 'shares have duplicate or invalid evaluation points');
  }
  for (const s of used) {
    if (s.y.byteLength !== blocks * ELEMENT_BYTES) {
      throw new SecAggError('TESSERA_SECAGG_RECONSTRUCT', `share from point ${s.x} has ${s.y.byteLength} bytes, expected ${blocks * ELEMENT_BYTES}`);
    }
  }
  const lambdas = lagrangeAtZero(xs.map(BigInt));
  const out = Buffer.alloc(secretBytes);
  for (let b = 0; b < blocks; b++) {
    let acc = 0n;
    for (let i = 0; i < used.length; i++) {
      const y = toBig((used[i] as Share).y.subarray(b * ELEMENT_BYTES, (b + 1) * ELEMENT_BYTES));
      if (y >= FIELD_PRIME) throw new SecAggError('TESSERA_SECAGG_RECONSTRUCT', `share from point ${xs[i]} is not a field element`);
      acc = mod(acc + y * (lambdas[i] as bigint));
    }
    // A correct block is < 2^128; anything larger means shares of different secrets were mixed.
    if (acc >> 128n !== 0n) throw new SecAggError('TESSERA_SECAGG_RECONSTRUCT', 'shares are inconsistent (reconstructed value out of range)');
    writeBig(acc, out, b * BLOCK_BYTES, BLOCK_BYTES);
  }
  return out;
}

/** λ_i = Π_{j≠i} x_j / (x_j − x_i), the Lagrange basis at 0. */
function lagrangeAtZero(xs: readonly bigint[]): bigint[] {
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = mod(num * xj);
      den = mod(den * (xj - xi));
    });
    return mod(num * inverse(den));
  });
}
