/**
 * DICOM tag numbers, transfer syntaxes and a small keyword dictionary (PS3.6) for the attributes Tessera
 * writes itself. This is not a full data dictionary: reading never needs one (explicit VR files carry
 * their VRs; implicit VR files are written back implicit), and de-identification acts on tag numbers.
 */

/** A tag as one unsigned 32-bit number: `(group << 16 | element) >>> 0`. */
export type Tag = number;

/** Builds a {@link Tag} from its group and element numbers. */
export function tag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

/** Group number of a tag. */
export function tagGroup(t: Tag): number {
  return t >>> 16;
}

/** `(GGGG,EEEE)` in upper-case hex, as PS3.6 prints tags. */
export function formatTag(t: Tag): string {
  const hex = t.toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** Parses dicom-parser's `xggggeeee` tag string. */
export function tagFromParserKey(key: string): Tag {
  return Number.parseInt(key.slice(1), 16) >>> 0;
}

/** Private tags have an odd group number (PS3.5 §7.8). Groups 0001, 0003, 0005, 0007 and FFFF are not allowed at all. */
export function isPrivateTag(t: Tag): boolean {
  return (tagGroup(t) & 1) === 1;
}

/** Transfer syntax UIDs (PS3.5 §10, PS3.6 Annex A). */
export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLosslessProcess14: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  Rle: '1.2.840.10008.1.2.5',
} as const;

/** Transfer syntaxes whose data set is encoded natively (not encapsulated pixel data). */
export const NATIVE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
]);

/** SOP classes Tessera writes or recognises by name. */
export const SopClass = {
  SecondaryCaptureImage: '1.2.840.10008.5.1.4.1.1.7',
  UltrasoundImage: '1.2.840.10008.5.1.4.1.1.6.1',
  MediaStorageDirectory: '1.2.840.10008.1.3.10',
} as const;

/** Tags used by name in the code. */
export const Tags = {
  FileMetaInformationGroupLength: tag(0x0002, 0x0000),
  FileMetaInformationVersion: tag(0x0002, 0x0001),
  MediaStorageSOPClassUID: tag(0x0002, 0x0002),
  MediaStorageSOPInstanceUID: tag(0x0002, 0x0003),
  TransferSyntaxUID: tag(0x0002, 0x0010),
  ImplementationClassUID: tag(0x0002, 0x0012),
  ImplementationVersionName: tag(0x0002, 0x0013),
  SpecificCharacterSet: tag(0x0008, 0x0005),
  ImageType: tag(0x0008, 0x0008),
  SOPClassUID: tag(0x0008, 0x0016),
  SOPInstanceUID: tag(0x0008, 0x0018),
  StudyDate: tag(0x0008, 0x0020),
  Modality: tag(0x0008, 0x0060),
  ConversionType: tag(0x0008, 0x0064),
  PatientName: tag(0x0010, 0x0010),
  PatientID: tag(0x0010, 0x0020),
  PatientIdentityRemoved: tag(0x0012, 0x0062),
  DeidentificationMethod: tag(0x0012, 0x0063),
  DeidentificationMethodCodeSequence: tag(0x0012, 0x0064),
  LongitudinalTemporalInformationModified: tag(0x0028, 0x0303),
  StudyInstanceUID: tag(0x0020, 0x000d),
  SeriesInstanceUID: tag(0x0020, 0x000e),
  SamplesPerPixel: tag(0x0028, 0x0002),
  PhotometricInterpretation: tag(0x0028, 0x0004),
  NumberOfFrames: tag(0x0028, 0x0008),
  Rows: tag(0x0028, 0x0010),
  Columns: tag(0x0028, 0x0011),
  BitsAllocated: tag(0x0028, 0x0100),
  BitsStored: tag(0x0028, 0x0101),
  HighBit: tag(0x0028, 0x0102),
  PixelRepresentation: tag(0x0028, 0x0103),
  PlanarConfiguration: tag(0x0028, 0x0006),
  WindowCenter: tag(0x0028, 0x1050),
  WindowWidth: tag(0x0028, 0x1051),
  RescaleIntercept: tag(0x0028, 0x1052),
  RescaleSlope: tag(0x0028, 0x1053),
  BurnedInAnnotation: tag(0x0028, 0x0301),
  DirectoryRecordSequence: tag(0x0004, 0x1220),
  DirectoryRecordType: tag(0x0004, 0x1430),
  PixelData: tag(0x7fe0, 0x0010),
  Item: tag(0xfffe, 0xe000),
  ItemDelimitationItem: tag(0xfffe, 0xe00d),
  SequenceDelimitationItem: tag(0xfffe, 0xe0dd),
} as const;

