import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandIo } from '../../cli/src/commands/command-io.js';
import { sitesCommand } from '../../cli/src/commands/sites.js';
import { studyCommand } from '../../cli/src/commands/study.js';
import { ExitCode } from '../../cli/src/exit-codes.js';
import { main } from '../../cli/src/main.js';
import { TokenAuthenticator } from '../../coordinator/src/rest/auth.js';
import { startRestServer } from '../../coordinator/src/rest/server.js';
import { isLoopback, startCoordinatorApi } from '../../coordinator/src/rest/start-api.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

function captureIo(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), now: () => new Date() };
}

/** Collects what the progress bar draws (not a TTY: one line per update). */
function progressSink(): NodeJS.WritableStream & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    {
      write(chunk: string | Uint8Array) {
        lines.push(String(chunk).trimEnd());
        return true;
      },
    } as unknown as NodeJS.WritableStream,
    { lines },
  );
}

describe('operator CLI over the REST API (tessera study / tessera sites)', () => {
  let fed: RestFederation;
  let url = '';
  let studyFile = '';
  let inputDim = 0;
  const token = (id: string): string => path.join(fed.pkiDir, 'operators', id, 'token');
  const api = (id: string): string[] => ['--api', url, '--token-file', token(id)];

  beforeAll(async () => {
    fed = await startRestFederation({ sites: 2 });
    await fed.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = fed.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    await fed.startAgent(0);
    await fed.startAgent(1);
    inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    studyFile = path.join(fed.dir, 'study.json');
    // Two sites: secure aggregation needs three (sites refuse smaller cohorts), so these studies run plaintext.
    writeFileSync(studyFile, JSON.stringify(makeStudy({ inputDim, id: 'cli-study', rounds: 3, secureAggregation: false })));
  });
  afterAll(async () => {
    await fed?.close();
  });

  it('creates a study, starts it with --wait (progress bar), reads its status and lists the sites', async () => {
    const create = captureIo();
    expect(await studyCommand(['create', studyFile, ...api('olga'), '--json'], create)).toBe(ExitCode.Ok);
    expect(JSON.parse(create.stdout.join('\n'))).toMatchObject({ id: 'cli-study', status: 'created', rounds: 3 });

    const start = captureIo();
    const bar = progressSink();
    const code = await studyCommand(['start', 'cli-study', '--wait', ...api('olga')], start, bar);
    expect(code, [...start.stdout, ...bar.lines].join('\n')).toBe(ExitCode.Ok);
    expect(start.stdout.join('\n')).toContain('study cli-study completed after 3/3 rounds');
    expect(bar.lines.some((l) => l.startsWith('[########################] 100%'))).toBe(true);
    expect(bar.lines.filter((l) => l.includes('committed'))).toHaveLength(3);

    const status = captureIo();
    expect(await studyCommand(['status', 'cli-study', ...api('cora'), '--json'], status)).toBe(ExitCode.Ok);
    const doc = JSON.parse(status.stdout.join('\n')) as { status: string; roundsDetail: { status: string; phases: Record<string, unknown> }[] };
    expect(doc.status).toBe('completed');
    expect(doc.roundsDetail.filter((r) => r.status === 'committed')).toHaveLength(3);
    expect(Object.keys(doc.roundsDetail[0]!.phases)).toEqual(expect.arrayContaining(['waiting', 'fitting', 'aggregating', 'evaluating']));

    const human = captureIo();
    expect(await studyCommand(['status', 'cli-study', ...api('olga')], human)).toBe(ExitCode.Ok);
    expect(human.stdout.join('\n')).toMatch(/^\s+3\s+1 committed/m);

    const sites = captureIo();
    expect(await sitesCommand([...api('olga'), '--json'], sites)).toBe(ExitCode.Ok);
    expect((JSON.parse(sites.stdout.join('\n')) as { id: string; connected: boolean }[]).map((s) => [s.id, s.connected])).toEqual([
      ['site-1', true],
      ['site-2', true],
    ]);
  });

  it('aborts a study and exits 3 when --wait sees it end aborted', async () => {
    writeFileSync(studyFile, JSON.stringify(makeStudy({ inputDim, id: 'cli-doomed', rounds: 2, minSites: 3, timeouts: { waitForSitesMs: 60_000, fitMs: 30_000, evaluateMs: 30_000 } })));
    expect(await studyCommand(['create', studyFile, ...api('olga')], captureIo())).toBe(ExitCode.Ok);
    // minSites 3 with 2 sites: the round waits for sites, so abort takes effect at once.
    expect(await studyCommand(['start', 'cli-doomed', ...api('olga')], captureIo())).toBe(ExitCode.Ok);
    const abort = captureIo();
    expect(await studyCommand(['abort', 'cli-doomed', '--wait', ...api('olga')], abort, progressSink())).toBe(ExitCode.StudyFailed);
    expect(abort.stdout.join('\n')).toContain('aborted');
  });

  it('pauses a running study after the round in flight and resumes it to completion without repeating a round', async () => {
    const spec = makeStudy({ inputDim, id: 'pausable', rounds: 4, secureAggregation: false });
    const post = (url: string, payload?: object) => fed.app.inject({ method: 'POST', url, headers: fed.auth('olga'), ...(payload ? { payload } : {}) });
    expect((await post('/api/v1/studies', spec)).statusCode).toBe(201);
    const paused = new Promise<number>((resolve) => {
      const off = fed.coordinator.subscribe((e) => {
        if (e.studyId !== 'pausable') return;
        if (e.type === 'round-committed' && e.round === 1) void post('/api/v1/studies/pausable/pause');
        if (e.type === 'study-paused') {
          off();
          resolve(e.completedRounds);
        }
      });
    });
    expect((await post('/api/v1/studies/pausable/start')).statusCode).toBe(202);
    const at = await paused;
    expect(at).toBeGreaterThanOrEqual(1);
    expect(at).toBeLessThan(4);
    const mid = (await fed.app.inject({ url: '/api/v1/studies/pausable', headers: fed.auth('cora') })).json<{ status: string; running: boolean }>();
    expect(mid).toMatchObject({ status: 'paused', running: false });
    expect((await post('/api/v1/studies/pausable/start')).statusCode).toBe(202); // start of a paused study = resume
    const done = await fed.coordinator.runStudy('pausable');
    expect(done.status).toBe('completed');
    const rounds = (await fed.app.inject({ url: '/api/v1/studies/pausable/rounds', headers: fed.auth('cora') })).json<{ round: number; status: string }[]>();
    expect(rounds.filter((r) => r.status === 'committed').map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect((await post('/api/v1/studies/pausable/resume')).statusCode).toBe(409);
  });

  it('rolls a study paused on a corrupt model file back over REST (tessera study rollback), audited, and it completes', async () => {
    const spec = makeStudy({ inputDim, id: 'rollable', rounds: 3, secureAggregation: false });
    const post = (url: string, payload?: object) => fed.app.inject({ method: 'POST', url, headers: fed.auth('olga'), ...(payload ? { payload } : {}) });
    const pausedOnce = (): Promise<{ completedRounds: number }> =>
      new Promise((resolve) => {
        const off = fed.coordinator.subscribe((e) => {
          if (e.studyId !== 'rollable' || e.type !== 'study-paused') return;
          off();
          resolve(e);
        });
      });
    expect((await post('/api/v1/studies', spec)).statusCode).toBe(201);
    const firstPause = pausedOnce();
    const off = fed.coordinator.subscribe((e) => {
      if (e.studyId === 'rollable' && e.type === 'round-committed' && e.round === 1) void post('/api/v1/studies/rollable/pause');
    });
    expect((await post('/api/v1/studies/rollable/start')).statusCode).toBe(202);
    const at = (await firstPause).completedRounds;
    off();
    expect(at).toBeGreaterThanOrEqual(1);
    // A disk fault flips a byte of the current version's file; resuming reads it and pauses the study again.
    const broken = (await fed.coordinator.store.getStudy('rollable'))!.currentModel;
    const file = path.join(fed.dir, 'coordinator-data', 'models', `${broken}.bin`);
    const bytes = readFileSync(file);
    bytes[0] = (bytes[0] as number) ^ 0xff;
    writeFileSync(file, bytes);
    // The repository keeps the two newest verified versions in memory (content-addressed, so never stale): two
    // unrelated versions push this one out, so the next read goes to the (now corrupt) file as after a restart.
    await fed.coordinator.models.put(new Uint8Array([1, 2, 3, 4]));
    await fed.coordinator.models.put(new Uint8Array([5, 6, 7, 8]));
    const secondPause = pausedOnce();
    expect((await post('/api/v1/studies/rollable/resume')).statusCode).toBe(202);
    await secondPause;
    const stuck = (await fed.app.inject({ url: '/api/v1/studies/rollable', headers: fed.auth('cora') })).json<{ status: string; reason: string }>();
    expect(stuck.status).toBe('paused');
    expect(stuck.reason).toContain(`model file ${broken} is corrupt`);

    // A compliance token may not roll back; a digest that is not a committed version is refused.
    const quiet = [vi.spyOn(console, 'error').mockImplementation(() => undefined), vi.spyOn(console, 'log').mockImplementation(() => undefined)];
    try {
      expect(await main(['study', 'rollback', 'rollable', ...api('cora')])).toBe(ExitCode.Denied);
      expect(await main(['study', 'rollback', 'rollable', '--to', 'f'.repeat(64), ...api('olga')])).toBe(ExitCode.Rejected);
      expect(await main(['study', 'rollback', 'rollable', '--to', 'nope', ...api('olga')])).toBe(ExitCode.Usage);
    } finally {
      for (const q of quiet) q.mockRestore();
    }
    const io = captureIo();
    expect(await studyCommand(['rollback', 'rollable', ...api('olga'), '--json'], io)).toBe(ExitCode.Ok);
    const rolled = JSON.parse(io.stdout.join('\n')) as { study: { status: string; currentModel?: string; completedRounds: number }; model: { sha256: string; round: number; download: string }; rolledBackFrom: string };
    expect(rolled.rolledBackFrom).toBe(broken);
    expect(rolled.model.round).toBe(at - 1);
    expect(rolled.model.download).toBe(`/api/v1/studies/rollable/models/${rolled.model.sha256}`);
    expect(rolled.study).toMatchObject({ status: 'paused', completedRounds: at });
    // Audited: who asked, then what the coordinator did (from which version to which).
    const { entries } = await fed.coordinator.audit.list({ studyId: 'rollable', kind: 'study.status' });
    const asked = entries.findIndex((e) => (e.details as { requested?: string }).requested === 'rollback' && e.actor === 'operator:olga');
    expect(asked).toBeGreaterThanOrEqual(0);
    expect(entries.slice(asked + 1).some((e) => (e.details as { rolledBackTo?: string; rolledBackFrom?: string }).rolledBackTo === rolled.model.sha256 && (e.details as { rolledBackFrom?: string }).rolledBackFrom === broken)).toBe(true);
    // A second rollback has nothing to do: the current version reads.
    expect((await post('/api/v1/studies/rollable/rollback', {})).statusCode).toBe(409);

    expect((await post('/api/v1/studies/rollable/resume')).statusCode).toBe(202);
    const done = await fed.coordinator.runStudy('rollable');
    expect(done).toMatchObject({ status: 'completed', completedRounds: 3 });
    const rounds = (await fed.app.inject({ url: '/api/v1/studies/rollable/rounds', headers: fed.auth('cora') })).json<{ round: number; status: string }[]>();
    expect(rounds.filter((r) => r.status === 'committed').map((r) => r.round)).toEqual([1, 2, 3]);
  }, 180_000);

  it('talks HTTPS with the coordinator certificate when the CLI is given the consortium CA, and refuses without it', async () => {
    const c = path.join(fed.pkiDir, 'coordinator');
    const https = await startRestServer({
      coordinator: fed.coordinator,
      tokens: TokenAuthenticator.fromFile(path.join(c, 'operators.json')),
      logger: fed.logger,
      host: '127.0.0.1',
      port: 0,
      https: { key: readFileSync(path.join(c, 'server.key')), cert: readFileSync(path.join(c, 'server.crt')) },
    });
    try {
      expect(https.url.startsWith('https://127.0.0.1:')).toBe(true);
      const io = captureIo();
      expect(await sitesCommand(['--api', https.url, '--token-file', token('olga'), '--ca', path.join(c, 'ca.crt'), '--json'], io)).toBe(ExitCode.Ok);
      expect(JSON.parse(io.stdout.join('\n'))).toHaveLength(2);
      const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        expect(await main(['sites', '--api', https.url, '--token-file', token('olga')])).toBe(ExitCode.Unreachable);
      } finally {
        quiet.mockRestore();
      }
    } finally {
      await https.close();
    }
  });

  it('refuses to serve plain HTTP on a non-loopback address', async () => {
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('10.1.2.3')).toBe(false);
    const c = path.join(fed.pkiDir, 'coordinator');
    const config = validateConfig(
      CoordinatorConfigSchema,
      { dataDir: 'x', tls: { ca: path.join(c, 'ca.crt'), cert: path.join(c, 'server.crt'), key: path.join(c, 'server.key') }, api: { host: '0.0.0.0', tokens: path.join(c, 'operators.json') } },
      'coordinator.yaml',
    );
    await expect(startCoordinatorApi({ coordinator: fed.coordinator, config, baseDir: fed.dir, logger: fed.logger })).rejects.toThrow(/api.tls: true/);
  });

  it('maps API refusals to documented exit codes', async () => {
    const quiet = [vi.spyOn(console, 'error').mockImplementation(() => undefined), vi.spyOn(console, 'log').mockImplementation(() => undefined)];
    try {
      expect(await main(['study', 'create', studyFile, ...api('cora')])).toBe(ExitCode.Denied);
      expect(await main(['study', 'status', 'nope', ...api('olga')])).toBe(ExitCode.Rejected);
      expect(await main(['study', 'start', 'cli-study', ...api('olga')])).toBe(ExitCode.Rejected);
      expect(await main(['sites', '--api', 'http://127.0.0.1:1', '--token-file', token('olga')])).toBe(ExitCode.Unreachable);
      expect(await main(['sites', '--api', url])).toBe(ExitCode.Usage);
      const bad = path.join(fed.dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ ...makeStudy({ inputDim, id: 'x' }), colour: 'red' }));
      expect(await main(['study', 'create', bad, ...api('olga')])).toBe(ExitCode.Usage);
    } finally {
      for (const q of quiet) q.mockRestore();
    }
  });
});
