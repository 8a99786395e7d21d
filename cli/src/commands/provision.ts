import { readFile } from 'node:fs/promises';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { ConfigError, errorMessage, ProvisionError } from '../../../shared/src/errors.js';
import { type ManifestCertificate, provisionConsortium, type ProvisionSummary } from '../../../coordinator/src/pki/index.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE =
  'usage: tessera provision --config consortium.yaml --out DIR [--force] [--json]\n' +
  '  --config FILE  the consortium file: name, coordinator address, sites, operators (docs/reference/configuration.md)\n' +
  '  --out DIR      writes ca/ (keep ca.key offline), coordinator/, sites/<id>/ kits and operators/<id>/ credentials\n' +
  '  --force        write into a non-empty --out\n' +
  '  --json         print the manifest as JSON instead of a summary';

/**
 * `tessera provision`: reads consortium.yaml, creates the consortium CA and every certificate, and writes one
 * folder per recipient under `--out` (see `provisionConsortium`). Prints a short summary, or the manifest with
 * `--json`. Returns 0 on success, 2 for bad arguments, a bad config file or a non-empty `--out` without
 * `--force`, 1 for anything else.
 */
export async function provisionCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const args = parseCommandArgs(
    {
      args: argv,
      options: {
        config: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  if (args.config === undefined || args.out === undefined) {
    return usageError(io, '--config and --out are required', USAGE);
  }
  try {
    let text: string;
    try {
      text = await readFile(args.config, 'utf8');
    } catch (err) {
      const message = `${args.config}: cannot read: ${errorMessage(err)}`;
      throw new ConfigError(message, { source: args.config }, { cause: err });
    }
    const config = parseConsortiumConfig(text, args.config);
    const summary = provisionConsortium(config, args.out, io.now(), { force: args.force });
    if (args.json) io.out(JSON.stringify({ outDir: summary.outDir, ...summary.manifest }, null, 2));
    else for (const line of describe(summary)) io.out(line);
    return ExitCode.Ok;
  } catch (err) {
    io.err(`provision failed: ${errorMessage(err)}`);
    return err instanceof ConfigError || err instanceof ProvisionError ? ExitCode.Usage : ExitCode.Internal;
  }
}

function describe({ outDir, manifest }: ProvisionSummary): string[] {
  const label = (c: ManifestCertificate): string => {
    if (c.accessRole === undefined) return c.id;
    return `${c.id} (${c.accessRole}${c.site !== undefined ? ` of ${c.site}` : ''})`;
  };
  const byRole = (role: string): string[] => manifest.certificates.filter((c) => c.role === role).map(label);
  const leafExpiry = manifest.certificates[0]?.notAfter.slice(0, 10) ?? '-';
  return [
    `Provisioned consortium '${manifest.consortium}' in ${outDir}`,
    `  CA           serial ${manifest.ca.serial}, expires ${manifest.ca.notAfter.slice(0, 10)}`,
    `  coordinator  ${byRole('coordinator').join(', ')} at ${manifest.coordinator}`,
    `  sites        ${byRole('site').join(', ')}`,
    `  operators    ${byRole('operator').join(', ') || '(none)'}`,
    `  certificates expire ${leafExpiry}`,
    'Keep ca/ca.key offline. Give each sites/<id>/ folder to its hospital and coordinator/ to the coordinator host.',
  ];
}
