import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import { SiteSessions } from '../../coordinator/src/sessions/site-sessions.js';
import { UploadStore } from '../../coordinator/src/store/blob-store.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { writeSyntheticCohort } from '../../site-agent/src/hospital/datasets/index.js';
import { LocalFederation } from '../../cli/src/local-federation/index.js';
import { makeStudy } from '../helpers/federation-fixture.js';
import { captureLogger } from '../helpers/log-capture.js';

const SITES = ['site-1', 'site-2', 'site-3', 'site-4', 'site-5', 'site-6', 'site-7'];

/** The stage at whose start one more agent process is SIGKILLed, one round each. */
const KILL_AT: Record<number, string> = { 1: 'fit', 2: 'secagg-share-keys', 3: 'secagg-masked-input', 4: 'secagg-unmask' };

/**
 * Secure aggregation with real agent processes over real mTLS, and sites killed with SIGKILL at every stage
 * (one per round: before advertising keys, before sharing keys, before sending the masked input, during
 * unmasking). The coordinator runs in this process so the test can observe, without changing, everything it
 * receives. Proof 1: each round's unmasked sum equals, bit for bit, the mod-2^32 sum of the quantized inputs the
 * surviving sites wrote to their own audit folders. Proof 2: no site's unmasked update (trained weights or
 * quantized input) appears in anything the coordinator received, stored in SQLite, or logged.
 */
