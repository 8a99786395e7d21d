import { MAX_CHUNK_BYTES } from '../../../shared/src/transport/chunks.js';

/** A `tessera.v1.Chunk` as the FetchModel handler writes it. */
interface ChunkLike {
  offset: number;
  data: Uint8Array;
  sha256: Uint8Array;
  totalBytes: number;
}

/** Field 1 tag (1) + 10-byte varint, field 2 tag + 5-byte length, field 3 tag + length + 32, field 4 tag + varint. */
const OVERHEAD_BYTES = 1 + 10 + 1 + 5 + 1 + 1 + 32 + 1 + 10;

function isChunk(v: unknown): v is ChunkLike {
  const c = v as Partial<ChunkLike> | null;
  return (
    c != null &&
    Number.isSafeInteger(c.offset) &&
    Number.isSafeInteger(c.totalBytes) &&
    (c.offset ?? -1) >= 0 &&
    (c.totalBytes ?? -1) >= 0 &&
    c.data instanceof Uint8Array &&
    c.data.byteLength <= MAX_CHUNK_BYTES &&
    c.sha256 instanceof Uint8Array &&
    c.sha256.byteLength === 32
  );
}

function putVarint(buf: Buffer, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/**
 * The serializer of FetchModel's `Chunk` responses on the coordinator: the protobuf encoding written by
 * hand into one reused buffer, instead of protobufjs allocating a new 1 MiB message per chunk. grpc-js's
 * server copies a serialized message into its framed buffer before `serialize` returns (server-interceptors
 * `serializeMessage`), so the buffer is free again for the next chunk; the allocation it saves is one of the
 * two 1 MiB buffers per MiB downloaded whose external memory drives the coordinator's mark-compact GCs
 * (about half of its thread's busy time in downloads, profiled). Were grpc-js ever to keep the buffer,
 * every chunk a site receives would fail its sha256 check (loudly, never silently). Anything that is not a
 * well-formed chunk goes to `fallback` (the generated protobufjs serializer).
 */
export function createChunkSerializer(fallback: (value: unknown) => Buffer): (value: unknown) => Buffer {
  const scratch = Buffer.allocUnsafe(MAX_CHUNK_BYTES + OVERHEAD_BYTES);
  return (value) => {
    if (!isChunk(value)) return fallback(value);
    let at = 0;
    scratch[at++] = 0x08; // offset = 1, varint
    at = putVarint(scratch, at, value.offset);
    scratch[at++] = 0x12; // data = 2, length-delimited
    at = putVarint(scratch, at, value.data.byteLength);
    scratch.set(value.data, at);
    at += value.data.byteLength;
    scratch[at++] = 0x1a; // sha256 = 3, length-delimited
    scratch[at++] = 32;
    scratch.set(value.sha256, at);
    at += 32;
    scratch[at++] = 0x20; // total_bytes = 4, varint
    at = putVarint(scratch, at, value.totalBytes);
    return scratch.subarray(0, at);
  };
}
