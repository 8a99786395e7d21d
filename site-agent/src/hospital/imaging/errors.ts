/**
 * Why an instance cannot become a model input. Each reason is one {@link ImagePipelineError} code, so a
 * report (`tessera data check`, the ingest log) can list skipped instances by reason without parsing text.
 */
import { InputError } from '../../../../shared/src/errors.js';

/** The reasons the pipeline refuses an instance; each maps to one error code. */
export const ImageRejection = {
  /** The transfer syntax has no bundled decoder (12-bit JPEG extended, JPEG-XL, MPEG, video…). */
  UnsupportedTransferSyntax: 'unsupported-transfer-syntax',
  /** Native Pixel Data is shorter or longer than rows × columns × frames × samples × bits allocated. */
  PixelLength: 'pixel-length',
  /** Rows, Columns or Number of Frames is zero, or there is no Pixel Data at all. */
  ZeroSize: 'zero-size',
  /** The study asks for the header's window and the instance has none (and no fallback is allowed). */
  MissingWindow: 'missing-window',
  /** A pixel description the pipeline does not handle (bits, samples, photometric interpretation). */
  UnsupportedPixels: 'unsupported-pixels',
  /** The codec rejected the compressed frame. */
  DecodeFailed: 'decode-failed',
} as const;
export type ImageRejection = (typeof ImageRejection)[keyof typeof ImageRejection];

const CODES: Readonly<Record<ImageRejection, `TESSERA_INPUT_${string}`>> = {
  'unsupported-transfer-syntax': 'TESSERA_INPUT_IMAGE_TRANSFER_SYNTAX',
  'pixel-length': 'TESSERA_INPUT_IMAGE_PIXEL_LENGTH',
  'zero-size': 'TESSERA_INPUT_IMAGE_ZERO_SIZE',
  'missing-window': 'TESSERA_INPUT_IMAGE_NO_WINDOW',
  'unsupported-pixels': 'TESSERA_INPUT_IMAGE_UNSUPPORTED',
  'decode-failed': 'TESSERA_INPUT_IMAGE_DECODE',
};

/**
 * Thrown by the image pipeline when an instance cannot become a tensor. `reason` is the machine-readable
 * cause; the message names the source (a pseudonymous id or a file name the caller passes) and the
 * attribute at fault, never a pixel or header value that could identify a patient.
 */
export class ImagePipelineError extends InputError {
  readonly reason: ImageRejection;

  constructor(reason: ImageRejection, source: string, message: string, context: Record<string, string | number | boolean> = {}, options?: ErrorOptions) {
    super(CODES[reason], `${source}: ${message}`, { source, reason, ...context }, options);
    this.reason = reason;
  }
}
