import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelCommand, type ExportModelReport } from '../../cli/src/commands/export-model.js';
import { decodeWeights } from '../../shared/src/ml/index.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

describe('federation over mTLS on 127.0.0.1 with 3 real agents', () => {
  let fed: Federation;
  let studyId = '';
  const updates = new Map<number, { siteId: string; weights: Float32Array; numExamples: number }[]>();

  beforeAll(async () => {
    fed = await startFederation({ sites: 3 });
    for (let i = 0; i < 3; i++) {
      const siteId = `site-${i + 1}`;
      await fed.startAgent(i, (info) => {
        const list = updates.get(info.round) ?? [];
        list.push({ siteId, weights: info.weights.slice(), numExamples: info.numExamples });
        updates.set(info.round, list);
      });
    }
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('runs a plaintext FedAvg study (secure aggregation off) to completion and the aggregate is the example-weighted mean of the updates', async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(makeStudy({ inputDim, rounds: 3, secureAggregation: false }));

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert
    expect(done.status).toBe('completed');
    expect(done.completedRounds).toBe(3);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const r of rounds) {
      const ups = updates.get(r.round) ?? [];
      expect(ups).toHaveLength(3);
      const total = ups.reduce((s, u) => s + u.numExamples, 0);
      const expected = new Float64Array(ups[0]!.weights.length);
      for (const u of ups) for (let i = 0; i < expected.length; i++) expected[i]! += (u.weights[i]! * u.numExamples) / total;
      const bytes = await fed.coordinator.models.get(r.modelOut!);
      const actual = decodeWeights(bytes, bytes.byteLength / 4);
      for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 5);
      expect(r.metrics?.accuracy).toBeGreaterThan(0.5);
    }
    const sites = await fed.coordinator.store.listSites();
    expect(sites.map((s) => s.id)).toEqual(['site-1', 'site-2', 'site-3']);
    expect(sites.every((s) => s.backend === 'wasm' || s.backend === 'cpu' || s.backend === 'tensorflow')).toBe(true);
    studyId = study.id;
  });

  it('exports a committed version in the TF.js format with provenance (tessera export-model)', async () => {
    // Arrange
    const study = await fed.coordinator.store.getStudy(studyId);
    const round2 = (await fed.coordinator.store.listRounds(studyId)).find((r) => r.round === 2 && r.status === 'committed');
    const out = path.join(fed.dir, 'export-r2');
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), now: () => new Date(0) };
    const dataDir = path.join(fed.dir, 'coordinator-data');

    // Act
    const code = await exportModelCommand(['--data-dir', dataDir, '--study', studyId, '--round', '2', '--out', out, '--json'], io);
    const missing = await exportModelCommand(['--data-dir', dataDir, '--study', studyId, '--round', '99', '--out', out], io);

    // Assert
    expect(code).toBe(0);
    const report = JSON.parse(lines[0] ?? '{}') as ExportModelReport;
    expect(report).toMatchObject({ studyId, round: 2, modelVersion: round2?.modelOut, model: study?.spec.model });
    const provenance = JSON.parse(readFileSync(path.join(out, 'provenance.json'), 'utf8')) as ExportModelReport;
    expect(provenance.modelVersion).toBe(round2?.modelOut);
    // weights.bin holds exactly the version's float32 weights, and its recorded hash is the file's.
    const weightsBin = readFileSync(path.join(out, 'weights.bin'));
    expect(createHash('sha256').update(weightsBin).digest('hex')).toBe(report.weightsBin.sha256);
    expect(weightsBin.equals(await fed.coordinator.models.get(round2?.modelOut ?? ''))).toBe(true);
    const modelJson = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest[0]?.paths).toEqual(['weights.bin']);
    expect(missing).toBe(4);
    expect(lines.at(-1)).toContain('TESSERA_INPUT_NOT_FOUND');
  });

  it('refuses bad export-model arguments with a usage error naming the problem, writing nothing', async () => {
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), now: () => new Date(0) };
    const dataDir = path.join(fed.dir, 'coordinator-data');
    const out = path.join(fed.dir, 'export-bad');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', studyId, '--round', '1.5', '--out', out], io)).toBe(2);
    expect(lines.at(-1)).toContain('--round must be a non-negative integer');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', studyId, '--round', '1', '--version', 'a'.repeat(64), '--out', out], io)).toBe(2);
    expect(lines.at(-1)).toContain('--round and --version exclude each other');
    expect(await exportModelCommand(['--data-dir', path.join(fed.dir, 'nowhere'), '--study', studyId, '--out', out], io)).toBe(4);
    expect(lines.at(-1)).toContain('no coordinator database');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', 'no-such-study', '--out', out], io)).toBe(4);
    expect(lines.at(-1)).toContain("no study 'no-such-study'");
    expect(existsSync(out)).toBe(false);
  });

  it('runs a Byzantine-robust fedmedian study (plaintext): each round commits the coordinate-wise median of the sites’ updates', async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    await expect(fed.coordinator.createStudy(makeStudy({ id: 'median-secure', inputDim, strategy: 'fedmedian' }))).rejects.toThrow(/secure aggregation reveals only their sum/);
    updates.clear();
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'median-study', inputDim, rounds: 2, strategy: 'fedmedian', minSites: 3, secureAggregation: false }));

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert: the median of three is the middle value of each coordinate, exactly.
    expect(done.status).toBe('completed');
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    for (const r of rounds) {
      const ups = updates.get(r.round) ?? [];
      expect(ups).toHaveLength(3);
      const bytes = await fed.coordinator.models.get(r.modelOut!);
      const actual = decodeWeights(bytes, bytes.byteLength / 4);
      const expected = Float32Array.from(actual, (_, i) => ups.map((u) => u.weights[i]!).sort((a, b) => a - b)[1]!);
      expect(Array.from(actual)).toEqual(Array.from(expected));
    }
  });
});
