/**
 * The burned-in annotation policy (docs/decisions/008-burned-in-annotation.md) on real corpus files: by default
 * the gate quarantines every image whose pixels may carry identifying text (Burned In Annotation YES; absent on
 * US, XA, RT images, secondary captures), each with its reason; a site's agent.yaml `burnedInAnnotation` accepts
 * exactly the modalities it names, and the report says which images it accepted and why they were at risk. A
 * PACS pull judges again, under a changed policy, what an earlier pull quarantined (real Orthanc).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { AgentConfigSchema, checkAgentConfig, type AgentImagingDatasetConfig } from '../../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../../shared/src/config/validate.js';
import { loadConfidentialityProfile } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { runDicomDeid, type DeidFileEntry } from '../../../../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { datasetBurnedInPolicy, fillImagingCache } from '../../../../site-agent/src/hospital/ingest/imaging-cache.js';
import { orthancSkipReason, startOrthanc, type Orthanc } from '../../../helpers/orthanc.js';

/** Corpus files and what each is (MANIFEST.tsv). */
const FILES = {
  usDeclaredYes: 'fo-dicom/GH364.dcm', // US, BurnedInAnnotation YES
  usUnknown: 'dicomparser/IM00001.fragmented_no_bot_jpeg_baseline.50.dcm', // US multi-frame, no declaration
  usDeclaredNo: 'pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm', // US, BurnedInAnnotation NO
  xaUnknown: 'fo-dicom/HasFragmentSequence.dcm', // XA, 96 frames, no declaration
  rtImageUnknown: 'fo-dicom/RI6XDosiGap.dcm', // RTIMAGE, no declaration
  nmSecondaryCapture: 'pydicom/JPEG2000.dcm', // Secondary Capture SOP class, Modality NM, no declaration
  ct: 'pydicom/CT_small.dcm', // CT, no declaration: no known risk
} as const;
type Name = keyof typeof FILES;

function parse(yamlText: string): ReturnType<typeof parseConfigText<typeof AgentConfigSchema>> {
  return parseConfigText(AgentConfigSchema, yamlText, 'agent.yaml', checkAgentConfig);
}

function dataset(extra: string, cacheRoot: string, source = '    dicom: ./originals'): string {
  return ['kit: ./kit', 'datasets:', '  scans:', '    kind: imaging-study', source, `    cache: ${cacheRoot}`, '    secret: ./site-secret.hex', '    inputShape: [64, 64, 1]', extra].filter((l) => l !== '').join('\n');
}