describe('secure aggregation with sites SIGKILLed at each stage (real processes, mTLS)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-secagg-'));
  let fed: LocalFederation | undefined;
  let coordinator: Coordinator | undefined;
  afterAll(async () => {
    await fed?.close();
    await coordinator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unmasks the exact sum of the survivors and never sees an individual update', async () => {
    // Arrange: PKI, data, an in-process coordinator with a captured log and observers on what it receives.
    const csvs = await writeSyntheticCohort(path.join(dir, 'data'), { sites: SITES.length, seed: 11, examplesPerSite: 150 });
    // The launcher provisions and writes the agents' configs; the coordinator runs here, on the launcher's port.
    fed = await LocalFederation.create({
      name: 'secagg',
      sites: SITES.map((id, i) => ({
        id,
        datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort' } },
        config: { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } },
        env: { TESSERA_SECAGG_AUDIT_DIR: path.join(dir, 'audit', id) },
      })),
      logs: 'ignore',
      logLevel: 'warn',
    });
    const f = fed;
    const received: Buffer[] = [];
    const originalAppend = UploadStore.prototype.append;
    UploadStore.prototype.append = async function (taskId, chunk, owner) {
      received.push(Buffer.from(chunk.data));
      return originalAppend.call(this, taskId, chunk, owner);
    };
    const originalAccept = SiteSessions.prototype.acceptResult;
    SiteSessions.prototype.acceptResult = function (siteId, result) {
      received.push(Buffer.from(JSON.stringify(result, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v))));
      for (const s of [...(result.secagg?.shares?.shares ?? [])]) received.push(Buffer.from(s.ciphertext));
      for (const r of [...(result.secagg?.reveal?.selfMaskShares ?? []), ...(result.secagg?.reveal?.maskKeyShares ?? [])]) received.push(Buffer.from(r.share));
      return originalAccept.call(this, siteId, result);
    };
    afterAll(() => {
      UploadStore.prototype.append = originalAppend;
      SiteSessions.prototype.acceptResult = originalAccept;
    });
    const log = captureLogger('coordinator', 'debug');
    const sums = new Map<number, { attempt: number; sum: Uint32Array; contributors: string[] }>();
    const killed = new Map<number, string>();
    const onEvent = (e: CoordinatorEvent): void => {
      if (e.type !== 'round-phase' || KILL_AT[e.round] !== e.phase || killed.has(e.round)) return;
      // Any live agent is in the stage that is about to be dispatched: kill one before its task goes out.
      const victim = SITES.find((s) => ![...killed.values()].includes(s) && f.process(s) !== undefined);
      if (!victim) return;
      f.process(victim)?.kill('SIGKILL');
      killed.set(e.round, victim);
    };
    coordinator = await Coordinator.create({
      config: validateConfig(CoordinatorConfigSchema, {
        listen: { host: '127.0.0.1', port: f.port },
        dataDir: path.join(dir, 'state'),
        tls: f.coordinatorTls(),
        heartbeatIntervalMs: 500,
      }, 'test'),
      baseDir: dir,
      logger: log.logger,
      onEvent,
      onSecureSum: (s) => sums.set(s.round, { attempt: s.attempt, sum: s.sum, contributors: s.contributors }),
    });
    for (const id of SITES) f.startAgent(id);
    for (let i = 0; i < 600 && coordinator.sessions.connectedSites().length < SITES.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(coordinator.sessions.connectedSites()).toEqual(SITES);
    const study = await coordinator.createStudy(makeStudy({
      id: 'secagg-it', inputDim: 10, rounds: 4, minSites: 3, strategy: 'fedavg',
      timeouts: { waitForSitesMs: 30_000, fitMs: 30_000, evaluateMs: 20_000 },
      secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: 15_000 },
    }));

    // Act
    const done = await coordinator.runStudy(study.id);

    // Assert: every round committed once, with one more site killed each round, at the named stage.
    expect(done.status).toBe('completed');
    expect([...killed.keys()]).toEqual([1, 2, 3, 4]);
    const rounds = (await coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);

    // Proof 1: bit-exact with the plaintext sum of the survivors' quantized inputs (from the sites' own audit copies).
    const quantized = new Map<string, Buffer>();
    for (const [round, s] of sums) {
      const victim = killed.get(round) as string;
      // Killed before its masked input: out of the sum. Killed while unmasking: its input stays in (self mask reconstructed).
      if (KILL_AT[round] === 'secagg-unmask') expect(s.contributors).toContain(victim);
      else expect(s.contributors).not.toContain(victim);
      expect(s.contributors).toHaveLength(SITES.length - round + (KILL_AT[round] === 'secagg-unmask' ? 1 : 0));
      const expected = new Uint32Array(s.sum.length);
      for (const site of s.contributors) {
        const file = path.join(dir, 'audit', site, `secagg-it_r${round}_a${s.attempt}.quantized.u32`);
        const bytes = readFileSync(file);
        quantized.set(`${site}/${round}`, bytes);
        const v = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        for (let i = 0; i < expected.length; i++) expected[i] = (expected[i] as number) + (v[i] as number);
      }
      expect(Buffer.from(s.sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    expect(sums.size).toBe(4);

    // Proof 2: no unmasked update in the messages received, the database or the log.
    const needles: Buffer[] = [];
    for (const site of SITES) {
      const auditDir = path.join(dir, 'audit', site);
      if (!existsSync(auditDir)) continue;
      for (const f of readdirSync(auditDir)) {
        const bytes = readFileSync(path.join(auditDir, f));
        // The parameters only (the last u32 of a quantized input is the bucketed weight); 16-byte windows.
        const body = f.endsWith('.u32') ? bytes.subarray(0, bytes.byteLength - 4) : bytes;
        for (let off = 0; off + 16 <= body.byteLength; off += 12) needles.push(body.subarray(off, off + 16));
      }
    }
    expect(needles.length).toBeGreaterThan(50);
    const hay = [
      ...received,
      ...readdirSync(path.join(dir, 'state')).filter((f) => f.startsWith('coordinator.sqlite')).map((f) => readFileSync(path.join(dir, 'state', f))),
      Buffer.from(log.lines.map((l) => JSON.stringify(l)).join('\n')),
    ];
    expect(received.length).toBeGreaterThan(20);
    for (const h of hay) {
      for (const n of needles) {
        expect(h.includes(n)).toBe(false);
        expect(h.includes(Buffer.from(n.toString('base64')))).toBe(false);
        expect(h.includes(Buffer.from(n.toString('hex')))).toBe(false);
      }
    }
    // The positive control: the same search does find an input where one is present.
    const sample = quantized.values().next().value as Buffer;
    expect(Buffer.concat([Buffer.alloc(7), sample]).includes(sample.subarray(0, 16))).toBe(true);
    // Example counts are not stored per site under secure aggregation.
    for (const r of rounds) {
      const rows = await coordinator.store.listRoundSites(study.id, r.round, r.attempt);
      for (const row of rows.filter((x) => x.phase === 'fit')) {
        expect(row.numExamples).toBe(0);
        expect(row.updateSha256).toBeNull();
      }
    }
  }, 600_000);
});
