import { type KeyObject, X509Certificate } from 'node:crypto';
import { type AuditEntry, type AuditEntryBody, bodyOf, entryHash, GENESIS_HASH } from './audit-entry.js';
import { headMessage, LEDGER_FILE_FORMAT, type LedgerHead, type LedgerHeader } from './ledger-format.js';
import { certificateFingerprint, SIGNATURE_CONTEXT, verifySignature } from './ledger-signer.js';

/**
 * Why a ledger file failed: an entry's content or signature was changed (`edited`), an entry is missing from
 * the middle (`deleted`), entries are out of order (`reordered`), the end of the file is missing
 * (`truncated`), a line is not a ledger record (`malformed`), or a signer is not trusted (`untrusted`).
 */
export type LedgerProblem = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'malformed' | 'untrusted';

/** The first thing wrong with a ledger file. */
export interface LedgerFault {
  problem: LedgerProblem;
  /** The entry concerned (for `deleted`, the first missing one); null when the fault is not about one entry. */
  seq: number | null;
  /** 1-based line of the file where it was found. */
  line: number;
  message: string;
}

/** What {@link verifyLedger} found. */
export interface LedgerVerification {
  ok: boolean;
  /** The header's ledger name (`coordinator:<id>`, `site:<id>`, `ca:<consortium>`). */
  ledger: string | null;
  /** Entries checked and found good before the first fault (all of them when `ok`). */
  entries: number;
  /** The last signed head seen. */
  head: { seq: number; hash: string; at: string } | null;
  /** sha256 fingerprint of the CA certificate the signers were checked against (null when none). */
  caFingerprint: string | null;
  /**
   * True when the signer certificates were checked against a CA or signer certificate the caller supplied.
   * Without it, the file is only consistent with itself: whoever rewrote all of it with their own key would pass.
   */
  anchored: boolean;
  signers: { fingerprint: string; subject: string }[];
  /**
   * False for a selection (a filtered export): its entries verified one by one, but it cannot show that none
   * is missing, so `deleted` and `truncated` are not checked.
   */
  complete: boolean;
  firstBad: LedgerFault | null;
}

/** Options for {@link verifyLedger}. */
export interface VerifyLedgerOptions {
  /** The consortium CA certificate (PEM) every signer must be issued by (or be). */
  caPem?: string;
  /** A signer certificate (PEM) to pin instead of a CA: every entry must be signed by it. */
  signerPem?: string;
  /**
   * Require a signed head after the last entry (exports and site ledgers always have one).
   * @default true
   */
  requireHead?: boolean;
  /**
   * A head noted earlier (from an earlier export, an evidence pack, the REST API): the ledger must still hold
   * entry `seq` with exactly this `hash`. Catches a ledger rewritten or cut back by whoever holds its key.
   */
  expectHead?: { seq: number; hash: string };
}

/** The parsed entries of a ledger file and its verification. */
export interface VerifiedLedger {
  report: LedgerVerification;
  /** Entries before the first fault (every entry when `report.ok`). */
  entries: AuditEntry[];
  header: LedgerHeader | null;
}

type Line = { n: number; value: unknown; raw: string };

