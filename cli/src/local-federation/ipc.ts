import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import type { StudySummary } from '../../../coordinator/src/study-summary.js';

/** What `tessera coordinator` sends its parent over IPC when it was forked (demo, benches, tests). */
export type CoordinatorIpcMessage =
  /** gRPC (mTLS) is listening on this port. */
  | { kind: 'listening'; port: number }
  /** The REST API and dashboard are listening at this URL. */
  | { kind: 'api'; url: string }
  /** The sites connected now, after any connect or disconnect. */
  | { kind: 'sites'; connected: string[] }
  | { kind: 'event'; event: CoordinatorEvent }
  /** A `--study` finished; its summary. */
  | { kind: 'summary'; summary: StudySummary };

/** Narrows an IPC payload to a {@link CoordinatorIpcMessage} (the parent trusts its own child, but checks the tag). */
export function isCoordinatorIpcMessage(raw: unknown): raw is CoordinatorIpcMessage {
  return typeof raw === 'object' && raw !== null && typeof (raw as { kind?: unknown }).kind === 'string';
}
