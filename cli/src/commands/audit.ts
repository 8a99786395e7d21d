import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderEvidenceHtml } from '../../../coordinator/src/audit/evidence-html.js';
import { buildEvidencePack, EvidenceFiles } from '../../../coordinator/src/audit/evidence-pack.js';
import { SqliteCoordinatorStore } from '../../../coordinator/src/store/sqlite-store.js';
import { crossCheckLedgers, type LedgerVerification, verifyLedger } from '../../../shared/src/audit/index.js';
import { ConfigError, errorMessage, InputError } from '../../../shared/src/errors.js';
import { ExitCode } from '../exit-codes.js';
import { collect, findCoordinatorFiles, openCoordinatorLedger } from './audit-workdir.js';
import { type CommandIo, processIo } from './command-io.js';

export const AUDIT_USAGE = `usage:
  tessera audit export [--workdir DIR | --config FILE] --out FILE [--format jsonl|csv] [--study ID] [--site ID] [--json]
  tessera audit verify FILE [--ca ca.crt | --signer-cert cert.pem | --allow-unanchored] [--expect-head SEQ:HASH] [--json]
  tessera audit evidence --study ID --out DIR [--workdir DIR | --config FILE] [--json]
  (without --workdir or --config: the current folder, which must hold coordinator.yaml)
  tessera audit cross-check COORDINATOR_LEDGER SITE_LEDGER [--site ID] [--ca ca.crt] [--json]

export      the coordinator's signed ledger as JSONL (header, one entry per line with its hash and signature,
            a head signed now); --study/--site write a selection (each entry verifies, completeness cannot)
verify      checks a ledger file offline; exit 8 names the first entry edited, deleted, reordered or cut off;
            exit 10 when it holds only against the CA inside the file (give --ca, or --allow-unanchored);
            --expect-head checks the ledger still holds a head noted earlier (an export prints it)
evidence    an evidence pack for a study: evidence.json, evidence.html, audit-ledger.jsonl, ca.crt
cross-check compares the coordinator's ledger with a site's on every update hash; exit 9 when they disagree`;

const SUBCOMMANDS: Record<string, (argv: string[], io: CommandIo) => Promise<number>> = {
  export: exportCommand,
  verify: verifyCommand,
  evidence: evidenceCommand,
  'cross-check': crossCheckCommand,
};

/** `tessera audit export|verify|evidence|cross-check`; returns the exit code (cli/src/exit-codes.ts). */
export async function auditCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(AUDIT_USAGE);
    return ExitCode.Ok;
  }
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run) {
    io.err(`${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}\n${AUDIT_USAGE}`);
    return ExitCode.Usage;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`tessera audit ${sub}: ${err.message}\n${AUDIT_USAGE}`);
      return ExitCode.Usage;
    }
    if (err instanceof InputError) {
      io.err(`tessera audit ${sub}: ${err.code}: ${err.message}`);
      return ExitCode.InputMissing;
    }
    io.err(`tessera audit ${sub} failed: ${errorMessage(err)}`);
    return ExitCode.Internal;
  }
}

function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `${what} ${file} cannot be read`, { file }, { cause: err });
  }
}

/** Writes through a temp file and a rename, so a reader never sees half an export. */
function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}

async function exportCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workdir: { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: 'jsonl' },
      study: { type: 'string' },
      site: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.out === undefined) throw new ConfigError('--out FILE is required');
  if (values.format !== 'jsonl' && values.format !== 'csv') throw new ConfigError(`--format must be jsonl or csv, not '${values.format}'`);
  const files = findCoordinatorFiles(values);
  const ledger = await openCoordinatorLedger(files);
  try {
    const filter = { ...(values.study !== undefined ? { studyId: values.study } : {}), ...(values.site !== undefined ? { siteId: values.site } : {}) };
    const text = await collect(values.format === 'csv' ? ledger.exportCsv(filter) : ledger.exportJsonl(filter));
    const out = path.resolve(values.out);
    writeAtomic(out, text);
    const head = await ledger.head();
    const entries = values.format === 'csv' ? text.split('\r\n').length - 2 : text.split('\n').filter((l) => l.startsWith('{"type":"entry"')).length;
    const summary = { out, format: values.format, ledger: ledger.name, entries, selection: Object.keys(filter).length > 0, head };
    if (values.json) io.out(JSON.stringify(summary, null, 2));
    else io.out(`wrote ${entries} entries of ${ledger.name} to ${out}${summary.selection ? ' (selection)' : ''}; head ${head.seq}:${head.hash}`);
    return ExitCode.Ok;
  } finally {
    await ledger.close();
  }
}

