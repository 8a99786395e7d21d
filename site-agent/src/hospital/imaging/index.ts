/** The clinical image pipeline: a de-identified DICOM instance → model input tensors (see `preprocess.ts`). */
export { CODEC_TRANSFER_SYNTAXES, NATIVE_TRANSFER_SYNTAXES, checkPixelData, decodeFrame, nativeByteLength, type DecodedColour, type PixelCheck } from './decode.js';
export { ImagePipelineError, ImageRejection } from './errors.js';
export { framesToDecode, maxIntensity } from './frames.js';
export { applyModalityLut, lookUp, modalityRange, modalityTransformOf, readLutItem, type LutTable, type ModalityTransform } from './modality-lut.js';
export { compilePreprocessOptions, isCompiledPreprocessOptions, type CompiledPreprocessOptions, type FramePolicy, type PreprocessOptions, type VoiFallbackPolicy } from './options.js';
export { colourToUnit, greyToRgb, invertMonochrome1, rgbToGrey, toChannels } from './photometric.js';
export { preprocessInstance, type ImageMetadata, type PipelineReason, type PipelineStep, type PipelineStepName, type PreprocessResult } from './preprocess.js';
export { axisTaps, fitImage, placement, resampleImage, type FitMode, type Placement } from './resample.js';
export { NAMED_WINDOWS, applyRescaleAndVoi, applyVoi, frameTransform, percentiles, resolveVoi, type FusableVoi, type NamedWindow, type RescaleOrIdentity, type VoiFunction, type VoiSource, type VoiTransform } from './voi-lut.js';
export { expandSegmented, paletteToUnit, readPalette, type Palette } from './palette.js';
export { modelInputPreprocessor, preprocessToModelInput, type ModelInput, type ModelInputDefaults } from './model-input.js';
