import { errorMessage, ProvisionError } from '../../../shared/src/errors.js';
import { revokeCertificate, type RevokeCertificateOptions } from '../../../coordinator/src/pki/index.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE =
  'usage: tessera revoke --ca-dir DIR (--site ID | --serial HEX) [--reason TEXT]\n' +
  '  --ca-dir DIR   the provisioning output folder, or its ca/ subfolder (its key signs the revocation list)\n' +
  '  --site ID      revoke the certificate of this id from the manifest (site, operator or coordinator)\n' +
  '  --serial HEX   revoke the certificate with this serial number\n' +
  '  --reason TEXT  recorded with the revocation';

/**
 * `tessera revoke`: puts a certificate on the consortium's signed revocation list (see `revokeCertificate`).
 * `--site` takes any id from the manifest (site, operator or coordinator; ids are unique across them).
 * `--ca-dir` is the provisioning output folder or its `ca/` subfolder. Returns 0 when revoked (or already
 * revoked), 2 for bad arguments or an id/serial not in the manifest, 1 for anything else.
 */
export function revokeCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  // The work is synchronous; the Promise keeps one signature across commands for main.ts.
  return Promise.resolve(runRevoke(argv, io));
}

function runRevoke(argv: string[], io: CommandIo): number {
  const args = parseCommandArgs(
    {
      args: argv,
      options: {
        'ca-dir': { type: 'string' },
        site: { type: 'string' },
        serial: { type: 'string' },
        reason: { type: 'string', default: 'unspecified' },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  const caDir = args['ca-dir'];
  if (caDir === undefined || (args.site === undefined) === (args.serial === undefined)) {
    return usageError(io, '--ca-dir and exactly one of --site and --serial are required', USAGE);
  }
  const common = { caDir, reason: args.reason, now: io.now() };
  const options: RevokeCertificateOptions =
    args.site !== undefined ? { ...common, id: args.site } : { ...common, serial: args.serial ?? '' };
  try {
    const result = revokeCertificate(options);
    if (result.alreadyRevoked) {
      io.out(`'${result.id}' (serial ${result.serial}) was already revoked; nothing changed.`);
    } else {
      io.out(`Revoked '${result.id}' (serial ${result.serial}): ${args.reason}`);
      for (const file of result.written) io.out(`  wrote ${file}`);
      if (result.ledgerProblem !== undefined) io.err(`warning: the provisioning audit ledger was not updated: ${result.ledgerProblem}`);
      io.out('Copy revocations.json and provision-ledger.jsonl to the coordinator host; a running coordinator refuses the certificate');
      io.out('within about a second, without a restart.');
    }
    return ExitCode.Ok;
  } catch (err) {
    io.err(`revoke failed: ${errorMessage(err)}`);
    return err instanceof ProvisionError ? ExitCode.Usage : ExitCode.Internal;
  }
}
