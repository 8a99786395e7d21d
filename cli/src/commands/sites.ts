import { parseArgs } from 'node:util';
import { API_OPTIONS, API_OPTIONS_USAGE, ApiClient, resolveApiTarget } from '../api-client.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, processIo } from './command-io.js';

export const SITES_USAGE = `tessera sites [options]

Lists the sites the coordinator knows: connected or not, last seen, TF.js backend, agent version and when the
site certificate expires (a site-admin token sees its own site only).

${API_OPTIONS_USAGE}`;

interface SiteJson {
  id: string;
  connected: boolean;
  lastSeen: string;
  backend: string;
  agentVersion: string;
  certNotAfter: string;
  certDaysLeft: number;
}

/** `tessera sites`: the federation's sites over the REST API. */
export async function sitesCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: API_OPTIONS, strict: true });
  if (values.help) {
    io.out(SITES_USAGE);
    return ExitCode.Ok;
  }
  const sites = await new ApiClient(resolveApiTarget(values)).json<SiteJson[]>('GET', '/api/v1/sites');
  if (values.json) {
    io.out(JSON.stringify(sites, null, 2));
    return ExitCode.Ok;
  }
  io.out('site            status     last seen              backend     agent    certificate expires');
  for (const s of sites) {
    io.out(
      `${s.id.padEnd(15)} ${(s.connected ? 'connected' : 'offline').padEnd(10)} ${s.lastSeen.slice(0, 19).replace('T', ' ').padEnd(22)} ${s.backend.padEnd(11)} ${s.agentVersion.padEnd(8)} ${s.certNotAfter.slice(0, 10)} (${s.certDaysLeft} days)`,
    );
  }
  if (sites.length === 0) io.out('(no site has connected yet)');
  return ExitCode.Ok;
}
