/**
 * PACS sources against a real Orthanc (Debian `orthanc` + `orthanc-dicomweb`) loaded with the shared DICOM
 * corpus: a site agent's imaging dataset with a `dicomweb` source and one with a `dimse` source fill the same
 * de-identified cache as `tessera deid` over the same files with the same secret; pulls are incremental and
 * resume; a PACS that is down, slow, answers 4xx/5xx, a non-DICOM part or a truncated body costs only the
 * instances concerned, each reported with its reason, and nothing identified is left outside the gate.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deidCommand } from '../../cli/src/commands/deid.js';
import { sharedDataDir } from '../../cli/src/public-data.js';
import { AgentConfigSchema, checkAgentConfig, type AgentImagingDatasetConfig } from '../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../shared/src/config/validate.js';
import { TesseraError } from '../../shared/src/errors.js';
import { getString } from '../../site-agent/src/hospital/dicom/dataset.js';
import { Tags } from '../../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom } from '../../site-agent/src/hospital/dicom/parse.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../site-agent/src/hospital/deid/pseudonym.js';
import { fillImagingCache } from '../../site-agent/src/hospital/ingest/imaging-cache.js';
import { DicomDeidGate } from '../../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { loadConfidentialityProfile } from '../../site-agent/src/hospital/deid/dicom-profile.js';
import { DicomwebSource, syncFromPacs } from '../../site-agent/src/hospital/pacs/index.js';
import { PreprocessPool } from '../../site-agent/src/hospital/imaging/preprocess-pool.js';
import { loadLocalDataset } from '../../site-agent/src/hospital/local-data.js';
import { freePort, orthancSkipReason, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { orthancWithCorpus, startFaultProxy, type FaultProxy, type LoadedFile } from '../helpers/pacs-fixture.js';

const skip = orthancSkipReason();
const quietIo = { out: () => undefined, err: () => undefined, now: () => new Date() };

function agentYaml(sources: string, dataset: string): string {
  return `kit: ./kit\nsources:\n${sources}\ndatasets:\n  chest:\n${dataset}\n`;
}

function dataset(source: string, work: string, extra = ''): string {
  return [
    '    kind: imaging-study',
    `    source: ${source}`,
    `    cache: ${work}/cache`,
    `    secret: ${work}/site-secret.hex`,
    '    inputShape: [64, 64, 1]',
    extra,
  ]
    .filter((l) => l !== '')
    .join('\n');
}

function imagingConfig(yamlText: string): { cfg: AgentImagingDatasetConfig; sources: ReturnType<typeof parse>['sources'] } {
  const config = parse(yamlText);
  const ds = config.datasets['chest'];
  if (ds === undefined || !('kind' in ds) || ds.kind !== 'imaging-study') throw new Error('no imaging dataset');
  return { cfg: ds, sources: config.sources };
}

function parse(yamlText: string): ReturnType<typeof parseConfigText<typeof AgentConfigSchema>> {
  return parseConfigText(AgentConfigSchema, yamlText, 'agent.yaml', checkAgentConfig);
}

/** Every regular file under `dir` (relative paths). */
function allFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
  } catch {
    return [];
  }
}

function dcmNames(dir: string): string[] {
  return allFiles(dir).filter((f) => f.endsWith('.dcm'));
}

