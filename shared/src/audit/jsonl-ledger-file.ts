import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { AuditError } from '../errors.js';
import type { AuditEntry, AuditEntryInput } from './audit-entry.js';
import { entryLine, ledgerHeader, type LedgerHead, recordLine, sealEntry, signHead } from './ledger-format.js';
import type { LedgerSigner } from './ledger-signer.js';
import { verifyLedger } from './verify-ledger.js';

/** Options for {@link JsonlLedgerFile.open}. */
export interface JsonlLedgerFileOptions {
  /** The ledger file; created (mode 0600) when missing. */
  path: string;
  /** Ledger name, e.g. `site:<id>`. */
  ledger: string;
  signer: LedgerSigner;
  /** The consortium CA certificate (PEM), written into the header and used to check an existing file. */
  caPem: string;
  /** Clock. @default () => new Date() */
  now?: () => Date;
}

/**
 * A signed hash chain kept in an append-only JSONL file: the site agent's ledger and the provisioning ledger.
 * The file is always a valid ledger file as {@link verifyLedger} reads it: a header, then per append one
 * entry line and one signed head line (a checkpoint), written with one `write` and an fsync.
 *
 * Opening an existing file verifies it first and refuses to continue a chain that does not verify
 * (AuditError `TESSERA_AUDIT_LEDGER_INVALID`): appending to a tampered chain would launder it. A signer whose
 * certificate is not yet in the header (a renewed key) cannot continue the file either; start a new file.
 */
export class JsonlLedgerFile {
  private constructor(
    private readonly options: JsonlLedgerFileOptions,
    private last: AuditEntry | null,
  ) {}

  static open(options: JsonlLedgerFileOptions): JsonlLedgerFile {
    if (!existsSync(options.path)) {
      const header = ledgerHeader(options.ledger, [options.signer.certificatePem], options.caPem);
      const head = signHead(options.ledger, null, (options.now ?? (() => new Date()))(), options.signer);
      appendDurably(options.path, recordLine(header) + recordLine(head));
      return new JsonlLedgerFile(options, null);
    }
    const { report, entries, header } = verifyLedger(readFileSync(options.path, 'utf8'), { caPem: options.caPem });
    if (!report.ok) {
      throw new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${options.path}: ${report.firstBad?.message ?? 'does not verify'}; not continuing it`, {
        path: options.path,
      });
    }
    if (header?.ledger !== options.ledger || !header.signers.some((s) => s.fingerprint === options.signer.fingerprint)) {
      throw new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${options.path} belongs to another ledger or signer; not continuing it`, {
        path: options.path,
      });
    }
    return new JsonlLedgerFile(options, entries.at(-1) ?? null);
  }

  /** The last entry, or null for an empty ledger. */
  get lastEntry(): AuditEntry | null {
    return this.last;
  }

  /** Seals, signs and durably appends one entry followed by a signed head. */
  append(input: AuditEntryInput): AuditEntry {
    const { signer, ledger } = this.options;
    const at = (this.options.now ?? (() => new Date()))();
    const entry = sealEntry(input, (this.last?.seq ?? 0) + 1, this.last?.hash ?? '0'.repeat(64), at, signer);
    const head: LedgerHead = signHead(ledger, entry, at, signer);
    appendDurably(this.options.path, entryLine(entry) + recordLine(head));
    this.last = entry;
    return entry;
  }
}

function appendDurably(file: string, text: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
