/** Worker thread of {@link EncodePool}: encodes one image per message. */
import { parentPort } from 'node:worker_threads';

import { encodeImage, type EncodeJob } from './pixels.js';

parentPort?.on('message', (m: { id: number; job: EncodeJob }) => {
  encodeImage(m.job).then(
    (bytes) => parentPort?.postMessage({ id: m.id, bytes }, [bytes.buffer as ArrayBuffer]),
    (err: unknown) => parentPort?.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
