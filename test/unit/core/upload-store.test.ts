import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadStore } from '../../../coordinator/src/store/blob-store.js';
import { chunkBuffer, transferDigest } from '../../../shared/src/transport/chunks.js';

const stores: { store: UploadStore; dir: string }[] = [];
afterEach(async () => {
  for (const { store, dir } of stores.splice(0)) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function open(): UploadStore {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-uploads-'));
  const store = new UploadStore(dir, 'inline');
  stores.push({ store, dir });
  return store;
}

async function send(store: UploadStore, taskId: string, bytes: Buffer, digestUpFront: boolean, owner = {}): Promise<void> {
  const { digest } = transferDigest(bytes);
  await store.begin(taskId, bytes.byteLength, digestUpFront ? digest : undefined, 0, owner);
  for (const c of chunkBuffer(bytes, 0)) await store.append(taskId, c, owner);
  if (!digestUpFront) await store.seal(taskId, digest, owner);
}

describe('UploadStore lifecycle (receiving → verifying → complete → discarded), on real files', () => {
  it('completes an upload whose bytes match their digest, with the digest in the header or in the trailer', async () => {
    const store = open();
    const bytes = randomBytes(2.5 * 1024 * 1024);
    const hex = transferDigest(bytes).digest.toString('hex');
    for (const [taskId, upFront] of [['t-header', true], ['t-trailer', false]] as const) {
      await send(store, taskId, bytes, upFront);
      expect(store.progress(taskId)).toEqual({ received: bytes.byteLength, totalBytes: bytes.byteLength, complete: true });
      expect(store.isComplete(taskId, hex)).toBe(true);
      expect((await store.read(taskId)).equals(bytes)).toBe(true);
    }
  });

  it('is not readable while receiving, and a discarded upload is gone for good', async () => {
    const store = open();
    const bytes = randomBytes(3 * 1024 * 1024);
    const owner = {};
    await store.begin('t1', bytes.byteLength, transferDigest(bytes).digest, 0, owner);
    const [first] = [...chunkBuffer(bytes, 0)];
    await store.append('t1', first!, owner);
    expect(store.progress('t1')).toMatchObject({ received: 1024 * 1024, complete: false });
    await expect(store.read('t1')).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_UPLOAD_INCOMPLETE' });
    await store.discard('t1');
    await store.discard('t1');
    expect(store.progress('t1')).toBeUndefined();
    await expect(store.read('t1')).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_UPLOAD_INCOMPLETE' });
  });

  it('drops an upload whose bytes do not match the digest the trailer names', async () => {
    const store = open();
    const bytes = randomBytes(1024 * 1024 + 10);
    const owner = {};
    await store.begin('t1', bytes.byteLength, undefined, 0, owner);
    for (const c of chunkBuffer(bytes, 0)) await store.append('t1', c, owner);
    await expect(store.seal('t1', transferDigest(randomBytes(16)).digest, owner)).rejects.toMatchObject({ code: 'TESSERA_PROTOCOL_UPLOAD_CHECKSUM' });
    expect(store.progress('t1')).toBeUndefined();
    // The site starts over, and that upload completes.
    await send(store, 't1', bytes, false);
    expect(store.progress('t1')?.complete).toBe(true);
  });
});
