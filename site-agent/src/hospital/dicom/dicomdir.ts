/**
 * DICOMDIR (PS3.10 media storage directory, PS3.3 F.5): the directory records of a parsed DICOMDIR file.
 * Only structure is returned (record type, referenced file, referenced instance): the patient and study
 * attributes the records also carry are identifying and stay inside the parsed data set.
 */
import { InputError } from '../../../../shared/src/errors.js';
import { getString, type DicomDataset } from './dataset.js';
import { Tags, tag } from './dictionary.js';
import type { ParsedDicom } from './parse.js';

/** One directory record. */
export interface DicomdirRecord {
  /** Directory Record Type (0004,1430): PATIENT, STUDY, SERIES, IMAGE, SR DOCUMENT, … */
  readonly type: string;
  /** Referenced File ID (0004,1500) joined with `/`, relative to the DICOMDIR's folder; absent for PATIENT/STUDY/SERIES. */
  readonly file?: string;
  /** Referenced SOP Instance UID in File (0004,1511). */
  readonly sopInstanceUid?: string;
}

const REFERENCED_FILE_ID = tag(0x0004, 0x1500);
const REFERENCED_SOP_INSTANCE_IN_FILE = tag(0x0004, 0x1511);

/** Lists the records of a DICOMDIR in file order. Throws {@link InputError} `TESSERA_INPUT_DICOM_INVALID` for a file that is not one. */
export function readDicomdir(parsed: ParsedDicom, source: string): DicomdirRecord[] {
  const records = parsed.dataset.get(Tags.DirectoryRecordSequence)?.items;
  if (!parsed.isDicomdir || records === undefined) {
    throw new InputError('TESSERA_INPUT_DICOM_INVALID', `${source}: not a DICOMDIR (no Directory Record Sequence)`, { source });
  }
  return records.map((item: DicomDataset) => {
    const type = getString(item, Tags.DirectoryRecordType) ?? '';
    const file = getString(item, REFERENCED_FILE_ID);
    const uid = getString(item, REFERENCED_SOP_INSTANCE_IN_FILE);
    return {
      type,
      ...(file !== undefined && file !== '' ? { file: file.split('\\').map((p) => p.trim()).join('/') } : {}),
      ...(uid !== undefined && uid !== '' ? { sopInstanceUid: uid } : {}),
    };
  });
}