const HEX64 = /^[0-9a-f]{64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function asEntry(v: Record<string, unknown>): AuditEntry | null {
  const { type: _t, ...rest } = v;
  const ok =
    typeof rest['v'] === 'number' &&
    Number.isInteger(rest['seq']) &&
    (rest['seq'] as number) >= 1 &&
    typeof rest['at'] === 'string' &&
    typeof rest['actor'] === 'string' &&
    typeof rest['kind'] === 'string' &&
    isRecord(rest['details']) &&
    typeof rest['prev'] === 'string' &&
    typeof rest['hash'] === 'string' &&
    typeof rest['signer'] === 'string' &&
    typeof rest['sig'] === 'string' &&
    (rest['studyId'] === undefined || typeof rest['studyId'] === 'string') &&
    (rest['siteId'] === undefined || typeof rest['siteId'] === 'string') &&
    (rest['round'] === undefined || Number.isInteger(rest['round']));
  return ok ? (rest as unknown as AuditEntry) : null;
}

function asHead(v: Record<string, unknown>): LedgerHead | null {
  const ok =
    typeof v['ledger'] === 'string' &&
    Number.isInteger(v['seq']) &&
    typeof v['hash'] === 'string' &&
    typeof v['at'] === 'string' &&
    typeof v['signer'] === 'string' &&
    typeof v['sig'] === 'string';
  return ok ? (v as unknown as LedgerHead) : null;
}

function asHeader(v: unknown): LedgerHeader | null {
  if (!isRecord(v) || v['type'] !== 'header' || v['format'] !== LEDGER_FILE_FORMAT || v['v'] !== 1) return null;
  if (typeof v['ledger'] !== 'string' || !Array.isArray(v['signers'])) return null;
  const signersOk = v['signers'].every((s) => isRecord(s) && typeof s['fingerprint'] === 'string' && typeof s['certificate'] === 'string');
  if (!signersOk || (v['ca'] !== undefined && typeof v['ca'] !== 'string')) return null;
  if (v['selection'] !== undefined && !isRecord(v['selection'])) return null;
  return v as unknown as LedgerHeader;
}

function safeHash(body: AuditEntryBody): string | null {
  try {
    return entryHash(body);
  } catch {
    return null;
  }
}

/** Checks the header's signer certificates: parse, fingerprint, and issued by the trusted CA when given. */
function checkSigners(
  header: LedgerHeader,
  options: VerifyLedgerOptions,
): { certs: Map<string, KeyObject>; fault: string | null; caFingerprint: string | null; subjects: { fingerprint: string; subject: string }[] } {
  const certs = new Map<string, KeyObject>();
  const subjects: { fingerprint: string; subject: string }[] = [];
  const caPem = options.caPem ?? header.ca;
  let ca: X509Certificate | null;
  try {
    ca = caPem === undefined ? null : new X509Certificate(caPem);
  } catch {
    return { certs, fault: 'the CA certificate cannot be parsed', caFingerprint: null, subjects };
  }
  const caFingerprint = caPem === undefined ? null : certificateFingerprint(caPem);
  const pinned = options.signerPem === undefined ? null : certificateFingerprint(options.signerPem);
  for (const s of header.signers) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(s.certificate);
    } catch {
      return { certs, fault: `signer ${s.fingerprint.slice(0, 16)}… has a certificate that cannot be parsed`, caFingerprint, subjects };
    }
    const fp = certificateFingerprint(s.certificate);
    if (fp !== s.fingerprint) return { certs, fault: `signer ${s.fingerprint.slice(0, 16)}… does not match its certificate`, caFingerprint, subjects };
    if (pinned !== null && fp !== pinned) return { certs, fault: `signer ${cert.subject} is not the pinned signer certificate`, caFingerprint, subjects };
    if (ca !== null && fp !== caFingerprint && !(cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      return { certs, fault: `signer ${cert.subject.replaceAll('\n', ', ')} was not issued by the CA`, caFingerprint, subjects };
    }
    certs.set(fp, cert.publicKey);
    subjects.push({ fingerprint: fp, subject: cert.subject.replaceAll('\n', ', ') });
  }
  return { certs, fault: null, caFingerprint, subjects };
}

/**
 * Verifies a ledger file (JSONL: a header, entries, signed heads) offline and names the first bad entry. Checks,
 * line by line: each entry's hash against its content (`edited`), its signature against a certificate from the
 * header that the trusted CA issued (`edited` / `untrusted`), its `seq` against the position (`deleted` when
 * an entry is missing, `reordered` when the missing one comes later), its `prev` against the previous entry's
 * hash, and every head against the entries before it; and that the file ends with a signed head (`truncated`).
 * Never throws for bad input.
 */