function describeVerification(file: string, r: LedgerVerification): string[] {
  const lines: string[] = [];
  if (r.ok) {
    const head = r.head ? `, signed head #${r.head.seq} ${r.head.hash} at ${r.head.at}` : '';
    lines.push(`OK ${file}: ledger ${r.ledger ?? '?'}, ${r.entries} entries${r.complete ? '' : ' (a selection: completeness not provable)'}${head}`);
  } else {
    const f = r.firstBad;
    lines.push(`FAILED ${file}: ${f?.problem ?? 'bad'}${f?.seq != null ? ` at entry #${f.seq}` : ''} (line ${f?.line ?? '?'}): ${f?.message ?? ''}`);
    lines.push(`  ${r.entries} entries verified before it`);
  }
  for (const s of r.signers) lines.push(`  signer ${s.subject} (sha256 ${s.fingerprint})`);
  lines.push(
    r.anchored
      ? `  signers checked against the given certificate; CA sha256 ${r.caFingerprint ?? '-'}`
      : `  NOT anchored: checked against the CA embedded in the file (sha256 ${r.caFingerprint ?? '-'}); pass --ca with your own copy of the consortium CA`,
  );
  return lines;
}

/** `--expect-head SEQ:HASH` (as `tessera audit export` prints it). */
function parseExpectHead(value: string | undefined): { seq: number; hash: string } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value);
  if (!m?.[1] || !m[2]) throw new ConfigError(`--expect-head must be SEQ:HASH (a seq and 64 lowercase hex), not '${value.slice(0, 80)}'`);
  return { seq: Number(m[1]), hash: m[2] };
}

function verifyCommand(argv: string[], io: CommandIo): Promise<number> {
  return Promise.resolve(runVerify(argv, io));
}

function runVerify(argv: string[], io: CommandIo): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ca: { type: 'string' },
      'signer-cert': { type: 'string' },
      'allow-unanchored': { type: 'boolean', default: false },
      'expect-head': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  const file = positionals[0];
  const expectHead = parseExpectHead(values['expect-head']);
  if (file === undefined || positionals.length > 1) throw new ConfigError('give exactly one ledger FILE to verify');
  if (values.ca !== undefined && values['signer-cert'] !== undefined) throw new ConfigError('--ca and --signer-cert are mutually exclusive');
  if (values['allow-unanchored'] && (values.ca !== undefined || values['signer-cert'] !== undefined)) {
    throw new ConfigError('--allow-unanchored is for a check without --ca or --signer-cert');
  }
  const text = readInput(file, 'ledger');
  const { report } = verifyLedger(text, {
    ...(values.ca !== undefined ? { caPem: readInput(values.ca, 'CA certificate') } : {}),
    ...(values['signer-cert'] !== undefined ? { signerPem: readInput(values['signer-cert'], 'signer certificate') } : {}),
    ...(expectHead !== undefined ? { expectHead } : {}),
  });
  if (values.json) io.out(JSON.stringify({ file: path.resolve(file), ...report }, null, 2));
  else for (const line of describeVerification(file, report)) io.out(line);
  if (!report.ok) return ExitCode.AuditInvalid;
  // Verified only against the CA the file itself carries: a forgery re-signed under another CA passes that too.
  if (!report.anchored && !values['allow-unanchored']) {
    io.err('tessera audit verify: the ledger is not anchored (no --ca or --signer-cert): pass --ca with your own copy of the consortium CA, or --allow-unanchored');
    return ExitCode.AuditUnanchored;
  }
  return ExitCode.Ok;
}

