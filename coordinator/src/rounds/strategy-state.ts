/**
 * Server-side study state persisted with each committed round: the server optimizer's moments
 * (FedAdam/FedYogi/FedAdagrad) and, with adaptive clipping, the clipping bound of the next round.
 */
export interface StrategyStateData {
  m?: Float32Array;
  v?: Float32Array;
  t: number;
  /** Site-level DP with adaptive clipping: the L2 bound the next round's sites clip to. */
  clipNorm?: number;
}

/** Encoding: u32 t, u32 |m|, u32 |v|, then m and v as little-endian float32, then an optional f64 clip norm. */
export function encodeStrategyState(state: StrategyStateData): Buffer {
  const m = state.m ?? new Float32Array(0);
  const v = state.v ?? new Float32Array(0);
  const clip = state.clipNorm;
  const out = Buffer.alloc(12 + (m.length + v.length) * 4 + (clip === undefined ? 0 : 8));
  if (clip !== undefined) out.writeDoubleLE(clip, out.byteLength - 8);
  out.writeUInt32LE(state.t, 0);
  out.writeUInt32LE(m.length, 4);
  out.writeUInt32LE(v.length, 8);
  Buffer.from(m.buffer, m.byteOffset, m.byteLength).copy(out, 12);
  Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, 12 + m.byteLength);
  return out;
}

export function decodeStrategyState(buf: Buffer): StrategyStateData {
  const t = buf.readUInt32LE(0);
  const mLen = buf.readUInt32LE(4);
  const vLen = buf.readUInt32LE(8);
  const base = 12 + (mLen + vLen) * 4;
  if (buf.byteLength !== base && buf.byteLength !== base + 8) throw new Error('strategy state has the wrong length');
  const copy = (at: number, n: number): Float32Array => {
    const arr = new Float32Array(n);
    Buffer.from(arr.buffer).set(buf.subarray(at, at + n * 4));
    return arr;
  };
  const state: StrategyStateData = { t };
  if (mLen > 0) state.m = copy(12, mLen);
  if (vLen > 0) state.v = copy(12 + mLen * 4, vLen);
  if (buf.byteLength === base + 8) {
    const clip = buf.readDoubleLE(base);
    if (!(clip > 0) || !Number.isFinite(clip)) throw new Error('strategy state has an invalid clip norm');
    state.clipNorm = clip;
  }
  return state;
}
