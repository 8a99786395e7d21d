/** Server-optimizer state (FedAdam/FedYogi/FedAdagrad moments), persisted with each committed round. */
export interface StrategyStateData {
  m?: Float32Array;
  v?: Float32Array;
  t: number;
}

/** Encoding: u32 t, u32 |m|, u32 |v|, then m and v as little-endian float32. */
export function encodeStrategyState(state: StrategyStateData): Buffer {
  const m = state.m ?? new Float32Array(0);
  const v = state.v ?? new Float32Array(0);
  const out = Buffer.alloc(12 + (m.length + v.length) * 4);
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
  if (buf.byteLength !== 12 + (mLen + vLen) * 4) throw new Error('strategy state has the wrong length');
  const copy = (at: number, n: number): Float32Array => {
    const arr = new Float32Array(n);
    Buffer.from(arr.buffer).set(buf.subarray(at, at + n * 4));
    return arr;
  };
  const state: StrategyStateData = { t };
  if (mLen > 0) state.m = copy(12, mLen);
  if (vLen > 0) state.v = copy(12 + mLen * 4, vLen);
  return state;
}
