import type net from 'node:net';

const MiB = 1024 * 1024;

/** Writes `bytes` in 1 MiB writes (honouring back-pressure) and resolves when the sink acknowledges them all. */
export function sendAll(socket: net.Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('data', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
    let at = 0;
    const pump = (): void => {
      while (at < bytes.byteLength) {
        const end = Math.min(bytes.byteLength, at + MiB);
        const ok = socket.write(bytes.subarray(at, end));
        at = end;
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
