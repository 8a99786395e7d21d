import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SiteAgent } from '../../../site-agent/src/agent.js';
import { AgentConfigSchema, checkAgentConfig } from '../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { createLogger } from '../../../shared/src/logging.js';
import { ExitCode } from '../exit-codes.js';

export const AGENT_USAGE = `tessera agent --config agent.yaml

Runs a site agent: loads the site's local data, dials out to the coordinator over mTLS and trains
the studies it accepts. It reconnects by itself; stop it with SIGTERM or Ctrl-C.`;

/** `tessera agent`: the site agent process. */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help || values.config === undefined) {
    console.log(AGENT_USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  const configPath = path.resolve(values.config);
  const config = parseConfigText(AgentConfigSchema, readFileSync(configPath, 'utf8'), configPath, checkAgentConfig);
  const logger = createLogger({ name: 'site-agent' });
  const auditDir = process.env['TESSERA_SECAGG_AUDIT_DIR'];
  const agent = await SiteAgent.create({ config, baseDir: path.dirname(configPath), logger, ...(auditDir ? { secaggAuditDir: path.resolve(auditDir) } : {}) });
  const logged = logger.child({ siteId: agent.siteId });
  logged.info({ backend: agent.backend, datasets: [...agent.datasets.keys()] }, 'site agent ready');
  process.once('SIGTERM', () => agent.stop());
  process.once('SIGINT', () => agent.stop());
  await agent.run();
  return ExitCode.Ok;
}
