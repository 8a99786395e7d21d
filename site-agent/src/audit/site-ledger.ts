import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SiteMessage } from '../../../protos/gen/tessera/v1/SiteMessage.js';
import type { Task__Output } from '../../../protos/gen/tessera/v1/Task.js';
import { AuditKind, JsonlLedgerFile, LedgerSigner, type AuditEntryInput } from '../../../shared/src/audit/index.js';
import type { SiteKit } from '../../../shared/src/config/agent-config.js';
import { errorMessage } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';

/** A protobuf int64 (number, decimal string or Long) as a number. */
function toNumber(value: number | string | { toString(): string } | null | undefined): number {
  if (value == null) return 0;
  return typeof value === 'number' ? value : Number(value.toString());
}

/** Default file name of a site's ledger, in its kit folder. */
export const SITE_LEDGER_FILE = 'audit-ledger.jsonl';

/** Options for {@link SiteLedger.open}. */
export interface SiteLedgerOptions {
  kit: SiteKit;
  kitDir: string;
  /** Ledger file. @default `<kitDir>/audit-ledger.jsonl` */
  file?: string;
  logger: Logger;
  now?: () => Date;
}

/**
 * A site's own signed chain of what it received and sent: tasks (with the hash of the global model they
 * name), the models it trained or evaluated on, each update's sha256 and size, evaluation results and
 * refusals. Signed with the site's key from its kit, so the site can show its record to an auditor and
 * anyone can cross-check it against the coordinator's ledger (`tessera audit cross-check`).
 *
 * Observes the agent's messages only (never data rows or weights); a failure to write is logged and never
 * stops the agent.
 */
export class SiteLedger {
  /** Tasks seen, by id: the model they name, so a sent result can record which model it used. */
  private readonly tasks = new Map<string, { modelVersion: string; modelBytes: number; studyId: string; round: number }>();
  private readonly recorded = new Set<string>();
  private readonly actor: string;

  private constructor(
    private readonly file: JsonlLedgerFile,
    readonly path: string,
    private readonly siteId: string,
    private readonly logger: Logger,
  ) {
    this.actor = `site:${siteId}`;
  }

  /**
   * Opens (or starts) the ledger. Throws AuditError `TESSERA_AUDIT_LEDGER_INVALID` when the existing file does
   * not verify (it is evidence: move it aside to start a new chain) and `TESSERA_AUDIT_SIGNER_INVALID` when the
   * kit's key and certificate do not match.
   */
  static open(options: SiteLedgerOptions): SiteLedger {
    const { kit, kitDir } = options;
    const read = (p: string): string => readFileSync(path.resolve(kitDir, p), 'utf8');
    const signer = LedgerSigner.fromPem(read(kit.key), read(kit.certificate));
    const file = options.file ?? path.join(kitDir, SITE_LEDGER_FILE);
    const ledger = JsonlLedgerFile.open({
      path: file,
      ledger: `site:${kit.siteId}`,
      signer,
      caPem: read(kit.ca),
      ...(options.now ? { now: options.now } : {}),
    });
    return new SiteLedger(ledger, file, kit.siteId, options.logger);
  }

  private append(input: Omit<AuditEntryInput, 'actor'>): void {
    try {
      this.file.append({ actor: this.actor, ...input });
    } catch (err) {
      this.logger.error({ kind: input.kind, err: errorMessage(err) }, 'site audit entry not recorded');
    }
  }

  /** Records the agent's start. */
  started(details: { agentVersion: string; backend: string; coordinator: string; datasets: string[] }): void {
    this.append({ kind: AuditKind.AgentStarted, siteId: this.siteId, details });
  }

  /** Records a task as it arrives (once per task id). */
  taskReceived(task: Task__Output): void {
    if (this.tasks.has(task.taskId)) return;
    this.tasks.set(task.taskId, { modelVersion: task.modelVersion, modelBytes: Number(task.modelBytes), studyId: task.studyId, round: task.round });
    if (this.tasks.size > 256) this.tasks.delete(this.tasks.keys().next().value ?? '');
    this.append({
      kind: AuditKind.TaskReceived,
      studyId: task.studyId,
      siteId: this.siteId,
      round: task.round,
      details: { taskId: task.taskId, taskKind: String(task.kind), modelVersion: task.modelVersion, modelBytes: Number(task.modelBytes) },
    });
  }

  /** Records what a message the agent just sent carried (results and refusals; once per task). */
  sent(message: SiteMessage): void {
    const result = message.result;
    if (result?.taskId != null) {
      const taskId = result.taskId;
      const task = this.tasks.get(taskId);
      const studyId = result.studyId ?? task?.studyId ?? '';
      const round = result.round ?? task?.round ?? 0;
      const base = { studyId, siteId: this.siteId, round };
      const sha = typeof result.updateSha256 === 'string' ? result.updateSha256 : undefined;
      const key = `${taskId}\u0000${sha ?? ''}`;
      if (this.recorded.has(key)) return;
      this.recorded.add(key);
      if (task) {
        // The task's model was downloaded and checked before the task could produce a result: every chunk's
        // sha256 and the whole against the task's model_digest, which the coordinator derives from the bytes it
        // verified against this version id (the flat sha256 recorded here) when it loaded them.
        this.append({ ...base, kind: AuditKind.ModelReceived, details: { taskId, sha256: task.modelVersion, bytes: task.modelBytes } });
      }
      const details =
        sha !== undefined && sha !== ''
          ? { taskId, kind: 'model-update', sha256: sha, bytes: toNumber(result.updateBytes), numExamples: Number(result.numExamples ?? 0) }
          : { taskId, kind: 'evaluation-metrics', numExamples: Number(result.numExamples ?? 0) };
      this.append({ ...base, kind: AuditKind.DataSent, details });
    } else if (message.refusal?.taskId != null) {
      const r = message.refusal;
      const task = this.tasks.get(r.taskId ?? '');
      this.append({
        kind: AuditKind.TaskRefused,
        siteId: this.siteId,
        ...(task ? { studyId: task.studyId, round: task.round } : {}),
        details: { taskId: r.taskId ?? '', code: r.code ?? '' },
      });
    }
  }
}
