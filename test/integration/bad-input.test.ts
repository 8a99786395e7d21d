import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import type { Task__Output } from '../../protos/gen/tessera/v1/Task.js';
import type { UploadMessage } from '../../protos/gen/tessera/v1/UploadMessage.js';
import { AgentConfigSchema } from '../../shared/src/config/agent-config.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { parseConfigText } from '../../shared/src/config/validate.js';
import { ConfigError } from '../../shared/src/errors.js';
import { StudySpecSchema } from '../../shared/src/study/study-spec.js';
import { createFederationClient, queryUpload } from '../../site-agent/src/coordinator-client.js';
import { GRPC_CHANNEL_OPTIONS } from '../../shared/src/transport/proto.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';
import { HandSite, siteTls } from '../helpers/hand-site.js';
import { captureLogger, type CapturedLogger } from '../helpers/log-capture.js';
import { transferDigest } from '../../shared/src/transport/chunks.js';

const FEDERATION = '/tessera.v1.Federation';
const identity = (b: Buffer): Buffer => b;

/** Sends `messages` on one UploadUpdate stream exactly as given; resolves with the receipt or the error status. */
function rawUpload(client: FederationClient, messages: UploadMessage[]): Promise<{ ok: true; complete: boolean } | { ok: false; error: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const call = client.UploadUpdate((err, receipt) =>
      err ? resolve({ ok: false, error: err }) : resolve({ ok: true, complete: receipt?.complete ?? false }),
    );
    for (const m of messages) call.write(m);
    call.end();
  });
}

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/**
 * Bad input from outside, against a real coordinator over mTLS: garbage protobuf, uploads that do not fit
 * the task, an update of NaN, results for other sites' tasks, config files with unknown keys, and a CSV
 * with broken rows. site-1 is a real agent, site-2 a real agent whose CSV has broken rows, site-3 and
 * site-4 are driven by hand. Each problem must be named, logged, and must not stop the study.
 */
