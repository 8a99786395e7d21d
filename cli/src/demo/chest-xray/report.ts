/**
 * What `tessera demo --dataset chest-xray` adds to the demo report (`chestXray` in `--report FILE`), and
 * its printed summary. Counts only; nothing identifying (the patients are synthetic, and the report still
 * carries no identifier of one).
 */
import { CHEST_HOSPITALS } from './hospitals.js';
import type { HeldOutResult } from './held-out.js';
import { MEDMNIST_RESNET18_28_AUC } from './study.js';

/** Labels one site derived for the study, next to the ground truth only the demo knows. */
export interface ChestSiteLabels {
  id: string;
  /** Where the site's label came from. */
  source: 'snomed-ct' | 'icd-10-cm+local-codes' | 'report-text';
  /** Patients in the study's cohort with a label, per split the site drew. */
  splits: Record<'train' | 'val' | 'test', { positive: number; negative: number }>;
  /** Of the labelled patients: how many labels equal the ground truth. */
  agreement: number | null;
}

/** The `chestXray` section of the demo report. */
export interface ChestXrayReport {
  /** Official PneumoniaMNIST test split, held out of every site, scored through the site pipeline. */
  heldOut: HeldOutResult | null;
  /** MedMNIST v2's centralised ResNet-18 (28) AUC on the same test split: the anchor. */
  anchorAuc: number;
  /** The model's input after the pipeline, and the source resolution that bounds it. */
  inputShape: readonly number[];
  sourceSize: number;
  quick: boolean;
  pacs: boolean;
  sites: ChestSiteLabels[];
  timings: { generateMs: number; generatedEarlier: boolean; pacsLoadMs: number; federationMs: number; heldOutMs: number };
}

/** Prints the chest-xray part of the summary. */
export function printChestXray(r: ChestXrayReport, durationMs: number): void {
  console.log(`\nchest-xray: three hospitals, ${r.pacs ? 'pulled from one Orthanc PACS each over DICOMweb' : 'read from their export folders'}${r.quick ? ' (--quick: a small stratified subset, AUC not comparable)' : ''}`);
  console.log('site    label source              train +/-     val +/-    test +/-   agrees with truth');
  for (const s of r.sites) {
    const f = (k: 'train' | 'val' | 'test'): string => `${s.splits[k].positive}/${s.splits[k].negative}`.padStart(11);
    console.log(`${s.id.padEnd(7)} ${s.source.padEnd(22)} ${f('train')} ${f('val')} ${f('test')}   ${s.agreement === null ? '-' : `${(100 * s.agreement).toFixed(1)} %`}`);
  }
  const h = r.heldOut;
  if (h !== null) {
    const per = Object.entries(h.perSite)
      .map(([id, p]) => `${CHEST_HOSPITALS.find((x) => x.id === id)?.pacs.transferSyntax ?? id} ${p.auc.toFixed(3)} (${p.examples})`)
      .join(', ');
    console.log(
      `held-out official test split: AUC ${h.auc.toFixed(3)} over ${h.examples} images (${h.positives} pneumonia), model of round ${h.round}; ` +
        `anchor MedMNIST v2 ResNet-18 (28) ${r.anchorAuc.toFixed(3)} → ${h.auc >= r.anchorAuc ? 'at or above' : 'below'} the anchor`,
    );
    console.log(`  per export format: ${per}`);
  }
  console.log(`  input ${r.inputShape.join('×')} after the site pipeline; the source images are ${r.sourceSize} px, upsampled by the generator, which bounds accuracy`);
  const t = r.timings;
  console.log(
    `time: ${(durationMs / 1000).toFixed(0)} s in all — generate ${t.generatedEarlier ? 'reused' : `${(t.generateMs / 1000).toFixed(0)} s`}, ` +
      `${r.pacs ? `PACS load ${(t.pacsLoadMs / 1000).toFixed(0)} s, ` : ''}federation (ingest + training) ${(t.federationMs / 1000).toFixed(0)} s, held-out scoring ${(t.heldOutMs / 1000).toFixed(0)} s`,
  );
}

export const CHEST_ANCHOR_AUC = MEDMNIST_RESNET18_28_AUC;