describe('burned-in annotation policy on corpus files', () => {
  let work: string;
  let originals: string;
  let pseudonymizer: PatientPseudonymizer;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-burned-in-'));
    originals = path.join(work, 'originals');
    mkdirSync(originals);
    for (const [name, f] of Object.entries(FILES)) copyFileSync(path.join(sharedDataDir(), 'dicom', f), path.join(originals, `${name}.dcm`));
    pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(path.join(work, 'site-secret.hex')) });
  });
  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  async function gate(policyYaml: string, out: string): Promise<Map<Name, DeidFileEntry>> {
    const config = parse(dataset(policyYaml, out));
    const cfg = config.datasets['scans'] as AgentImagingDatasetConfig;
    const report = await runDicomDeid({ inDir: originals, outDir: path.join(work, out), profile: loadConfidentialityProfile(), pseudonymizer, burnedIn: datasetBurnedInPolicy(cfg) });
    return new Map([...report.written, ...report.quarantined, ...report.failed].map((e) => [e.file.replace(/\.dcm$/, '') as Name, e]));
  }

  const verdict = (e: DeidFileEntry | undefined): string =>
    e === undefined ? 'missing' : e.status === 'written' ? (e.acceptedRisk !== undefined ? `accepted:${e.acceptedRisk.code}` : 'written') : `${e.status}:${e.reasons[0]?.code}`;

  it('by default quarantines YES, and absent on US, XA, RT images and secondary captures; lets through NO and ordinary CT', async () => {
    const byFile = await gate('', 'strict');
    expect(Object.fromEntries((Object.keys(FILES) as Name[]).map((n) => [n, verdict(byFile.get(n))]))).toEqual({
      usDeclaredYes: 'quarantined:burned-in-annotation',
      usUnknown: 'quarantined:burned-in-annotation-unknown',
      usDeclaredNo: 'written',
      xaUnknown: 'quarantined:burned-in-annotation-unknown',
      rtImageUnknown: 'quarantined:burned-in-annotation-unknown',
      nmSecondaryCapture: 'quarantined:burned-in-annotation-unknown',
      ct: 'written',
    });
    const e = byFile.get('nmSecondaryCapture');
    expect(e?.status !== 'written' && e?.reasons[0]?.message).toMatch(/absent on a secondary capture image/);
    expect(readdirSync(path.join(work, 'strict'))).toHaveLength(2);
  });

  it('accepts exactly what the site names: undeclared US only, then declared US too, then any undeclared image', async () => {
    const usUnknown = await gate('    burnedInAnnotation: { acceptUnknown: [US] }', 'us-unknown');
    expect(verdict(usUnknown.get('usUnknown'))).toBe('accepted:burned-in-annotation-unknown');
    expect(verdict(usUnknown.get('usDeclaredYes'))).toBe('quarantined:burned-in-annotation');
    expect(verdict(usUnknown.get('xaUnknown'))).toBe('quarantined:burned-in-annotation-unknown');
    expect(verdict(usUnknown.get('usDeclaredNo'))).toBe('written');
    const usBoth = await gate('    burnedInAnnotation: { acceptUnknown: [US], acceptDeclared: [US] }', 'us-both');
    expect(verdict(usBoth.get('usDeclaredYes'))).toBe('accepted:burned-in-annotation');
    expect(verdict(usBoth.get('rtImageUnknown'))).toBe('quarantined:burned-in-annotation-unknown');
    const any = await gate("    burnedInAnnotation: { acceptUnknown: ['*'] }", 'any');
    for (const n of ['usUnknown', 'xaUnknown', 'rtImageUnknown', 'nmSecondaryCapture'] as const) expect(verdict(any.get(n)), n).toBe('accepted:burned-in-annotation-unknown');
    expect(verdict(any.get('usDeclaredYes'))).toBe('quarantined:burned-in-annotation');
  });

  it('agent.yaml refuses a modality that is not a DICOM code, and unknown keys, naming the field', () => {
    expect(() => parse(dataset('    burnedInAnnotation: { acceptUnknown: [us] }', 'x'))).toThrow(/burnedInAnnotation\/acceptUnknown\/0|burnedInAnnotation\.acceptUnknown/);
    expect(() => parse(dataset('    burnedInAnnotation: { accept: [US] }', 'x'))).toThrow(/burnedInAnnotation/);
  });

  describe.skipIf(orthancSkipReason() !== undefined)('a PACS pull under a changed policy', () => {
    let orthanc: Orthanc;
    beforeAll(async () => {
      orthanc = await startOrthanc();
      for (const n of ['usUnknown', 'usDeclaredNo', 'ct'] as const) expect((await orthanc.upload(path.join(originals, `${n}.dcm`))).ok).toBe(true);
    });
    afterAll(async () => {
      await orthanc?.close();
    });

    it('remembers a quarantine only under the policy that made it: accepting US later fetches and admits the instance', async () => {
      const source = `  pacs: { kind: dicomweb, url: '${orthanc.dicomWebUrl}', requestsPerSecond: 500 }`;
      const yamlFor = (policy: string): string => dataset(policy, './pacs-cache', '    source: pacs').replace('datasets:', `sources:\n${source}\ndatasets:`);
      const pull = async (policy: string): Promise<Awaited<ReturnType<typeof fillImagingCache>>> => {
        const config = parse(yamlFor(policy));
        return fillImagingCache('scans', config.datasets['scans'] as AgentImagingDatasetConfig, work, config.sources);
      };
      const strict = await pull('');
      expect(strict.pacs).toMatchObject({ found: 3, written: 2, quarantined: 1 });
      const again = await pull('');
      expect(again.pacs).toMatchObject({ found: 3, cached: 3, fetched: 0 });
      expect(again.pacs?.entries.find((e) => e.status === 'quarantined')).toMatchObject({ earlier: true, reasons: [{ code: 'burned-in-annotation-unknown' }] });
      const accepting = await pull('    burnedInAnnotation: { acceptUnknown: [US] }');
      expect(accepting.pacs).toMatchObject({ found: 3, cached: 2, fetched: 1, written: 1, quarantined: 0 });
      expect(readdirSync(path.join(work, 'pacs-cache', 'dicom')).filter((f) => f.endsWith('.dcm'))).toHaveLength(3);
    });
  });
});
