import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context.js';
import { errorMessage, IdentityError, TesseraError } from '../../../../shared/src/errors.js';
import type { Logger } from '../../../../shared/src/logging.js';
import type { SiteSessions } from '../../sessions/site-sessions.js';
import type { ModelRepository, UploadStore } from '../../store/blob-store.js';
import type { CoordinatorStore } from '../../store/coordinator-store.js';

/** Who is calling, established from the client certificate. */
export interface PeerIdentity {
  siteId: string;
  serial: string;
  /** Certificate expiry, epoch ms. */
  notAfter: number;
}

/** Verifies a caller's certificate (CA, validity, revocation, role); throws an IdentityError when refused. */
export interface PeerAuthenticator {
  authenticate(certDer: Buffer | undefined, claimedSiteId?: string): PeerIdentity;
}

export interface FederationEndpointDeps {
  sessions: SiteSessions;
  uploads: UploadStore;
  models: ModelRepository;
  store: CoordinatorStore;
  auth: PeerAuthenticator;
  logger: Logger;
  coordinatorId: string;
  /** @default 5000 ms */
  heartbeatIntervalMs: number;
  /** Silence after which a site's stream is closed. @default 4 × heartbeatIntervalMs */
  heartbeatTimeoutMs?: number;
  /** Expected byte length of the update for a pending fit task (its model's size). */
  expectedUpdateBytes(taskId: string): number | undefined;
  /** Observer for bytes moved (benchmarks, metrics). */
  onBytes?: (direction: 'in' | 'out', bytes: number) => void;
  now?: () => number;
  /** Receives store writes that run after a stream ends, so shutdown can wait for them before closing the store. */
  track?: (write: Promise<void>) => void;
  /**
   * Told of every identity refusal the handlers find themselves (a site id in a hello or upload that is not the
   * certificate's); certificate refusals go through {@link PeerAuthenticator}. The coordinator audits them.
   */
  onRefusal?: (refusal: IdentityRefusal) => void;
  /**
   * Whether a site may download a model version: the coordinator MUST pass one (see `studyParticipants`), so a
   * site fetches only models of studies it takes part in. Without it every authenticated site may fetch any
   * version (the transfer benches and tests, which have no studies).
   */
  mayFetchModel?: (siteId: string, modelVersion: string) => Promise<boolean>;
}

/** An identity refusal found by a handler. */
export interface IdentityRefusal {
  /** grpc-js's peer string, e.g. `ipv4:127.0.0.1:53412`. */
  peer: string;
  method: string;
  code: string;
  reason: string;
  /** The site the certificate proves. */
  siteId: string;
}

/** A call whose peer can be identified: every kind of gRPC server call. */
export interface IdentifiableCall {
  getAuthContext(): AuthContext | null;
  getPeer(): string;
}

/** What every RPC handler shares: its dependencies, the clock, the log and the certificate check. */
export interface RpcContext {
  readonly deps: FederationEndpointDeps;
  readonly now: () => number;
  readonly log: Logger;
  /** Verifies the caller's certificate (and the site it claims, if any); logs and rethrows a refusal. */
  authenticate(call: IdentifiableCall, method: string, claimed?: string): PeerIdentity;
  /** Reports an IdentityError a handler threw (site mismatch) to `deps.onRefusal`; other errors are ignored. */
  identityRefused(call: IdentifiableCall, method: string, err: unknown, who: PeerIdentity | undefined): void;
}

/** The DER of the client certificate the TLS handshake accepted, if any. */
export function peerCert(call: { getAuthContext(): AuthContext | null }): Buffer | undefined {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  return raw != null ? Buffer.from(raw) : undefined;
}

/** A Buffer view of decoded protobuf bytes, without copying them. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The shared context of the Federation handlers. */
export function createRpcContext(deps: FederationEndpointDeps): RpcContext {
  const log = deps.logger;
  return {
    deps,
    now: deps.now ?? Date.now,
    log,
    authenticate(call, method, claimed) {
      try {
        return deps.auth.authenticate(peerCert(call), claimed);
      } catch (err) {
        const code = err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN';
        log.warn({ peer: call.getPeer(), method, code, reason: errorMessage(err) }, 'refused call: identity check failed');
        throw err;
      }
    },
    identityRefused(call, method, err, who) {
      if (!(err instanceof IdentityError) || who === undefined) return;
      deps.onRefusal?.({ peer: call.getPeer(), method, code: err.code, reason: err.message, siteId: who.siteId });
    },
  };
}
