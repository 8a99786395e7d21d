import { TesseraError } from '../../../../shared/src/errors.js';

/**
 * Thrown by the site-side evaluation of a study's `data:` section: a site mapping file that is invalid
 * (`TESSERA_STUDYDATA_MAPPING`, naming file and line), a contract the site cannot evaluate
 * (`TESSERA_STUDYDATA_INVALID`, naming the study field; `TESSERA_STUDYDATA_NO_SOURCE`, a dataset with no
 * EMR records; `TESSERA_STUDYDATA_NO_LABELER`, report labels without a report labeler;
 * `TESSERA_STUDYDATA_MODEL`, EMR features with no place in the model), or a study this
 * site declines on its data (`TESSERA_STUDYDATA_EMPTY_COHORT`, `TESSERA_STUDYDATA_ONE_CLASS`). Messages
 * carry counts and field names, never a record.
 */
export class StudyDataError extends TesseraError {
  constructor(code: `TESSERA_STUDYDATA_${string}`, message: string, context: Record<string, string | number | boolean> = {}, options?: ErrorOptions) {
    super(code, message, context, options);
  }
}
