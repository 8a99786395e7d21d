/**
 * What a PACS source is to the agent: a search that lists instances, and a retrieval that hands each
 * instance's bytes to the de-identification gate. Implementations: DICOMweb (dicomweb-source.ts) and DIMSE
 * (dimse-source.ts).
 */
import type { PacsQuery } from '../../../../shared/src/config/agent-config.js';

/** One instance as the PACS knows it (original, identifying UIDs: never logged, never reported). */
export interface InstanceRef {
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopUid: string;
  /** SOP Class UID when the search returned it (DIMSE proposes presentation contexts from it). */
  readonly sopClassUid?: string;
}

/** Why one instance (or one search) gave nothing; stable codes for reports. */
export type PacsFailureCode =
  | 'unreachable'
  | 'timeout'
  | 'connection-reset'
  | 'http-status'
  | 'too-large'
  | 'not-dicom'
  | 'multipart'
  | 'dimse-status'
  | 'not-found';

/** A retrieval's outcome for one instance; `bytes` is the Part 10 instance, still identified: gate it, keep it nowhere. */
export type RetrieveOutcome = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly code: PacsFailureCode; readonly message: string };

/** Result of a search: the instances found, and what went wrong on the way (a failed sub-search does not stop the rest). */
export interface PacsSearchResult {
  readonly instances: readonly InstanceRef[];
  readonly problems: readonly { readonly code: PacsFailureCode; readonly message: string }[];
}

/**
 * A PACS the agent pulls from. Implementations MUST keep to the source's concurrency and rate limits, MUST write
 * identified bytes only into the incoming folder they are given and remove each file once `deliver` has
 * returned, and MUST report every instance of `refs` to `deliver` exactly once (as bytes or as a failure).
 */
export interface PacsSource {
  readonly kind: 'dicomweb' | 'dimse';
  /** Lists the instances matching `query`. Throws `PacsError` only when the PACS cannot be searched at all. */
  search(query: PacsQuery): Promise<PacsSearchResult>;
  /** Retrieves `refs`; `deliver` is awaited before the instance's temporary file is removed. */
  retrieve(refs: readonly InstanceRef[], incoming: string, deliver: (ref: InstanceRef, outcome: RetrieveOutcome) => Promise<void>): Promise<void>;
  /** Releases sockets and servers. */
  close(): Promise<void>;
}
