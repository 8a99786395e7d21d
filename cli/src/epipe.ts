/**
 * `tessera … | head`: when the reader of stdout goes away, writes fail with EPIPE, which Node raises as an
 * unhandled 'error' event (a stack trace, exit 1) or, for a synchronous pipe, throws. A reader that stopped
 * reading is no error of the command: the process stops writing and exits quietly, once.
 */
let installed = false;

/**
 * Installs, once per process, an 'error' handler on `stream` (stdout) that exits with `exitCode` on EPIPE and
 * rethrows anything else (as an unhandled stream error would have).
 * @default exitCode 0: the pipeline's status is the reader's, which chose to stop.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout, exit: (code: number) => never = (code) => process.exit(code), exitCode = 0): void {
  if (installed) return;
  installed = true;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(exitCode);
    throw err;
  });
}
