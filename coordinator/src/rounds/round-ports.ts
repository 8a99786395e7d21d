import type { Logger } from '../../../shared/src/logging.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import type { EventSink } from './events.js';
import type { SiteResult, SiteTask, SiteTaskOutcome } from './site-task.js';

/**
 * The round core's line to the sites: dispatch a task, get its outcome (with the reference of the update
 * the site uploaded), learn who is connected and who went away. Production: `GrpcSiteChannel`
 * (coordinator/src/grpc/grpc-site-channel.ts, over SiteSessions); tests: a scripted in-memory channel.
 *
 * Implementations MUST:
 * - resolve `dispatch` exactly once and never reject: a timeout, refusal, invalid result or disconnect is an
 *   outcome (`ok: false`), not an exception;
 * - run `check` on a result before resolving it, and resolve `invalid` with its text when it returns one;
 * - return `connectedSites()` sorted, and call `onChange` listeners after every change of that set;
 * - call `onDisconnect` listeners with the site's id when a connected site's stream ends.
 */
export interface SiteChannel {
  connectedSites(): string[];
  onChange(fn: () => void): () => void;
  onDisconnect(fn: (siteId: string) => void): () => void;
  dispatch(siteId: string, task: SiteTask, timeoutMs: number, check?: (result: SiteResult) => string | null): Promise<SiteTaskOutcome>;
}

/**
 * Uploaded updates as the round reads them (keyed by task id). Production: UploadStore
 * (coordinator/src/store/blob-store.ts); tests: MemoryUpdateStore. `read` MUST refuse an upload that is not
 * complete; `discard` MUST be idempotent.
 */
export interface UpdateSource {
  isComplete(taskId: string, sha256Hex: string): boolean;
  read(taskId: string): Promise<Buffer>;
  discard(taskId: string): Promise<void>;
}

/**
 * Model versions, content-addressed by sha256. Production: ModelRepository; tests: MemoryModelRepository.
 * `put` MUST be durable before it resolves; `get` MUST verify the bytes against the id and throw
 * ModelStoreError (`TESSERA_MODEL_CORRUPT` / `TESSERA_MODEL_MISSING`) otherwise.
 */
export interface ModelStore {
  put(bytes: Uint8Array): Promise<string>;
  get(sha256: string): Promise<Buffer>;
  /** The version's transfer digest (transport/chunks.ts), which tasks carry. */
  transferDigest(sha256: string): Promise<string>;
}

/** Everything one round attempt uses from outside the round core. */
export interface RoundDeps {
  store: CoordinatorStore;
  sites: SiteChannel;
  models: ModelStore;
  uploads: UpdateSource;
  logger: Logger;
  emit: EventSink;
  now: () => number;
  /** Registers the expected update size of a fit task for the upload endpoint's shape check. */
  expectUpdate(taskId: string, bytes: number | undefined): void;
  /** The coordinator shuts down: the round in flight is interrupted (its attempt does not count). */
  signal: AbortSignal;
  /**
   * An operator's pause or abort: a wait for sites ends at once (the attempt is interrupted), no new round
   * or attempt starts, but a round that is running finishes (commits or fails); it is never cut in half.
   */
  stop?: AbortSignal;
  /** The consortium CA certificate (PEM): secure aggregation verifies the sites' signed keys against it. */
  caCertPem: string;
  /**
   * Observer of each unmasked secure sum (mod 2^32: the quantized, prescaled updates and, last, the weight
   * sum) and of the sites in it: what the coordinator legitimately learns. For audit and tests.
   */
  onSecureSum?: (info: { studyId: string; round: number; attempt: number; sum: Uint32Array; contributors: string[] }) => void;
}