async function evidenceCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      study: { type: 'string' },
      out: { type: 'string' },
      workdir: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.study === undefined || values.out === undefined) throw new ConfigError('--study ID and --out DIR are required');
  const files = findCoordinatorFiles(values);
  const ledger = await openCoordinatorLedger(files);
  const store = await SqliteCoordinatorStore.open(files.database);
  try {
    if (!(await store.getStudy(values.study))) throw new ConfigError(`no study '${values.study}' in ${files.database}`);
    const ledgerText = await collect(ledger.exportJsonl());
    const pack = await buildEvidencePack({ store, studyId: values.study, ledgerText, caPem: files.caPem, now: io.now() });
    const dir = path.resolve(values.out);
    mkdirSync(dir, { recursive: true });
    writeAtomic(path.join(dir, EvidenceFiles.ledger), ledgerText);
    writeAtomic(path.join(dir, EvidenceFiles.json), `${JSON.stringify(pack, null, 2)}\n`);
    writeAtomic(path.join(dir, EvidenceFiles.html), renderEvidenceHtml(pack));
    copyFileSync(path.resolve(path.dirname(files.configPath), files.config.tls.ca), path.join(dir, EvidenceFiles.ca));
    const v = pack.ledger.verification;
    const summary = {
      out: dir,
      files: Object.values(EvidenceFiles),
      study: pack.study.id,
      ledgerOk: v.ok,
      entries: v.entries,
      contractMatchesLedger: pack.contract.matchesLedger,
      sites: pack.sites.map((s) => s.id),
      modelVersions: pack.modelLineage.length,
    };
    if (values.json) io.out(JSON.stringify(summary, null, 2));
    else {
      io.out(`evidence pack for study ${pack.study.id} in ${dir}: ${summary.files.join(', ')}`);
      io.out(`  ledger ${v.ok ? 'verifies' : `does NOT verify: ${v.firstBad?.message ?? ''}`} (${v.entries} entries); contract ${pack.contract.matchesLedger ? 'matches' : 'does NOT match'} the ledger`);
      io.out(`  ${pack.sites.length} sites, ${pack.modelLineage.length} model versions; open ${EvidenceFiles.html} in a browser`);
    }
    return v.ok && pack.contract.matchesLedger ? ExitCode.Ok : ExitCode.AuditInvalid;
  } finally {
    await store.close();
    await ledger.close();
  }
}

function crossCheckCommand(argv: string[], io: CommandIo): Promise<number> {
  return Promise.resolve(runCrossCheck(argv, io));
}

function runCrossCheck(argv: string[], io: CommandIo): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { site: { type: 'string' }, ca: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: true,
  });
  const [coordinatorFile, siteFile] = positionals;
  if (coordinatorFile === undefined || siteFile === undefined || positionals.length > 2) {
    throw new ConfigError('give the coordinator ledger file and the site ledger file');
  }
  const caPem = values.ca !== undefined ? readInput(values.ca, 'CA certificate') : undefined;
  const opts = caPem !== undefined ? { caPem } : {};
  const coordinator = verifyLedger(readInput(coordinatorFile, 'coordinator ledger'), opts);
  const site = verifyLedger(readInput(siteFile, 'site ledger'), opts);
  const siteId = values.site ?? (site.report.ledger?.startsWith('site:') ? site.report.ledger.slice('site:'.length) : undefined);
  if (siteId === undefined) throw new ConfigError(`${siteFile} is not a site ledger; name the site with --site`);
  const check = crossCheckLedgers(coordinator.entries, site.entries, siteId);
  const ok = coordinator.report.ok && site.report.ok && check.ok;
  if (values.json) {
    io.out(JSON.stringify({ ok, coordinator: coordinator.report, site: site.report, crossCheck: check }, null, 2));
  } else {
    for (const line of describeVerification(coordinatorFile, coordinator.report)) io.out(line);
    for (const line of describeVerification(siteFile, site.report)) io.out(line);
    io.out(`${check.ok ? 'AGREE' : 'DISAGREE'}: ${check.matched} update hashes of ${siteId} match in both ledgers`);
    for (const m of check.mismatched) io.out(`  study ${m.studyId} round ${m.round}: coordinator #${m.coordinator.seq} has ${m.coordinator.sha256}, the site sent ${m.site.map((s) => s.sha256).join(', ')}`);
    for (const m of check.missingAtSite) io.out(`  study ${m.studyId} round ${m.round}: coordinator #${m.seq} received ${m.sha256}, missing from the site's ledger`);
    for (const m of check.unknownModels) io.out(`  site entry #${m.seq}: received model ${m.sha256}, which the coordinator never recorded`);
    for (const m of check.notRecordedByCoordinator) io.out(`  note: site entry #${m.seq} sent ${m.sha256} (study ${m.studyId} round ${m.round}); the coordinator did not record it as received (late or dropped)`);
  }
  if (!coordinator.report.ok || !site.report.ok) return ExitCode.AuditInvalid;
  return check.ok ? ExitCode.Ok : ExitCode.AuditMismatch;
}
