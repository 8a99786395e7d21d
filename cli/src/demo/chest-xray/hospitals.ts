/**
 * The three hospitals of the chest-xray demo: how each one's PACS exports a chest radiograph and how its
 * EMR codes the diagnosis. They differ the way real hospitals do, so that every site has to decode,
 * window, harmonise and label its own way before the federation sees a tensor.
 */

/** How a site's PACS writes its images. */
export interface PacsExportProfile {
  readonly modality: 'CR' | 'DX';
  readonly sopClassUid: string;
  /** Square image side written (the 28 px source is upsampled to it). */
  readonly size: number;
  readonly bitsAllocated: 8 | 16;
  readonly bitsStored: number;
  readonly photometric: 'MONOCHROME1' | 'MONOCHROME2';
  readonly transferSyntax: 'jpeg-ls-lossless' | 'jpeg2000-lossless' | 'jpeg-baseline';
  /** Stored value of the darkest and brightest source grey (before the MONOCHROME1 inversion). */
  readonly range: readonly [number, number];
  readonly manufacturer: string;
  readonly model: string;
  readonly studyDescriptions: readonly string[];
}

/** Where a site's diagnosis of pneumonia lives in its EMR. */
export type DiagnosisCoding =
  /** Condition coded in SNOMED CT. */
  | { readonly kind: 'snomed' }
  /** Condition coded in ICD-10-CM; before `legacyBefore` in the site's local code system instead (mapped by its mapping file). */
  | { readonly kind: 'icd10cm'; readonly legacyBefore: string }
  /** No coded diagnosis: the radiology report's text is the only label source. */
  | { readonly kind: 'report-text' };

/** One hospital of the demo. */
export interface ChestHospital {
  readonly id: string;
  readonly name: string;
  /** Share of each class (normal, pneumonia) of every split that goes to this site. */
  readonly shares: readonly [number, number];
  readonly pacs: PacsExportProfile;
  readonly coding: DiagnosisCoding;
  /** How this site's MRNs look. */
  readonly mrn: (serial: number) => string;
}

export const SNOMED = 'http://snomed.info/sct';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
/** Site 2's legacy problem-list code system (before its ICD-10-CM migration). */
export const SITE2_LOCAL_SYSTEM = 'http://st-brendan.example.org/fhir/CodeSystem/problem-list';

/** Pneumonia and two distractor diagnoses in each code system (display, code). */
export const DIAGNOSES = {
  snomed: {
    pneumonia: [
      ['233604007', 'Pneumonia'],
      ['53084003', 'Bacterial pneumonia'],
      ['75570004', 'Viral pneumonia'],
    ],
    other: [
      ['195967001', 'Asthma'],
      ['54150009', 'Upper respiratory infection'],
    ],
  },
  icd10cm: {
    pneumonia: [
      ['J18.9', 'Pneumonia, unspecified organism'],
      ['J15.9', 'Unspecified bacterial pneumonia'],
      ['J12.9', 'Viral pneumonia, unspecified'],
    ],
    other: [
      ['J45.909', 'Unspecified asthma, uncomplicated'],
      ['J06.9', 'Acute upper respiratory infection, unspecified'],
      ['J21.9', 'Acute bronchiolitis, unspecified'],
    ],
  },
  /** Site 2's legacy codes; its mapping file maps each to the ICD-10-CM code at the same index. */
  local: {
    pneumonia: [
      ['PNA', 'PNEUMONIA NOS'],
      ['PNA-B', 'PNEUMONIA BACTERIAL'],
      ['PNA-V', 'PNEUMONIA VIRAL'],
    ],
    other: [
      ['ASTH', 'ASTHMA'],
      ['URI', 'URI ACUTE'],
      ['BRONCHIOL', 'BRONCHIOLITIS ACUTE'],
    ],
  },
} as const satisfies Record<string, Record<'pneumonia' | 'other', readonly (readonly [string, string])[]>>;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * A: a tertiary children's hospital, CR plates read out at 16 bits, exported MONOCHROME1 as JPEG-LS
 * lossless at 512 px, diagnoses in SNOMED CT. B: a general hospital's DX detectors, 12 bits stored,
 * MONOCHROME2, JPEG 2000 lossless at 448 px, ICD-10-CM since 2020 and a local problem list before it.
 * C: a community hospital whose teleradiology gateway sends 8-bit baseline JPEG at 256 px and whose EMR
 * has no coded diagnosis for these visits: only the radiologist's report says what was seen.
 */
export const CHEST_HOSPITALS: readonly ChestHospital[] = [
  {
    id: 'site-1',
    name: 'Northgate Children\'s Hospital',
    shares: [0.4, 0.45],
    pacs: {
      modality: 'CR',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.1',
      size: 512,
      bitsAllocated: 16,
      bitsStored: 16,
      photometric: 'MONOCHROME1',
      transferSyntax: 'jpeg-ls-lossless',
      range: [2200, 61000],
      manufacturer: 'FUJIFILM Corporation',
      model: 'FCR PROFECT CS',
      studyDescriptions: ['CHEST AP', 'CHEST 1 VIEW PEDS', 'XR CHEST PORTABLE'],
    },
    coding: { kind: 'snomed' },
    mrn: (serial) => `N${pad(serial, 7)}`,
  },
  {
    id: 'site-2',
    name: 'St Brendan General Hospital',
    shares: [0.35, 0.33],
    pacs: {
      modality: 'DX',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1',
      size: 448,
      bitsAllocated: 16,
      bitsStored: 12,
      photometric: 'MONOCHROME2',
      transferSyntax: 'jpeg2000-lossless',
      range: [140, 3950],
      manufacturer: 'Carestream Health',
      model: 'DRX-Revolution',
      studyDescriptions: ['Radiograph, Chest', 'XR CHEST AP OR PA', 'Chest X-Ray Paediatric'],
    },
    coding: { kind: 'icd10cm', legacyBefore: '2020-01-01' },
    mrn: (serial) => `MRN-${pad(serial, 6)}`,
  },
  {
    id: 'site-3',
    name: 'Riverbend Community Hospital',
    shares: [0.25, 0.22],
    pacs: {
      modality: 'CR',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.1',
      size: 256,
      bitsAllocated: 8,
      bitsStored: 8,
      photometric: 'MONOCHROME2',
      transferSyntax: 'jpeg-baseline',
      range: [0, 255],
      manufacturer: 'Agfa',
      model: 'CR 30-X',
      studyDescriptions: ['CXR', 'CHEST XRAY', 'Chest 1V'],
    },
    coding: { kind: 'report-text' },
    mrn: (serial) => pad(40_000_000 + serial * 7, 8),
  },
];
