/**
 * The chest-xray demo's study: what the consortium declares once (`data:`), and the training recipe
 * chosen on the sites' pooled validation AUC (docs/explanation/chest-xray-demo.md has the figures).
 */
import { DIAGNOSES } from './hospitals.js';

/**
 * Training defaults of `tessera demo --dataset chest-xray` (full) and of its `--quick` form (CI). The full
 * recipe: 12 rounds × 2 local epochs, Adam at 0.001 × 0.95 per round, batch 32, each site weighting its loss
 * by its own class counts (`classWeighting: 'balanced'`: the sites hold one normal radiograph in ten).
 */
export const CHEST_DEFAULTS = {
  full: { rounds: 12, localEpochs: 2, learningRate: 0.001, batchSize: 32, model: 'cnn-breastmnist', learningRateDecay: 0.95, classWeighting: 'balanced' },
  quick: { rounds: 2, localEpochs: 1, learningRate: 0.002, batchSize: 32, model: 'cnn-breastmnist', learningRateDecay: 1, classWeighting: 'balanced' },
} as const;

/** Images per official split in `--quick` (stratified); the full demo takes all 3,882 / 524 / 624. */
export const QUICK_IMAGES = { train: 240, val: 60, test: 120 } as const;

/** The study's `dataset:` name, which each site maps to its imaging study in agent.yaml. */
export const CHEST_DATASET = 'chest-xray';

/** MedMNIST v2's centralised ResNet-18 (28) on PneumoniaMNIST, test AUC (Yang et al., Sci Data 2023, Table 3). */
export const MEDMNIST_RESNET18_28_AUC = 0.944;

/**
 * The study's `data:` section. Cohort: chest radiographs (CR or DX, body part CHEST); index date: the
 * imaging study; label: pneumonia, from a coded diagnosis within a week of the radiograph (SNOMED CT or
 * ICD-10-CM, a site's local codes mapped by its own file) or, where the EMR has none, from the report
 * text (uncertain mentions count as negative: U-Zeros); split: patient-level, keyed per site (the
 * official test split is held out of the sites altogether and scored by the consortium).
 */
export function chestStudyData(): Record<string, unknown> {
  const codes = [
    ...DIAGNOSES.snomed.pneumonia.map(([code]) => ({ system: 'snomed', code })),
    ...DIAGNOSES.icd10cm.pneumonia.map(([code]) => ({ system: 'icd10', code })),
  ];
  return {
    kind: 'imaging',
    cohort: { include: [], exclude: [], imaging: { modality: ['CR', 'DX'], bodyPart: ['CHEST'] } },
    index: { event: 'imaging-study' },
    windows: { label: { lookbackDays: 1, lookaheadDays: 7 } },
    features: { observations: [], codes: [], demographics: [], fhirpath: [] },
    label: {
      type: 'binary',
      positive: { anyOf: [{ resource: 'Condition', codes }, { report: { lexicon: 'chest-xray', finding: 'pneumonia', status: ['positive'] } }] },
    },
    split: { test: 0.08, val: 0.12 },
  };
}