describe.skipIf(skip !== undefined)(`PACS sources against a real Orthanc${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let orthanc: Orthanc;
  let loaded: LoadedFile[];
  let work: string;
  let secretFile: string;
  let pseudonymizer: PatientPseudonymizer;
  /** `tessera deid` over the files Orthanc stored (`Success`), same secret: the reference cache. */
  let expectedDir: string;
  let deidReport: { failed: { file: string; reasons: { code: string }[] }[] };
  /** Original SOP Instance UIDs of the corpus: none may appear in anything the gate let through. */
  let originalUids: string[];

  beforeAll(async () => {
    ({ orthanc, loaded } = await orthancWithCorpus(path.join(sharedDataDir(), 'dicom')));
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-pacs-'));
    secretFile = path.join(work, 'site-secret.hex');
    pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretFile) });
    const stored = path.join(work, 'stored');
    mkdirSync(stored);
    for (const l of loaded.filter((x) => x.status === 'Success')) copyFileSync(l.file, path.join(stored, path.basename(l.file)));
    expectedDir = path.join(work, 'expected');
    const reportFile = path.join(work, 'deid-report.json');
    expect(await deidCommand(['--in', stored, '--out', expectedDir, '--secret', secretFile, '--report', reportFile], quietIo)).toBe(0);
    deidReport = JSON.parse(readFileSync(reportFile, 'utf8')) as typeof deidReport;
    originalUids = loaded.flatMap((l) => (l.sopInstanceUid !== undefined ? [l.sopInstanceUid] : []));
  });

  afterAll(async () => {
    await orthanc?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** Nothing identified outside the gate: the incoming folder is empty, every cached instance is de-identified, no original UID anywhere. */
  function expectNothingIdentified(root: string): void {
    const incoming = path.join(root, 'cache.incoming');
    expect(allFiles(incoming)).toEqual([]);
    for (const f of allFiles(root)) {
      const bytes = readFileSync(path.join(root, f));
      const text = bytes.toString('latin1');
      for (const uid of originalUids) expect(text.includes(uid), `${f} holds an original SOP Instance UID`).toBe(false);
      if (f.endsWith('.dcm')) {
        const ds = parseDicom(bytes, f).dataset;
        expect(getString(ds, Tags.PatientIdentityRemoved)).toBe('YES');
      }
    }
  }

  it('Orthanc took the corpus (some broken files refused)', () => {
    const ok = loaded.filter((l) => l.status === 'Success').length;
    expect(ok).toBeGreaterThan(40);
    expect(loaded.some((l) => !l.ok)).toBe(true);
  });

  it('a dicomweb source fills the same cache as tessera deid over the same files (same names, same bytes), and the dataset says why it is not trainable', async () => {
    const root = path.join(work, 'web');
    const yamlText = agentYaml(`  pacs:\n    kind: dicomweb\n    url: ${orthanc.dicomWebUrl}\n    concurrency: 3\n    requestsPerSecond: 500`, dataset('pacs', root));
    const { cfg, sources } = imagingConfig(yamlText);
    mkdirSync(root, { recursive: true });
    copyFileSync(secretFile, path.join(root, 'site-secret.hex'));
    // The agent's own path: pull through the gate, then read the cache; no labels, so no dataset, and it says why.
    const err = await loadLocalDataset('chest', cfg, work, undefined, sources).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('TESSERA_INPUT_NO_ROWS');
    expect((err as Error).message).toMatch(/no linked DiagnosticReport/);
    const expected = dcmNames(expectedDir);
    expect(expected.length).toBeGreaterThan(25);
    expect(dcmNames(path.join(root, 'cache', 'dicom'))).toEqual(expected);
    for (const f of expected) expect(readFileSync(path.join(root, 'cache', 'dicom', f)).equals(readFileSync(path.join(expectedDir, f))), f).toBe(true);
    expectNothingIdentified(root);
    // Incremental: a second pull fetches nothing.
    const again = await fillImagingCache('chest', cfg, work, sources);
    expect(again.pacs?.fetched).toBe(0);
    expect(again.pacs?.cached).toBe(again.pacs?.found);
  });

  it('bodies above spillAboveBytes stream into the 0700 incoming folder and leave it as soon as they are read back, before the gate', async () => {
    const root = path.join(work, 'spill');
    const incoming = path.join(root, 'incoming');
    const gate = new DicomDeidGate({ outDir: path.join(root, 'cache', 'dicom'), profile: loadConfidentialityProfile(), pseudonymizer });
    const source = new DicomwebSource({ url: orthanc.dicomWebUrl, concurrency: 2, requestsPerSecond: 500, timeoutMs: 30_000, retries: 0, spillAboveBytes: 1 });
    mkdirSync(incoming, { recursive: true, mode: 0o700 });
    // Every temporary file created in the folder (inotify), and how many were there when each instance left the gate.
    const created = new Set<string>();
    const watcher = watch(incoming, (event, name) => {
      if (event === 'rename' && name !== null && name.endsWith('.part')) created.add(name);
    });
    let leftAtGate = 0;
    const report = await syncFromPacs({
      source,
      query: {},
      gate,
      incoming,
      stateFile: path.join(root, 'cache', 'pacs', 'state.jsonl'),
      onEntry: () => {
        leftAtGate = Math.max(leftAtGate, allFiles(incoming).length);
      },
    });
    watcher.close();
    await source.close();
    expect(report.fetched).toBe(report.found);
    expect(created.size).toBeGreaterThanOrEqual(report.fetched);
    // With concurrency 2, at most the other slot's body can be in the folder while one instance is at the gate.
    expect(leftAtGate).toBeLessThanOrEqual(1);
    expect(statSync(incoming).mode & 0o777).toBe(0o700);
    expect(allFiles(incoming)).toEqual([]);
    expect(dcmNames(path.join(root, 'cache', 'dicom'))).toEqual(dcmNames(expectedDir));
  });

  it('the step after the gate gets each written instance as the bytes written into the cache, and the pipeline threads make its tensor while the pull goes on', async () => {
    const root = path.join(work, 'pipeline');
    const gate = new DicomDeidGate({ outDir: path.join(root, 'cache', 'dicom'), profile: loadConfidentialityProfile(), pseudonymizer });
    const source = new DicomwebSource({ url: orthanc.dicomWebUrl, concurrency: 3, requestsPerSecond: 500, timeoutMs: 30_000, retries: 0 });
    // The compiled worker (npm test builds dist/ first): the path an agent runs. One thread, one job queued: back-pressure on every instance.
    const pool = PreprocessPool.create({ threads: 1, queuePerThread: 1, worker: new URL('../../dist/site-agent/src/hospital/imaging/preprocess-worker.js', import.meta.url) });
    const handed = new Map<string, Uint8Array>();
    const outcomes = new Map<string, string>();
    let maxPending = 0;
    try {
      expect(pool.threads).toBe(1);
      const report = await syncFromPacs({
        source,
        query: {},
        gate,
        incoming: path.join(root, 'incoming'),
        stateFile: path.join(root, 'cache', 'pacs', 'state.jsonl'),
        afterGate: {
          ready: () => pool.whenReady(),
          take: async (id, bytes) => {
            handed.set(id, bytes.slice());
            maxPending = Math.max(maxPending, pool.pending + 1);
            try {
              const r = await pool.run(bytes, id, [32, 32, 1]);
              outcomes.set(id, `${r.shape.join('x')}:${r.tensor.length}`);
            } catch (err) {
              outcomes.set(id, (err as { reason?: string }).reason ?? 'other');
            }
          },
        },
      });
      // Every written instance went through the step before the pull returned, with exactly the cache file's bytes.
      const written = report.entries.filter((e) => e.status === 'written').map((e) => e.id).sort();
      expect([...handed.keys()].sort()).toEqual(written);
      for (const [id, bytes] of handed) expect(Buffer.from(bytes).equals(readFileSync(path.join(root, 'cache', 'dicom', `${id}.dcm`))), id).toBe(true);
      expect([...outcomes.keys()].sort()).toEqual(written);
      expect([...outcomes.values()].filter((o) => o === '32x32x1:1024').length).toBeGreaterThan(20);
      // Instances without an image come back with the pipeline's reason, not a crash of the pool.
      expect([...outcomes.values()].filter((o) => o !== '32x32x1:1024').every((o) => ['zero-size', 'unsupported-transfer-syntax', 'decode-failed', 'pixel-length', 'unsupported-pixels'].includes(o))).toBe(true);
      expect(maxPending).toBeLessThanOrEqual(1);
    } finally {
      await pool.close();
      await source.close();
    }
  });

  it('a dimse source (C-FIND + C-GET) fills the same cache, with the same pseudonymous UIDs and patient pseudonyms', async () => {
    const root = path.join(work, 'dimse');
    mkdirSync(root, { recursive: true });
    copyFileSync(secretFile, path.join(root, 'site-secret.hex'));
    const yamlText = agentYaml(
      `  pacs:\n    kind: dimse\n    host: 127.0.0.1\n    port: ${orthanc.dicomPort}\n    calledAeTitle: ${orthanc.aeTitle}\n    callingAeTitle: TESSERA-SITE\n    concurrency: 2`,
      dataset('pacs', root),
    );
    const { cfg, sources } = imagingConfig(yamlText);
    const filled = await fillImagingCache('chest', cfg, work, sources);
    const report = filled.pacs;
    if (report === undefined) throw new Error('no pull report');
    const got = new Set(dcmNames(path.join(root, 'cache', 'dicom')));
    const expected = dcmNames(expectedDir);
    const failedIds = new Set(report.entries.filter((e) => e.status === 'failed').map((e) => `${e.id}.dcm`));
    // Orthanc's DIMSE side (DCMTK) cannot send an instance stored in a transfer syntax it does not know, and its
    // C-FIND does not list instances whose UIDs are not PS3.5 UIDs; everything else arrives.
    const nonConformant = new Set(loaded.filter((l) => l.sopInstanceUid !== undefined && !/^[0-9.]+$/.test(l.sopInstanceUid)).map((l) => `${pseudonymizer.uid(l.sopInstanceUid as string)}.dcm`));
    const missing = expected.filter((f) => !got.has(f));
    for (const f of missing) expect(failedIds.has(f) || nonConformant.has(f), `${f} missing without a reported reason`).toBe(true);
    expect(missing.length).toBeLessThanOrEqual(3);
    // Same pseudonymous UIDs and patient pseudonym as tessera deid for every instance both wrote.
    for (const f of expected.filter((x) => got.has(x))) {
      const a = parseDicom(readFileSync(path.join(expectedDir, f)), f).dataset;
      const b = parseDicom(readFileSync(path.join(root, 'cache', 'dicom', f)), f).dataset;
      for (const t of [Tags.SOPInstanceUID, Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.PatientID]) expect(getString(b, t), `${f} ${t}`).toBe(getString(a, t));
    }
    // Extra instances: files tessera deid could not read from disk (no file meta) that the PACS sends as clean data sets.
    const unreadable = new Set(deidReport.failed.filter((e) => e.reasons.some((r) => r.code === 'unreadable')).map((e) => e.file));
    const unreadableIds = new Set(
      loaded.filter((l) => unreadable.has(path.basename(l.file)) && l.sopInstanceUid !== undefined).map((l) => `${pseudonymizer.uid(l.sopInstanceUid as string)}.dcm`),
    );
    for (const f of [...got].filter((x) => !expected.includes(x))) expect(unreadableIds.has(f), `${f} written by DIMSE only`).toBe(true);
    expectNothingIdentified(root);
  });

  it('tessera deid --in <DICOMweb URL> pulls through the gate into --out (the same files as from the folder); other URL schemes are refused', async () => {
    const out = path.join(work, 'cli-web', 'out');
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), now: () => new Date() };
    expect(await deidCommand(['--in', `${orthanc.dicomWebUrl}/studies`, '--out', out, '--secret', secretFile], io)).toBe(0);
    expect(dcmNames(out)).toEqual(dcmNames(expectedDir));
    expect(lines[0]).toMatch(/listed by 127\.0\.0\.1:\d+, 0 already in the cache/);
    expect(allFiles(`${out}.incoming`)).toEqual([]);
    const errs: string[] = [];
    const code = await deidCommand(['--in', 'ftp://127.0.0.1/dicom', '--out', path.join(work, 'cli-ftp'), '--secret', secretFile], { ...io, err: (l) => errs.push(l) });
    expect(code).toBe(4);
    expect(errs.join('\n')).toMatch(/ftp: URLs are not supported/);
  });

  it('a dimse source with retrieve c-move receives the instances on its own storage SCP (loopback, the AE title Orthanc knows)', async () => {
    const root = path.join(work, 'move');
    mkdirSync(root, { recursive: true });
    copyFileSync(secretFile, path.join(root, 'site-secret.hex'));
    const scpPort = await freePort();
    const pacs = await startOrthanc({ modalities: { tessera: ['TESSERA-SCP', '127.0.0.1', scpPort] } });
    try {
      const expected = new Set(dcmNames(expectedDir));
      const subset = loaded.filter((l) => l.status === 'Success' && l.sopInstanceUid !== undefined && expected.has(`${pseudonymizer.uid(l.sopInstanceUid)}.dcm`)).slice(0, 12);
      for (const l of subset) await pacs.upload(l.file);
      const { cfg, sources } = imagingConfig(
        agentYaml(
          `  pacs:\n    kind: dimse\n    host: 127.0.0.1\n    port: ${pacs.dicomPort}\n    calledAeTitle: ${pacs.aeTitle}\n    callingAeTitle: TESSERA-SITE\n    retrieve: c-move\n    storeScp: { aeTitle: TESSERA-SCP, port: ${scpPort} }`,
          dataset('pacs', root),
        ),
      );
      const filled = await fillImagingCache('chest', cfg, work, sources);
      expect(filled.pacs?.found).toBe(subset.length);
      const want = subset.map((l) => `${pseudonymizer.uid(l.sopInstanceUid as string)}.dcm`).sort();
      expect(dcmNames(path.join(root, 'cache', 'dicom'))).toEqual(want);
      for (const f of want) {
        const a = parseDicom(readFileSync(path.join(expectedDir, f)), f).dataset;
        const b = parseDicom(readFileSync(path.join(root, 'cache', 'dicom', f)), f).dataset;
        for (const t of [Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.PatientID]) expect(getString(b, t), `${f} ${t}`).toBe(getString(a, t));
      }
      expectNothingIdentified(root);
    } finally {
      await pacs.close();
    }
  });

  describe('bad input', () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await startFaultProxy(orthanc.url, 8_000);
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it('4xx, 5xx, slow, reset, non-DICOM part, truncated multipart: each reported with its reason, skipped, the rest goes on; the next pull fetches only those', async () => {
      const root = path.join(work, 'faults');
      mkdirSync(root, { recursive: true });
      copyFileSync(secretFile, path.join(root, 'site-secret.hex'));
      const { cfg, sources } = imagingConfig(
        agentYaml(`  pacs:\n    kind: dicomweb\n    url: ${proxy.url}\n    concurrency: 4\n    timeoutMs: 2500\n    retries: 2`, dataset('pacs', root)),
      );
      const good = loaded.filter((l) => l.status === 'Success' && l.sopInstanceUid !== undefined && dcmNames(expectedDir).includes(`${pseudonymizer.uid(l.sopInstanceUid)}.dcm`));
      // This PACS has no root /instances search: the source walks studies → series → instances.
      proxy.refuseRootSearch = true;
      const faults = ['http-500', 'http-404', 'slow', 'reset', 'non-dicom-part', 'truncated'] as const;
      const victims = good.slice(0, faults.length);
      victims.forEach((v, i) => proxy.faults.set(v.sopInstanceUid as string, faults[i] as (typeof faults)[number]));
      // A leftover of an agent killed mid-pull: swept at start.
      mkdirSync(path.join(root, 'cache.incoming'), { recursive: true });
      writeFileSync(path.join(root, 'cache.incoming', 'left-by-a-kill.part'), readFileSync(victims[0]?.file as string));
      const first = await fillImagingCache('chest', cfg, work, sources);
      const report = first.pacs;
      if (report === undefined) throw new Error('no pull report');
      expect(report.swept).toBe(1);
      expect(proxy.seen.qido).toBeGreaterThan(20);
      // The configured concurrency holds at the PACS (4 WADO-RS requests at most, and it was reached).
      expect(proxy.seen.maxWadoInFlight).toBeLessThanOrEqual(4);
      expect(proxy.seen.maxWadoInFlight).toBeGreaterThan(1);
      const byId = new Map(report.entries.map((e) => [e.id, e]));
      const codeOf = (v: LoadedFile): string | undefined => byId.get(pseudonymizer.uid(v.sopInstanceUid as string))?.reasons[0]?.code;
      expect(victims.map(codeOf)).toEqual(['http-status', 'not-found', 'timeout', 'connection-reset', 'not-dicom', 'multipart']);
      for (const v of victims) expect(byId.get(pseudonymizer.uid(v.sopInstanceUid as string))?.status).toBe('failed');
      const expected = dcmNames(expectedDir);
      expect(dcmNames(path.join(root, 'cache', 'dicom'))).toEqual(expected.filter((f) => !victims.some((v) => `${pseudonymizer.uid(v.sopInstanceUid as string)}.dcm` === f)));
      expectNothingIdentified(root);
      // The PACS heals: the next pull fetches exactly the instances that failed, and the cache is complete.
      proxy.faults.clear();
      const second = await fillImagingCache('chest', cfg, work, sources);
      expect(second.pacs?.fetched).toBe(second.pacs?.entries.filter((e) => e.status !== 'cached' && e.earlier !== true).length);
      expect(second.pacs?.fetched).toBe(victims.length);
      expect(second.pacs?.written).toBe(victims.length);
      expect(dcmNames(path.join(root, 'cache', 'dicom'))).toEqual(expected);
      expectNothingIdentified(root);
    });

    it('a PACS that is down: the pull fails with TESSERA_PACS_UNREACHABLE naming the host; after a restart on the same port the pull resumes', async () => {
      const root = path.join(work, 'restart');
      mkdirSync(root, { recursive: true });
      copyFileSync(secretFile, path.join(root, 'site-secret.hex'));
      const second = await startOrthanc();
      try {
        for (const l of loaded.filter((x) => x.status === 'Success').slice(0, 8)) await second.upload(l.file);
        const { cfg, sources } = imagingConfig(agentYaml(`  pacs:\n    kind: dicomweb\n    url: ${second.dicomWebUrl}\n    retries: 1\n    timeoutMs: 15000`, dataset('pacs', root)));
        const before = await fillImagingCache('chest', cfg, work, sources);
        expect(before.pacs?.written).toBeGreaterThan(0);
        await second.stop();
        const err = await fillImagingCache('chest', cfg, work, sources).catch((e: unknown) => e);
        expect((err as TesseraError).code).toBe('TESSERA_PACS_UNREACHABLE');
        expect((err as Error).message).toContain(`127.0.0.1:${second.httpPort}`);
        expect(dcmNames(path.join(root, 'cache', 'dicom')).length).toBe(before.pacs?.written);
        // The agent's path keeps the dataset on the cache of earlier pulls (here it then has no labels: NO_ROWS, not a PACS error).
        const agentErr = await loadLocalDataset('chest', cfg, work, undefined, sources).catch((e: unknown) => e);
        expect((agentErr as TesseraError).code).toBe('TESSERA_INPUT_NO_ROWS');
        const restarted = await startOrthanc({ storageDir: second.storageDir, httpPort: second.httpPort, dicomPort: second.dicomPort });
        try {
          for (const l of loaded.filter((x) => x.status === 'Success').slice(8, 12)) await restarted.upload(l.file);
          const after = await fillImagingCache('chest', cfg, work, sources);
          expect(after.pacs?.cached).toBe(before.pacs?.found);
          expect(after.pacs?.fetched).toBe((after.pacs?.found ?? 0) - (before.pacs?.found ?? 0));
          expectNothingIdentified(root);
        } finally {
          await restarted.close();
        }
      } finally {
        await second.close();
      }
    });
  });
});
