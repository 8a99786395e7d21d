import { canonicalJson, type JsonValue } from '../../../shared/src/audit/index.js';
import { EvidenceFiles, type EvidencePack } from './evidence-pack.js';

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const e = escapeHtml;

function table(headers: readonly string[], rows: readonly (readonly string[])[], empty = 'none'): string {
  if (rows.length === 0) return `<p class="muted">${e(empty)}</p>`;
  const head = headers.map((h) => `<th>${e(h)}</th>`).join('');
  // Cells arrive escaped (some hold <code>); build them with e() / code().
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const code = (s: string | null | undefined): string => (s == null || s === '' ? '—' : `<code>${e(s)}</code>`);
const short = (hash: string | null | undefined): string => (hash == null || hash === '' ? '—' : `<code title="${e(hash)}">${e(hash.slice(0, 16))}…</code>`);
const json = (v: JsonValue | undefined): string => (v === undefined || v === null ? '—' : `<code>${e(canonicalJson(v))}</code>`);

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.ok{background:#dafbe1;border:1px solid #4ac26b;padding:.6rem 1rem;border-radius:6px}
.bad{background:#ffebe9;border:1px solid #ff8182;padding:.6rem 1rem;border-radius:6px}
.muted{color:#57606a}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
@media print{body{margin:0}h2{break-after:avoid}}`;

function verdict(pack: EvidencePack): string {
  const v = pack.ledger.verification;
  if (!v.ok) {
    const f = v.firstBad;
    return `<div class="bad"><strong>The audit ledger does NOT verify.</strong> ${e(f?.message ?? '')} (problem: ${e(f?.problem ?? '')}, line ${f?.line ?? '?'}). Entries after that point are not used in this pack.</div>`;
  }
  const anchor = v.anchored ? 'against the consortium CA certificate' : 'against the CA certificate embedded in the file (not pinned)';
  return `<div class="ok"><strong>The audit ledger verifies</strong>: ${v.entries} entries, hash chain intact, every entry signed, signed head #${v.head?.seq ?? 0} (${short(v.head?.hash)}), checked ${e(anchor)}; CA fingerprint ${code(v.caFingerprint)}.</div>`;
}

/** A self-contained, printable HTML page of an evidence pack (no scripts, no external assets). */
export function renderEvidenceHtml(pack: EvidencePack): string {
  const { study, contract, privacy } = pack;
  const sites = table(
    ['site', 'certificate serial', 'updates sent', 'rounds contributed', 'dropped / refused'],
    pack.sites.map((s) => [
      e(s.id),
      code(s.certSerial),
      String(s.updatesSent),
      e(s.roundsContributed.join(', ') || '—'),
      s.dropped.map((d) => `round ${d.round ?? '?'} ${e(d.phase)}: ${e(d.outcome)}${d.reason ? ` (${e(d.reason)})` : ''} [#${d.seq}]`).join('<br>') || '—',
    ]),
  );
  const epsilon = table(
    ['site', 'ε spent', 'δ', 'rounds', 'method'],
    privacy.epsilonSpent.map((p) => [e(p.siteId), p.epsilon.toFixed(4), p.delta === null ? '—' : String(p.delta), String(p.rounds), e(p.method)]),
    privacy.note,
  );
  const lineage = table(
    ['round', 'attempt', 'from model', 'model version (sha256)', 'updates aggregated (site: sha256, bytes)', 'metrics', 'ledger'],
    pack.modelLineage.map((l) => [
      String(l.round),
      l.attempt === null ? '—' : String(l.attempt),
      short(l.modelIn),
      code(l.modelVersion),
      l.updates.map((u) => `${e(u.siteId)}: ${short(u.sha256)} ${u.bytes ?? '?'} B`).join('<br>') || (l.round === 0 ? 'initial model' : '—'),
      json(l.metrics),
      `#${l.seq}`,
    ]),
  );
  const entries = table(
    ['#', 'time (UTC)', 'actor', 'kind', 'site', 'round', 'details', 'hash'],
    pack.ledger.entries.map((x) => [String(x.seq), e(x.at), e(x.actor), e(x.kind), e(x.siteId ?? ''), x.round === undefined ? '' : String(x.round), json(x.details), short(x.hash)]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Evidence pack: study ${e(study.id)}</title><style>${STYLE}</style></head>
<body>
<h1>Evidence pack: study <code>${e(study.id)}</code></h1>
<p class="muted">${e(study.name)} · generated ${e(pack.generatedAt)} by <code>tessera audit evidence</code></p>
${verdict(pack)}
<h2>Study</h2>
<dl><dt>status</dt><dd>${e(study.status)}${study.reason ? ` (${e(study.reason)})` : ''}</dd>
<dt>rounds completed</dt><dd>${study.completedRounds} of ${contract.spec.rounds}</dd>
<dt>created</dt><dd>${e(study.createdAt)}</dd></dl>
<h2>Study contract</h2>
<p>sha256 of the canonical contract: ${code(contract.specSha256)} —
${contract.matchesLedger ? `<strong>matches</strong> the hash the signed ledger recorded at creation (entry #${contract.ledger?.seq ?? '?'}).` : '<strong>does NOT match</strong> the hash in the signed ledger: the stored contract was changed after the study was created, or the creation entry is missing.'}</p>
<pre><code>${e(JSON.stringify(contract.spec, null, 2))}</code></pre>
<h2>Participating sites</h2>
${sites}
<h2>Privacy</h2>
<p>Parameters recorded at creation: ${json(privacy.parameters)}</p>
${epsilon}
<h2>Model lineage</h2>
${lineage}
<h2>Ledger entries for this study</h2>
${entries}
<h2>How to check this pack yourself</h2>
<p>Everything above except the contract text comes from signed ledger entries. To verify offline, with your own copy of the consortium CA certificate:</p>
<pre><code>tessera audit verify ${e(EvidenceFiles.ledger)} --ca ca.crt</code></pre>
<p>It exits 0 when every entry is intact, and otherwise names the first entry that was edited, deleted, reordered or cut off. Compare the CA fingerprint it prints with the one your consortium published.</p>
</body></html>
`;
}
