/**
 * The PACS query a study's imaging cohort makes (for a `dicomweb` or `dimse` source's `query`): the selected
 * modalities and body part, and the patient IDs of the cohort's patients. The cohort is computed on
 * de-identified records (pseudonyms); the site turns it back into its own patient IDs by pseudonymising the
 * IDs it holds with its own secret. The result is identified: it lives in the site agent's memory and goes to
 * the site's own PACS only, never into a log, a report or a message.
 */
import type { PacsQuery } from '../../../../shared/src/config/agent-config.js';
import type { StudyData } from '../../../../shared/src/study/study-data-spec.js';
import type { StudyDataResult } from './evaluate.js';

/** A query in the PACS sources' terms (each given criterion must match). */
export interface CohortImagingQuery {
  readonly modalities?: readonly string[];
  /** Set when the study selects exactly one body part; with several, the sources filter after retrieval. */
  readonly bodyPart?: string;
  /** The site's own patient IDs of the cohort's patients (identified: keep inside the site). */
  readonly patientIds?: readonly string[];
}

/**
 * @param result the contract evaluated on the site's de-identified records
 * @param candidatePatientIds patient IDs the site holds (its EMR export's MRNs, or a PACS patient listing)
 * @param pseudonymOf the site's keyed pseudonym of a patient ID (`PatientPseudonymizer.pseudonym`)
 */
export function cohortImagingQuery(data: StudyData, result: StudyDataResult, candidatePatientIds: Iterable<string>, pseudonymOf: (patientId: string) => string): CohortImagingQuery {
  const cohort = new Set(result.rows.map((r) => r.patient));
  const patientIds = [...new Set(candidatePatientIds)].filter((id) => cohort.has(pseudonymOf(id))).sort();
  const sel = data.cohort.imaging;
  return {
    ...(sel?.modality !== undefined ? { modalities: sel.modality } : {}),
    ...(sel?.bodyPart?.length === 1 && sel.bodyPart[0] !== undefined ? { bodyPart: sel.bodyPart[0].toUpperCase() } : {}),
    ...(patientIds.length > 0 ? { patientIds } : {}),
  };
}

/**
 * The dataset's standing PACS query narrowed by a cohort's: the patients are the cohort's (and, when the
 * dataset names patients too, those in both), modalities those both allow, the body part the dataset's or
 * else the cohort's. `undefined` when nothing can match (no cohort patient held here, or no modality in
 * common): then nothing is pulled at all, rather than everything.
 */
export function narrowPacsQuery(base: PacsQuery, cohort: CohortImagingQuery): PacsQuery | undefined {
  const patientIds = cohort.patientIds === undefined ? [] : base.patientIds === undefined ? [...cohort.patientIds] : cohort.patientIds.filter((id) => base.patientIds?.includes(id));
  if (patientIds.length === 0) return undefined;
  let modalities = base.modalities !== undefined ? [...base.modalities] : undefined;
  if (cohort.modalities !== undefined) modalities = modalities === undefined ? [...cohort.modalities] : modalities.filter((m) => cohort.modalities?.includes(m));
  if (modalities?.length === 0) return undefined;
  const bodyPart = base.bodyPart ?? cohort.bodyPart;
  return { ...base, patientIds, ...(modalities !== undefined ? { modalities } : {}), ...(bodyPart !== undefined ? { bodyPart } : {}) };
}
