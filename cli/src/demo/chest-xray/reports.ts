/**
 * Radiology report texts for the chest-xray demo, written the way paediatric chest radiograph reports
 * are: a findings section and an impression, with varied wording, negations ("no focal consolidation")
 * and hedges ("cannot exclude early pneumonia"). Positive reports state pneumonia (or an opacity
 * "consistent with" it) in at least one sentence; negative reports either negate it or hedge, so a
 * labeler that treats an uncertain mention as negative (U-Zeros, the demo study's policy) recovers the
 * ground truth, and one that treats it as positive does not.
 */
import type { Rng } from '../../../../shared/src/rng.js';

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

const SIDES = ['right', 'left'] as const;
const LOBES = ['upper', 'middle', 'lower'] as const;

function location(rng: Rng): string {
  const side = pick(rng, SIDES);
  const lobe = side === 'left' && rng.next() < 0.5 ? 'lower' : pick(rng, side === 'left' ? (['upper', 'lower'] as const) : LOBES);
  return `${side} ${lobe} lobe`;
}

const TECHNIQUE = ['AP view of the chest.', 'Single frontal view of the chest.', 'Portable AP chest radiograph.', 'PA and lateral views of the chest.', 'Frontal chest radiograph.'];
const INDICATION = ['Fever and cough.', 'Cough for 3 days.', 'Fever, tachypnea.', 'Rule out pneumonia.', 'Respiratory distress.', 'Wheezing.', 'Decreased oxygen saturation.'];
const HEART = ['The cardiothymic silhouette is within normal limits.', 'Heart size is normal.', 'Normal cardiomediastinal contours.', 'The cardiac silhouette is not enlarged.'];
const BONES = ['No acute osseous abnormality.', 'Osseous structures are intact.', 'Visualized bones are unremarkable.', ''];
const PLEURA_NEG = ['No pleural effusion or pneumothorax.', 'No pleural effusion.', 'There is no pneumothorax or effusion.', 'Costophrenic angles are sharp.'];

const POSITIVE_FINDINGS: readonly ((rng: Rng) => string)[] = [
  (r) => `There is ${location(r)} airspace opacity consistent with pneumonia.`,
  (r) => `Focal consolidation in the ${location(r)}.`,
  () => 'Patchy bilateral perihilar airspace opacities.',
  (r) => `Dense consolidation of the ${location(r)} with air bronchograms.`,
  (r) => `Increased opacity in the ${location(r)}, compatible with pneumonia.`,
  () => 'Streaky and confluent opacities in both lower lungs.',
];
const POSITIVE_IMPRESSIONS: readonly ((rng: Rng) => string)[] = [
  (r) => `${capital(location(r))} pneumonia.`,
  () => 'Findings consistent with pneumonia.',
  () => 'Bilateral pneumonia.',
  () => 'Multifocal pneumonia.',
  (r) => `Airspace disease in the ${location(r)} representing pneumonia.`,
  () => 'Pneumonia. Recommend follow-up radiograph after treatment to document resolution.',
  () => 'Findings compatible with bronchopneumonia.',
];
const NEGATIVE_FINDINGS: readonly ((rng: Rng) => string)[] = [
  () => 'The lungs are clear.',
  () => 'No focal consolidation.',
  () => 'Lungs are well expanded and clear without focal airspace disease.',
  () => 'Mild peribronchial thickening. No focal consolidation.',
  () => 'No airspace opacity.',
  () => 'Normal lung volumes. No consolidation.',
];
const NEGATIVE_IMPRESSIONS: readonly ((rng: Rng) => string)[] = [
  () => 'No evidence of pneumonia.',
  () => 'No acute cardiopulmonary process.',
  () => 'Normal chest radiograph.',
  () => 'No radiographic evidence of pneumonia.',
  () => 'Peribronchial thickening suggesting viral illness or reactive airway disease; no pneumonia.',
  () => 'Negative for pneumonia.',
];
/** Hedged negatives: the radiologist is not sure, the truth is no pneumonia. */
const HEDGED_IMPRESSIONS: readonly ((rng: Rng) => string)[] = [
  () => 'Cannot exclude early pneumonia.',
  (r) => `Subtle ${location(r)} opacity, possibly atelectasis; early pneumonia not excluded.`,
  () => 'Questionable developing infiltrate; clinical correlation recommended.',
  () => 'Possible early pneumonia versus atelectasis.',
];

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** What a report says about pneumonia, for the demo's own bookkeeping. */
export type ReportStance = 'positive' | 'negated' | 'hedged';

/**
 * One report for a study whose truth is `pneumonia`. Negative studies get a hedged impression with
 * probability `hedgeRate` (default 0.12). Sections are upper-case headings followed by a colon, as most
 * hospitals' RIS templates write them.
 */
export function chestReportText(rng: Rng, pneumonia: boolean, hedgeRate = 0.12): { text: string; stance: ReportStance } {
  const findings: string[] = [];
  let impression: string;
  let stance: ReportStance;
  if (pneumonia) {
    findings.push(pick(rng, POSITIVE_FINDINGS)(rng));
    impression = pick(rng, POSITIVE_IMPRESSIONS)(rng);
    stance = 'positive';
  } else if (rng.next() < hedgeRate) {
    findings.push(pick(rng, NEGATIVE_FINDINGS.slice(3))(rng));
    impression = pick(rng, HEDGED_IMPRESSIONS)(rng);
    stance = 'hedged';
  } else {
    findings.push(pick(rng, NEGATIVE_FINDINGS)(rng));
    impression = pick(rng, NEGATIVE_IMPRESSIONS)(rng);
    stance = 'negated';
  }
  findings.push(pick(rng, HEART), pick(rng, PLEURA_NEG));
  const bones = pick(rng, BONES);
  if (bones !== '') findings.push(bones);
  if (rng.next() < 0.5) rng.shuffle(findings);
  const text = [
    `EXAM: ${pick(rng, TECHNIQUE)}`,
    `INDICATION: ${pick(rng, INDICATION)}`,
    `FINDINGS: ${findings.join(' ')}`,
    `IMPRESSION: ${impression}`,
  ].join('\n');
  return { text, stance };
}
