import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AuditKind, canonicalJson, certificateFingerprint, LedgerSigner, verifyLedger, type AuditEntry, type JsonValue } from '../../../shared/src/audit/index.js';
import type { CoordinatorConfig } from '../../../shared/src/config/coordinator-config.js';
import { errorMessage, TesseraError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { type RevocationList } from '../../../shared/src/pki/index.js';
import { ProvisionLedgerLayout } from '../pki/index.js';
import type { PeerAuthenticator } from '../grpc/federation-endpoint.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import type { AuditLedger } from './audit-ledger.js';
import { auditingStore, auditReason } from './auditing-store.js';
import { peerAddress, RefusalAggregator } from './refusal-aggregator.js';
import { SqliteAuditLedger } from './sqlite-audit-ledger.js';

/** File name of the provisioning ledger copy that `tessera provision` puts in the coordinator's folder. */
export const PROVISION_LEDGER_FILE = path.basename(ProvisionLedgerLayout.coordinatorCopy);

/** Options for {@link CoordinatorAudit.open}. */
export interface CoordinatorAuditOptions {
  config: CoordinatorConfig;
  /** The coordinator's SQLite file. */
  databaseFile: string;
  caPem: string;
  certPem: string;
  keyPem: string | Buffer;
  /** Absolute path of the coordinator certificate: the provisioning ledger copy is looked for next to it. */
  certPath: string;
  logger: Logger;
  now: () => number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;

/** CN, serial and fingerprint of a presented (possibly refused) client certificate; undefined if unparsable. */
function presentedCertificate(der: Buffer | undefined): { cn: string | undefined; serial: string; fingerprint: string } | undefined {
  if (der === undefined) return undefined;
  try {
    const cert = new X509Certificate(der);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    return { cn, serial: cert.serialNumber.toLowerCase(), fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase() };
  } catch {
    return undefined;
  }
}

/**
 * The coordinator's side of the audit ledger: opens the signed ledger in the coordinator's database and
 * connects it to the coordinator's existing seams — the store (via {@link auditingStore}), the site
 * authenticator (refusals), the revocation list (reloads) — and records start, configuration changes,
 * the provisioning ledger's head, and stop. No round-workflow code is involved.
 */
export class CoordinatorAudit {
  private revokedSerials = new Set<string>();
  private readonly actor: string;
  private readonly pending = new Set<Promise<unknown>>();
  /** Identity refusals, aggregated per peer and reason (see {@link RefusalAggregator}). */
  private readonly refusals: RefusalAggregator;

  private constructor(
    /** The ledger itself: what the REST API lists and exports. */
    readonly ledger: SqliteAuditLedger,
    private readonly options: CoordinatorAuditOptions,
  ) {
    this.actor = `coordinator:${options.config.coordinatorId}`;
    this.refusals = new RefusalAggregator((input) => this.appendInBackground(input), { now: options.now });
  }

  /** Throws AuditError `TESSERA_AUDIT_SIGNER_INVALID` when the coordinator's key and certificate do not match. */
  static async open(options: CoordinatorAuditOptions): Promise<CoordinatorAudit> {
    const signer = LedgerSigner.fromPem(options.keyPem, options.certPem);
    const ledger = await SqliteAuditLedger.open({
      file: options.databaseFile,
      name: `coordinator:${options.config.coordinatorId}`,
      signer,
      caPem: options.caPem,
      now: options.now,
    });
    return new CoordinatorAudit(ledger, options);
  }

  /** The store, with every security-relevant write recorded. */
  wrapStore(store: CoordinatorStore): CoordinatorStore {
    return auditingStore(store, this.ledger, this.actor, this.options.logger);
  }

  /** The authenticator, with every refused identity recorded as `site.refused`. */
  wrapAuthenticator(auth: PeerAuthenticator): PeerAuthenticator {
    return {
      authenticate: (certDer, claimedSiteId) => {
        try {
          return auth.authenticate(certDer, claimedSiteId);
        } catch (err) {
          const code = err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN';
          const presented = presentedCertificate(certDer);
          // Who it claims to be: the hello's site id, else the refused certificate's CN (neither is proven).
          const who = [claimedSiteId, presented?.cn].find((id) => id !== undefined && ID.test(id));
          this.refusals.record({
            source: 'grpc',
            // No address reaches the authenticator: the presented certificate stands for the peer.
            peer: presented ? `cert:${presented.fingerprint.slice(0, 16)}` : 'no-certificate',
            code,
            entry: {
              actor: who !== undefined ? `site:${who}` : 'unauthenticated',
              kind: AuditKind.SiteRefused,
              ...(who !== undefined ? { siteId: who } : {}),
              details: {
                code,
                reason: auditReason(errorMessage(err)),
                ...(presented ? { certSerial: presented.serial, certFingerprint: presented.fingerprint } : {}),
              },
            },
          });
          throw err;
        }
      },
    };
  }

  /**
   * Records a refusal the authenticator did not see: a site claiming another site's id in its hello or upload
   * (`grpc`), or a client certificate OpenSSL rejected in the handshake (`tls`). Aggregated per peer address and
   * code, like every identity refusal.
   */
  recordRefusal(r: { source: 'tls' | 'grpc'; peer: string; code: string; reason: string; method?: string; siteId?: string }): void {
    const site = r.siteId !== undefined && ID.test(r.siteId) ? r.siteId : undefined;
    this.refusals.record({
      source: r.source,
      peer: peerAddress(r.peer),
      code: r.code,
      entry: {
        actor: site !== undefined ? `site:${site}` : 'unauthenticated',
        kind: AuditKind.SiteRefused,
        ...(site !== undefined ? { siteId: site } : {}),
        details: { code: r.code, reason: auditReason(r.reason), ...(r.method !== undefined ? { method: r.method } : {}) },
      },
    });
  }

  /** Closes the refusal aggregation window now (its counts become ledger entries) and waits for the appends. */
  async flushRefusals(): Promise<void> {
    this.refusals.flush();
    await Promise.allSettled([...this.pending]);
  }

  /** Records a revocation list taken into force: at start all of it, on reload the newly revoked entries. */
  revocationsLoaded(list: RevocationList, atStart: boolean): void {
    const fresh = list.revoked.filter((r) => !this.revokedSerials.has(r.serial));
    this.revokedSerials = new Set(list.revoked.map((r) => r.serial));
    if (!atStart) {
      // `tessera revoke` also continued the provisioning ledger; record its new head with the reload.
      this.anchorProvisioning().catch((err: unknown) => this.options.logger.error({ err: errorMessage(err) }, 'provisioning ledger not anchored'));
    }
    if (!atStart && fresh.length === 0) return;
    this.appendInBackground({
      actor: this.actor,
      kind: AuditKind.RevocationsLoaded,
      details: {
        updatedAt: list.updatedAt,
        issuer: list.issuer,
        revokedCount: list.revoked.length,
        ...(atStart ? { atStart: true } : {}),
        newlyRevoked: fresh.slice(0, 100).map((r) => ({ id: r.id, serial: r.serial, revokedAt: r.revokedAt, reason: auditReason(r.reason) ?? '' })),
      },
    });
  }

  /** Appends `coordinator.started`, a `config.changed` when the configuration differs from the last start, and the provisioning head. */
  async recordStart(listenPort: number): Promise<void> {
    const { config, certPem, caPem } = this.options;
    const configJson = JSON.parse(JSON.stringify(config)) as JsonValue;
    const configSha256 = createHash('sha256').update(canonicalJson(configJson)).digest('hex');
    const previous = await this.lastOf(AuditKind.CoordinatorStarted);
    const cert = new X509Certificate(certPem);
    await this.ledger.append({
      actor: this.actor,
      kind: AuditKind.CoordinatorStarted,
      details: {
        listen: `${config.listen.host}:${listenPort}`,
        configSha256,
        certSerial: cert.serialNumber.toLowerCase(),
        certFingerprint: certificateFingerprint(certPem),
        caFingerprint: certificateFingerprint(caPem),
      },
    });
    const before = previous?.details['configSha256'];
    if (previous === undefined || before !== configSha256) {
      const details = { ...(typeof before === 'string' ? { previousSha256: before } : { first: true }), configSha256 };
      try {
        await this.ledger.append({ actor: this.actor, kind: AuditKind.ConfigChanged, details: { ...details, config: configJson } });
      } catch {
        // A configuration too large for one entry (very long paths): its hash still pins it.
        await this.ledger.append({ actor: this.actor, kind: AuditKind.ConfigChanged, details });
      }
    }
    await this.anchorProvisioning();
  }

  /** Records the provisioning ledger's head (copied next to the coordinator certificate) when it is new. */
  private async anchorProvisioning(): Promise<void> {
    const file = path.join(path.dirname(this.options.certPath), PROVISION_LEDGER_FILE);
    if (!existsSync(file)) return;
    const { report } = verifyLedger(readFileSync(file, 'utf8'), { caPem: this.options.caPem });
    const previous = await this.lastOf(AuditKind.ProvisionAnchored);
    if (report.ok && previous?.details['hash'] === report.head?.hash) return;
    if (!report.ok) this.options.logger.error({ file, problem: report.firstBad?.message }, 'provisioning ledger does not verify');
    await this.ledger.append({
      actor: this.actor,
      kind: AuditKind.ProvisionAnchored,
      details: {
        ok: report.ok,
        ledger: report.ledger,
        entries: report.entries,
        seq: report.head?.seq ?? null,
        hash: report.head?.hash ?? null,
        ...(report.firstBad !== null ? { problem: report.firstBad.problem, message: auditReason(report.firstBad.message) ?? '' } : {}),
      },
    });
  }

  /**
   * Observes the coordinator's events for what the store does not see: a site's privacy budget after a DP fit
   * (`site-privacy`, emitted by the differential-privacy round code) becomes a `privacy.spent` entry with the
   * site's cumulative ε (`epsilonTotal`). Events of other types are ignored. Never throws.
   */
  observeEvent(event: { type: string }): void {
    if (event.type !== 'site-privacy') return;
    const e = event as { type: string; studyId?: unknown; siteId?: unknown; round?: unknown; epsilon?: unknown; delta?: unknown; accountant?: unknown; dpRounds?: unknown };
    const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    if (typeof e.studyId !== 'string' || typeof e.siteId !== 'string' || !ID.test(e.siteId) || !ID.test(e.studyId)) return;
    this.appendInBackground({
      actor: `site:${e.siteId}`,
      kind: AuditKind.PrivacySpent,
      studyId: e.studyId,
      siteId: e.siteId,
      ...(typeof e.round === 'number' && Number.isInteger(e.round) && e.round >= 0 ? { round: e.round } : {}),
      details: {
        epsilonTotal: finite(e.epsilon),
        delta: finite(e.delta),
        accountant: typeof e.accountant === 'string' ? e.accountant.slice(0, 32) : null,
        dpRounds: finite(e.dpRounds),
      },
    });
  }

  async recordStop(): Promise<void> {
    this.refusals.close();
    await Promise.allSettled([...this.pending]);
    await this.ledger.append({ actor: this.actor, kind: AuditKind.CoordinatorStopped, details: {} });
  }

  private async lastOf(kind: string): Promise<AuditEntry | undefined> {
    let last: AuditEntry | undefined;
    let afterSeq = 0;
    for (;;) {
      const page = await this.ledger.list({ kind }, { afterSeq, limit: 1000 });
      last = page.entries.at(-1) ?? last;
      if (page.nextAfterSeq === null) return last;
      afterSeq = page.nextAfterSeq;
    }
  }

  private appendInBackground(input: Parameters<AuditLedger['append']>[0]): void {
    const write = this.ledger.append(input).catch((err: unknown) => {
      this.options.logger.error({ kind: input.kind, err: errorMessage(err) }, 'audit entry not recorded');
    });
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  async close(): Promise<void> {
    this.refusals.close();
    await Promise.allSettled([...this.pending]);
    await this.ledger.close();
  }
}
