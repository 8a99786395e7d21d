/** DICOM reading, writing and image building (pure: no de-identification here, see site-agent/src/hospital/deid). */
export {
  decodeText,
  encodeText,
  getNumber,
  getString,
  getUint16,
  isStringVr,
  isUtf8Dataset,
  put,
  sequenceElement,
  textElement,
  uint16Element,
  type DicomDataset,
  type DicomElement,
} from './dataset.js';
export { KEYWORDS, SopClass, Tags, TransferSyntax, formatTag, isPrivateTag, tag, type Tag } from './dictionary.js';
export { createImageDataset, randomUid, type ImageInput } from './image.js';
export { readDicomdir, type DicomdirRecord } from './dicomdir.js';
export { decodeModelInput, decodeStoredFrame, pixelDescription, resample, toModelInput, type ModelInputOptions, type PixelDescription, type StoredFrame } from './pixels.js';
export { DICOM_PARSER_OPTIONS, parseDicom, zlibInflater, type ParsedDicom } from './parse.js';
export { concatChunks, encodeDicom, encodeDicomChunks, sweepAtomicTemporaries, writeDicomFile, writeFileAtomic, type EncodeOptions } from './writer.js';