/**
 * Keyword → tag and VR for the attributes a caller may set by keyword when building a new image
 * ({@link createImageDataset}). PS3.6 Table 6-1.
 */
export const KEYWORDS: Readonly<Record<string, readonly [Tag, string]>> = {
  SpecificCharacterSet: [Tags.SpecificCharacterSet, 'CS'],
  ImageType: [Tags.ImageType, 'CS'],
  SOPClassUID: [Tags.SOPClassUID, 'UI'],
  SOPInstanceUID: [Tags.SOPInstanceUID, 'UI'],
  StudyDate: [Tags.StudyDate, 'DA'],
  SeriesDate: [tag(0x0008, 0x0021), 'DA'],
  AcquisitionDate: [tag(0x0008, 0x0022), 'DA'],
  ContentDate: [tag(0x0008, 0x0023), 'DA'],
  StudyTime: [tag(0x0008, 0x0030), 'TM'],
  SeriesTime: [tag(0x0008, 0x0031), 'TM'],
  ContentTime: [tag(0x0008, 0x0033), 'TM'],
  AccessionNumber: [tag(0x0008, 0x0050), 'SH'],
  Modality: [Tags.Modality, 'CS'],
  ConversionType: [Tags.ConversionType, 'CS'],
  Manufacturer: [tag(0x0008, 0x0070), 'LO'],
  InstitutionName: [tag(0x0008, 0x0080), 'LO'],
  InstitutionAddress: [tag(0x0008, 0x0081), 'ST'],
  ReferringPhysicianName: [tag(0x0008, 0x0090), 'PN'],
  StationName: [tag(0x0008, 0x1010), 'SH'],
  StudyDescription: [tag(0x0008, 0x1030), 'LO'],
  SeriesDescription: [tag(0x0008, 0x103e), 'LO'],
  InstitutionalDepartmentName: [tag(0x0008, 0x1040), 'LO'],
  PerformingPhysicianName: [tag(0x0008, 0x1050), 'PN'],
  OperatorsName: [tag(0x0008, 0x1070), 'PN'],
  PatientName: [Tags.PatientName, 'PN'],
  PatientID: [Tags.PatientID, 'LO'],
  IssuerOfPatientID: [tag(0x0010, 0x0021), 'LO'],
  PatientBirthDate: [tag(0x0010, 0x0030), 'DA'],
  PatientSex: [tag(0x0010, 0x0040), 'CS'],
  OtherPatientIDs: [tag(0x0010, 0x1000), 'LO'],
  PatientAge: [tag(0x0010, 0x1010), 'AS'],
  PatientSize: [tag(0x0010, 0x1020), 'DS'],
  PatientWeight: [tag(0x0010, 0x1030), 'DS'],
  PatientAddress: [tag(0x0010, 0x1040), 'LO'],
  PatientTelephoneNumbers: [tag(0x0010, 0x2154), 'SH'],
  AdditionalPatientHistory: [tag(0x0010, 0x21b0), 'LT'],
  PatientComments: [tag(0x0010, 0x4000), 'LT'],
  BodyPartExamined: [tag(0x0018, 0x0015), 'CS'],
  DeviceSerialNumber: [tag(0x0018, 0x1000), 'LO'],
  StudyInstanceUID: [Tags.StudyInstanceUID, 'UI'],
  SeriesInstanceUID: [Tags.SeriesInstanceUID, 'UI'],
  StudyID: [tag(0x0020, 0x0010), 'SH'],
  SeriesNumber: [tag(0x0020, 0x0011), 'IS'],
  InstanceNumber: [tag(0x0020, 0x0013), 'IS'],
  PatientOrientation: [tag(0x0020, 0x0020), 'CS'],
  Laterality: [tag(0x0020, 0x0060), 'CS'],
  ImageComments: [tag(0x0020, 0x4000), 'LT'],
  BurnedInAnnotation: [Tags.BurnedInAnnotation, 'CS'],
  WindowCenter: [Tags.WindowCenter, 'DS'],
  WindowWidth: [Tags.WindowWidth, 'DS'],
  RescaleIntercept: [Tags.RescaleIntercept, 'DS'],
  RescaleSlope: [Tags.RescaleSlope, 'DS'],
};
