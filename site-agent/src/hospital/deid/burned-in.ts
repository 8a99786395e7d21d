/**
 * The gate's burned-in annotation policy (docs/decisions/008-burned-in-annotation.md). The Basic Profile
 * de-identifies attributes, not pixels; PS3.15 leaves text burned into the pixel data to the Clean Pixel Data
 * Option (E.3.1), which Tessera does not implement (no OCR, no masking). So an image whose pixels may carry
 * identifying text is not let through unless the site says so:
 *
 * - Burned In Annotation (0028,0301) `YES`: quarantined (`burned-in-annotation`), unless the site accepts
 *   declared burned-in text for that modality (`acceptDeclared`: it cleans the pixels before the gate, or knows
 *   the text holds no PHI).
 * - Burned In Annotation absent (or neither YES nor NO) on a modality or SOP class where burned-in text is
 *   common: quarantined (`burned-in-annotation-unknown`), unless the site accepts undeclared images of that
 *   modality (`acceptUnknown`: it knows its own devices).
 * - Recognizable Visual Features (0028,0302) `YES` (a face, say: a full-face photograph is a HIPAA identifier):
 *   quarantined (`recognizable-visual-features`), whatever the policy; Tessera has no Clean Recognizable
 *   Visual Features Option (E.3.2).
 * - `NO` is taken at its word: the device or the archive vouches for the pixels.
 *
 * Instances without Pixel Data (reports, waveforms, RT plans) are not images and never quarantined here.
 */
import { getString, type DicomDataset } from '../dicom/dataset.js';
import { Tags, tag } from '../dicom/dictionary.js';

/** (0028,0302) Recognizable Visual Features. */
const RECOGNIZABLE_VISUAL_FEATURES = tag(0x0028, 0x0302);

/**
 * Modalities whose images often carry text in the pixels: ultrasound (calipers, labels, patient banners),
 * angiography and fluoroscopy (demographic overlays burned in by older systems), RT images (portal images with
 * annotations), endoscopy, external-camera and other photography, microscopy, scanned documents, screen captures.
 */
export const HIGH_RISK_MODALITIES: ReadonlySet<string> = new Set(['US', 'IVUS', 'XA', 'RF', 'RTIMAGE', 'ES', 'XC', 'GM', 'SM', 'OP', 'DOC', 'SC', 'OT']);

/**
 * SOP classes (a UID and the classes under it) whose images often carry burned-in text, whatever Modality says:
 * a secondary capture labelled CT is usually a screen capture (a dose report, a 3D view with its banner).
 */
export const HIGH_RISK_SOP_CLASSES: readonly { readonly uid: string; readonly name: string }[] = [
  { uid: '1.2.840.10008.5.1.4.1.1.7', name: 'secondary capture' }, // .7 and the multi-frame .7.1–.7.4
  { uid: '1.2.840.10008.5.1.4.1.1.6', name: 'ultrasound' }, // .6.1, .6.2 (and the retired .6)
  { uid: '1.2.840.10008.5.1.4.1.1.3', name: 'ultrasound multi-frame' }, // .3.1 (and the retired .3)
  { uid: '1.2.840.10008.5.1.4.1.1.12', name: 'X-ray angiography or fluoroscopy' }, // .12.1, .12.1.1, .12.2, .12.2.1
  { uid: '1.2.840.10008.5.1.4.1.1.77.1', name: 'visible light (endoscopy, microscopy, photography, ophthalmic)' },
  { uid: '1.2.840.10008.5.1.4.1.1.481.1', name: 'RT image' },
];

/** What a site accepts of images that may carry burned-in text (agent.yaml `burnedInAnnotation`). */
export interface BurnedInPolicy {
  /** Modalities (upper case, `*` for all) whose images without a Burned In Annotation value are accepted. @default [] */
  readonly acceptUnknown: readonly string[];
  /** Modalities (upper case, `*` for all) whose images declaring Burned In Annotation YES are accepted. @default [] */
  readonly acceptDeclared: readonly string[];
}

/** Quarantine everything at risk (the default). */
export const STRICT_BURNED_IN_POLICY: BurnedInPolicy = Object.freeze({ acceptUnknown: Object.freeze([]), acceptDeclared: Object.freeze([]) });

/** Why an instance is at risk, before the policy: a stable code and a message free of PHI. */
export interface BurnedInRisk {
  readonly code: 'burned-in-annotation' | 'burned-in-annotation-unknown' | 'recognizable-visual-features';
  readonly message: string;
  /** The instance's modality (upper case; empty when absent), what the policy is keyed by. */
  readonly modality: string;
}

/** The verdict: at risk and refused, at risk and accepted by the site's policy, or no risk known. */
export type BurnedInVerdict = { readonly status: 'quarantine'; readonly risk: BurnedInRisk } | { readonly status: 'accepted'; readonly risk: BurnedInRisk } | { readonly status: 'clear' };

function highRiskClass(sopClassUid: string): string | undefined {
  return HIGH_RISK_SOP_CLASSES.find((c) => sopClassUid === c.uid || sopClassUid.startsWith(`${c.uid}.`))?.name;
}

/** The burned-in risk of an image, or `undefined` (no Pixel Data, declared NO, or neither a risky modality nor class). */
export function burnedInRisk(ds: DicomDataset): BurnedInRisk | undefined {
  if (!ds.has(Tags.PixelData)) return undefined;
  const modality = (getString(ds, Tags.Modality) ?? '').trim().toUpperCase();
  if (getString(ds, RECOGNIZABLE_VISUAL_FEATURES)?.trim().toUpperCase() === 'YES') {
    return { code: 'recognizable-visual-features', modality, message: 'Recognizable Visual Features (0028,0302) is YES: the image shows identifying features (a face)' };
  }
  const declared = getString(ds, Tags.BurnedInAnnotation)?.trim().toUpperCase();
  if (declared === 'YES') return { code: 'burned-in-annotation', modality, message: 'BurnedInAnnotation (0028,0301) is YES: text is burned into the pixels' };
  if (declared === 'NO') return undefined;
  if (HIGH_RISK_MODALITIES.has(modality)) {
    return { code: 'burned-in-annotation-unknown', modality, message: `BurnedInAnnotation (0028,0301) is absent on a ${modality} image, a modality that often carries burned-in text` };
  }
  const cls = highRiskClass(getString(ds, Tags.SOPClassUID) ?? '');
  if (cls !== undefined) return { code: 'burned-in-annotation-unknown', modality, message: `BurnedInAnnotation (0028,0301) is absent on a ${cls} image` };
  return undefined;
}

function listed(list: readonly string[], modality: string): boolean {
  return list.includes('*') || (modality !== '' && list.includes(modality));
}

/** Applies the site's policy to an image's risk. */
export function burnedInVerdict(ds: DicomDataset, policy: BurnedInPolicy = STRICT_BURNED_IN_POLICY): BurnedInVerdict {
  const risk = burnedInRisk(ds);
  if (risk === undefined) return { status: 'clear' };
  const accepted =
    (risk.code === 'burned-in-annotation-unknown' && listed(policy.acceptUnknown, risk.modality)) || (risk.code === 'burned-in-annotation' && listed(policy.acceptDeclared, risk.modality));
  return { status: accepted ? 'accepted' : 'quarantine', risk };
}