describe('bad input over real gRPC + mTLS', () => {
  let fed: Federation;
  let log: CapturedLogger;
  let site2Log: CapturedLogger;
  let address: string;
  let hand: HandSite;
  /** A second hand-driven site whose fit task stays pending while site-3 sends results for it. */
  let idle: HandSite;

  beforeAll(async () => {
    log = captureLogger('coordinator');
    site2Log = captureLogger('site-2');
    fed = await startFederation({ sites: 4, logger: log.logger });
    address = `127.0.0.1:${fed.coordinator.port}`;
    // site-2's CSV: line 5 has a field missing, line 10 a non-number, line 15 an out-of-range age.
    const csvPath = fed.siteCsv[1]!;
    const lines = readFileSync(csvPath, 'utf8').split('\n');
    lines[4] = lines[4]!.split(',').slice(1).join(',');
    lines[9] = ['abc', ...lines[9]!.split(',').slice(1)].join(',');
    lines[14] = ['200', ...lines[14]!.split(',').slice(1)].join(',');
    writeFileSync(csvPath, lines.join('\n'));
    await fed.startAgent(0);
    await fed.startAgent(1, undefined, site2Log.logger);
    hand = new HandSite(address, siteTls(fed.pkiDir, 'site-3'));
    hand.hello('site-3');
    await hand.welcome();
    idle = new HandSite(address, siteTls(fed.pkiDir, 'site-4'));
    idle.hello('site-4');
    await idle.welcome();
    await waitUntil(() => fed.coordinator.sessions.connectedSites().length === 4, 'four sites to connect');
  });

  afterAll(async () => {
    hand?.close();
    idle?.close();
    await fed?.close();
  });

  it('(e) a site whose CSV has broken rows joins: the rejected rows are counted, located and logged', () => {
    // Assert (the study below shows it also trains)
    const report = fed.agents[1]!.datasets.get('synthetic-cohort')!.report;
    expect(report.rowsRejected).toBe(3);
    expect(report.rowsAccepted).toBe(report.rowsRead - 3);
    expect(report.problems).toEqual([
      { line: 5, reason: 'expected 10 fields, found 9' },
      { line: 10, column: 'age', reason: 'not a number' },
      { line: 15, column: 'age', reason: 'outside the allowed range [18, 95]' },
    ]);
    expect(site2Log.find('dataset loaded')[0]).toMatchObject({ rowsRejected: 3 });
    expect(site2Log.find('row skipped').map((l) => l['line'])).toEqual([5, 10, 15]);
    // Privacy: the rejected cell's text is never logged.
    expect(JSON.stringify(site2Log.lines)).not.toContain('abc');
  });

  it('(a) answers malformed protobuf with an error status and keeps serving', async () => {
    // Arrange: a raw client that sends bytes as they are, with site-3's valid certificate
    const tls = siteTls(fed.pkiDir, 'site-3');
    const raw = new grpc.Client(address, grpc.credentials.createSsl(tls.ca, tls.key, tls.cert), GRPC_CHANNEL_OPTIONS);
    const garbage = Buffer.from([0xff, 0xff, 0xff]); // a varint tag that never ends

    // Act
    const unary = await new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(`${FEDERATION}/QueryUpload`, identity, identity, garbage, (err) => resolve(err));
    });
    const stream = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest(`${FEDERATION}/UploadUpdate`, identity, identity, (err) => resolve(err));
      call.write(garbage);
      call.end();
    });
    raw.close();

    // Assert: both refused with a status that says the request could not be decoded
    expect(unary?.code).toBe(grpc.status.INTERNAL);
    expect(unary?.details).toMatch(/deserializ/i);
    expect(stream?.code).toBe(grpc.status.INTERNAL);
    expect(stream?.details).toMatch(/deserializ/i);
    for (const method of ['QueryUpload', 'UploadUpdate']) {
      const line = await log.waitFor('request message is not valid protobuf', (l) => l['method'] === `${FEDERATION}/${method}`);
      expect(line).toMatchObject({ bytes: 3 });
      expect(String(line['reason'])).toContain('index out of range');
    }
    // …and the coordinator still answers a well-formed call on a fresh channel.
    const client = createFederationClient(address, tls);
    await expect(queryUpload(client, 'no-such-task', sha(Buffer.from('x')))).resolves.toBe(0);
    client.close();
    expect(fed.coordinator.sessions.connectedSites()).toEqual(['site-1', 'site-2', 'site-3', 'site-4']);
  });

  it('(b, c) refuses uploads that do not fit the task and results for other tasks, drops the NaN update, and the study completes', async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(
      makeStudy({ id: 'bad-input', inputDim, rounds: 1, secureAggregation: false, timeouts: { waitForSitesMs: 10_000, fitMs: 8000, evaluateMs: 8000 } }),
    );
    const running = fed.coordinator.runStudy(study.id);
    const task: Task__Output = await hand.task('TASK_KIND_FIT');
    const bytes = Buffer.alloc(task.modelBytes);
    for (let i = 0; i < bytes.byteLength; i += 4) bytes.writeFloatLE(Number.NaN, i);
    const header = { taskId: task.taskId, studyId: task.studyId, round: task.round, siteId: 'site-3', totalBytes: bytes.byteLength, sha256: transferDigest(bytes).digest, offset: 0 };
    const chunk = { offset: 0, data: bytes, sha256: sha(bytes), totalBytes: bytes.byteLength };
    const refused = async (messages: UploadMessage[], code: string): Promise<string> => {
      const before = log.lines.length;
      const r = await rawUpload(hand.client, messages);
      expect(r.ok).toBe(false);
      if (r.ok) return '';
      expect(r.error.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(r.error.details).toContain(code);
      const line = await log.waitFor('upload refused', (l) => log.lines.indexOf(l) >= before && String(l['problem']).includes(code));
      expect(line['siteId']).toBe('site-3');
      return r.error.details;
    };

    // Act + Assert (b): each bad upload is refused with what and where
    const wrongRound = await refused([{ header: { ...header, round: task.round + 1 } }, { chunk }], 'TESSERA_PROTOCOL_WRONG_ROUND');
    expect(wrongRound).toContain(`upload for study ${task.studyId} round ${task.round + 1}; the task is study ${task.studyId} round ${task.round}`);
    const unknown = await refused([{ header: { ...header, taskId: 'bad-input/r1/a1/fit/nobody' } }], 'TESSERA_PROTOCOL_UNKNOWN_TASK');
    expect(unknown).toContain('no open fit task bad-input/r1/a1/fit/nobody for site site-3');
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    const oversized = await refused([{ header }, { chunk: { offset: 0, data: big, sha256: sha(big), totalBytes: bytes.byteLength } }], 'TESSERA_PROTOCOL_BAD_CHUNK');
    expect(oversized).toContain('chunk of 2097152 bytes exceeds the 1048576-byte limit');
    const wrongShape = await refused([{ header: { ...header, totalBytes: bytes.byteLength + 4 } }], 'TESSERA_PROTOCOL_WRONG_SHAPE');
    expect(wrongShape).toContain(`update of ${bytes.byteLength + 4} bytes does not match the model's ${bytes.byteLength} bytes`);

    // Act + Assert (c): results for another site's task and for an unknown task are ignored with a warning
    const otherTask = (await idle.task('TASK_KIND_FIT')).taskId;
    const result = { taskId: task.taskId, studyId: task.studyId, round: task.round, kind: 'TASK_KIND_FIT' as const, numExamples: 100, metrics: { loss: 0.5, accuracy: 0.5 }, updateSha256: transferDigest(bytes).digest.toString('hex'), updateBytes: bytes.byteLength };
    hand.send({ result: { ...result, taskId: otherTask } });
    hand.send({ result: { ...result, taskId: 'bad-input/r9/a1/fit/site-3' } });
    const other = await log.waitFor('result refused', (l) => l['taskId'] === otherTask);
    expect(other).toMatchObject({ siteId: 'site-3', problem: `result for task ${otherTask} which belongs to another site` });
    const stray = await log.waitFor('result refused', (l) => l['taskId'] === 'bad-input/r9/a1/fit/site-3');
    expect(stray['problem']).toBe('result for unknown or finished task bad-input/r9/a1/fit/site-3');
    expect(hand.error).toBeUndefined();
    idle.send({ refusal: { taskId: otherTask, code: 'TESSERA_AGENT_TEST', reason: 'hand-driven site does not train' } });

    // Act (b, NaN): a well-formed upload of the right size full of NaN completes; the result then goes up the same stream
    const nan = await rawUpload(hand.client, [{ header }, { chunk }]);
    expect(nan).toEqual({ ok: true, complete: true });
    hand.send({ result });
    for (const site of [hand, idle]) {
      const evaluate = await site.task('TASK_KIND_EVALUATE');
      site.send({ refusal: { taskId: evaluate.taskId, code: 'TESSERA_AGENT_TEST', reason: 'hand-driven site does not evaluate' } });
    }
    const done = await running;

    // Assert: site-3 dropped as invalid with a reason naming non-finite values; the round committed with site-1 and site-2
    expect(done.status).toBe('completed');
    expect(done.completedRounds).toBe(1);
    const sites = await fed.coordinator.store.listRoundSites(study.id, 1, 1);
    const fit = Object.fromEntries(sites.filter((s) => s.phase === 'fit').map((s) => [s.siteId, s]));
    expect(fit['site-1']?.outcome).toBe('ok');
    expect(fit['site-2']?.outcome).toBe('ok');
    expect(fit['site-3']?.outcome).toBe('invalid');
    expect(fit['site-3']?.reason).toMatch(/non-finite/);
    expect(fit['site-4']?.outcome).toBe('refused');
    const dropped = await log.waitFor('site dropped from round', (l) => l['siteId'] === 'site-3');
    expect(dropped).toMatchObject({ outcome: 'invalid', round: 1 });
    const rounds = await fed.coordinator.store.listRounds(study.id);
    expect(rounds.find((r) => r.status === 'committed')?.round).toBe(1);
    expect(hand.error).toBeUndefined();
  });

  it('(d) refuses config files with an unknown key, naming the file and the key path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-cfg-'));
    try {
      const cases = [
        {
          file: 'coordinator.yaml',
          schema: CoordinatorConfigSchema,
          text: 'dataDir: ./data\ntls:\n  ca: ca.crt\n  cert: server.crt\n  key: server.key\n  revocation: revocations.json\n',
          where: '/tls/revocation',
        },
        {
          file: 'agent.yaml',
          schema: AgentConfigSchema,
          text: 'kit: ./kit\ndatasets:\n  cohort:\n    csv: a.csv\n    schema: builtin:synthetic-cohort\npolicy:\n  maxEpochs: 5\n',
          where: '/policy/maxEpochs',
        },
        {
          file: 'study.yaml',
          schema: StudySpecSchema,
          text: 'id: s\nname: s\ndataset: d\nmodel: logreg\ninputDim: 3\nrounds: 1\nstrategy: fedavg\nroundz: 2\n',
          where: '/roundz',
        },
      ] as const;
      for (const c of cases) {
        const file = path.join(dir, c.file);
        writeFileSync(file, c.text);
        let error: unknown;
        try {
          parseConfigText(c.schema, readFileSync(file, 'utf8'), file);
        } catch (err) {
          error = err;
        }
        expect(error, c.file).toBeInstanceOf(ConfigError);
        const e = error as ConfigError;
        expect(e.code).toBe('TESSERA_CONFIG_INVALID');
        expect(e.message).toContain(`${file}: `);
        const cut = c.where.lastIndexOf('/');
        expect(e.message).toContain(`unknown key '${c.where.slice(cut + 1)}' at ${cut === 0 ? '/' : c.where.slice(0, cut)}`);
        expect(e.context['source']).toBe(file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