export function verifyLedger(text: string, options: VerifyLedgerOptions = {}): VerifiedLedger {
  const raw = text.split('\n');
  const endsClean = text.endsWith('\n');
  if (endsClean) raw.pop();
  const lines: Line[] = [];
  const report: LedgerVerification = {
    ok: false,
    ledger: null,
    entries: 0,
    head: null,
    caFingerprint: null,
    anchored: false,
    signers: [],
    complete: true,
    firstBad: null,
  };
  const entries: AuditEntry[] = [];
  const fail = (problem: LedgerProblem, seq: number | null, line: number, message: string): VerifiedLedger => {
    report.firstBad = { problem, seq, line, message };
    report.entries = entries.length;
    return { report, entries, header };
  };
  let header: LedgerHeader | null = null;
  // A last line cut mid-way (no newline, not JSON): the lines before it are still verified, so the report
  // says how many entries held before the cut, and the cut itself is the failure.
  let cutLine: number | null = null;
  for (let i = 0; i < raw.length; i++) {
    const rawLine = raw[i] ?? '';
    if (rawLine.trim() === '' && i === raw.length - 1) continue;
    try {
      lines.push({ n: i + 1, value: JSON.parse(rawLine) as unknown, raw: rawLine });
    } catch {
      const last = i === raw.length - 1;
      if (last && !endsClean) {
        cutLine = i + 1;
        break;
      }
      return fail('malformed', null, i + 1, `line ${i + 1} is not JSON`);
    }
  }
  if (cutLine !== null && lines.length === 0) return fail('truncated', null, cutLine, `line ${cutLine} is cut off: the file was truncated`);
  header = asHeader(lines[0]?.value);
  if (header === null) return fail('malformed', null, 1, `line 1 is not a ${LEDGER_FILE_FORMAT} header`);
  report.ledger = header.ledger;
  const selection = header.selection !== undefined;
  report.complete = !selection;
  const signers = checkSigners(header, options);
  report.caFingerprint = signers.caFingerprint;
  report.signers = signers.subjects;
  report.anchored = options.caPem !== undefined || options.signerPem !== undefined;
  if (signers.fault !== null) return fail('untrusted', null, 1, signers.fault);

  let lastSeq = 0;
  let lastHash = GENESIS_HASH;
  let lastWasHead = false;
  for (let i = 1; i < lines.length; i++) {
    const { n, value } = lines[i] as Line;
    if (!isRecord(value)) return fail('malformed', null, n, `line ${n} is not a ledger record`);
    if (value['type'] === 'head') {
      const head = asHead(value);
      if (head === null) return fail('malformed', null, n, `line ${n} is not a well-formed head`);
      const cert = signers.certs.get(head.signer);
      if (cert === undefined) return fail('untrusted', null, n, `the head on line ${n} names a signer not in the header`);
      if (head.ledger !== header.ledger || !verifySignature(cert, SIGNATURE_CONTEXT.head, headMessage(head), head.sig)) {
        return fail('edited', head.seq, n, `the head on line ${n} was edited: its signature does not verify`);
      }
      const isLast = i === lines.length - 1;
      if (head.seq > lastSeq) {
        const missing = `entries #${lastSeq + 1}..#${head.seq}`;
        return isLast
          ? fail('truncated', lastSeq + 1, n, `the file was truncated: its signed head covers ${head.seq} entries but only ${lastSeq} precede it (${missing} missing)`)
          : fail('deleted', lastSeq + 1, n, `${missing} were deleted: the signed head on line ${n} covers ${head.seq} entries`);
      }
      if (head.seq < lastSeq) {
        return fail('reordered', head.seq + 1, n, `entry #${head.seq + 1} comes before the signed head on line ${n} that ends at #${head.seq}`);
      }
      if (head.hash !== lastHash) {
        return fail('edited', lastSeq, n, `entry #${lastSeq} was replaced: the signed head on line ${n} names a different hash`);
      }
      report.head = { seq: head.seq, hash: head.hash, at: head.at };
      lastWasHead = true;
      continue;
    }
    if (value['type'] !== 'entry') return fail('malformed', null, n, `line ${n} is not a ledger record`);
    const entry = asEntry(value);
    if (entry === null) return fail('malformed', null, n, `line ${n} is not a well-formed entry`);
    const seqLabel = `entry #${entry.seq} (line ${n})`;
    if (safeHash(bodyOf(entry)) !== entry.hash || !HEX64.test(entry.hash)) {
      return fail('edited', entry.seq, n, `${seqLabel} was edited: its content does not match its hash`);
    }
    const cert = signers.certs.get(entry.signer);
    if (cert === undefined) return fail('untrusted', entry.seq, n, `${seqLabel} names a signer not in the header`);
    if (!verifySignature(cert, SIGNATURE_CONTEXT.entry, entry.hash, entry.sig)) {
      return fail('edited', entry.seq, n, `${seqLabel} was edited: its signature does not verify (the hash was recomputed)`);
    }
    if (selection) {
      // A selection: entries verify one by one; order is still checked, and links where seqs are adjacent.
      if (entry.seq <= lastSeq) return fail('reordered', entry.seq, n, `entries were reordered: ${seqLabel} comes after #${lastSeq}`);
      if (entry.seq === lastSeq + 1 && lastSeq > 0 && entry.prev !== lastHash) {
        return fail('edited', lastSeq, n, `entry #${lastSeq} was replaced: ${seqLabel} links to a different predecessor`);
      }
      entries.push(entry);
      lastSeq = entry.seq;
      lastHash = entry.hash;
      continue;
    }
    const expected = lastSeq + 1;
    if (entry.seq !== expected) {
      const later = lines.slice(i + 1).some((l) => isRecord(l.value) && l.value['type'] === 'entry' && l.value['seq'] === expected);
      if (entry.seq < expected || later) {
        return fail('reordered', expected, n, `entries were reordered: ${seqLabel} appears where entry #${expected} belongs`);
      }
      const missing = entry.seq - 1 === expected ? `entry #${expected} was` : `entries #${expected}..#${entry.seq - 1} were`;
      return fail('deleted', expected, n, `${missing} deleted: the chain jumps from #${lastSeq} to #${entry.seq} at line ${n}`);
    }
    if (entry.prev !== lastHash) {
      return fail('edited', lastSeq, n, `entry #${lastSeq} was replaced: ${seqLabel} links to a different predecessor`);
    }
    entries.push(entry);
    lastSeq = entry.seq;
    lastHash = entry.hash;
    lastWasHead = false;
  }
  if (cutLine !== null) {
    return fail('truncated', selection ? null : lastSeq + 1, cutLine, `line ${cutLine} is cut off: the file was truncated after entry #${lastSeq}`);
  }
  if ((options.requireHead ?? true) && !selection && !lastWasHead) {
    const lastLine = lines[lines.length - 1]?.n ?? 1;
    return fail('truncated', lastSeq + 1, lastLine, `the file was truncated: it ends after entry #${lastSeq} without a signed head`);
  }
  const expected = options.expectHead;
  if (expected !== undefined && expected.seq > 0) {
    const noted = `the head noted earlier (#${expected.seq} ${expected.hash.slice(0, 16)}…)`;
    const at = entries.find((e) => e.seq === expected.seq);
    const lastLine = lines[lines.length - 1]?.n ?? 1;
    if (at === undefined) {
      return fail('truncated', lastSeq + 1, lastLine, `the ledger was cut back: it ends at entry #${lastSeq}, before ${noted}`);
    }
    if (at.hash !== expected.hash) {
      return fail('edited', expected.seq, lastLine, `the ledger was rewritten: entry #${expected.seq} has hash ${at.hash.slice(0, 16)}…, not ${noted}`);
    }
  }
  report.ok = true;
  report.entries = entries.length;
  return { report, entries, header };
}
