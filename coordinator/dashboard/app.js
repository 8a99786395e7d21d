// Tessera dashboard: plain ES module, no build step. Every datum comes from the REST API with the bearer token
// the user signed in with; the live view reads /api/v1/events (server-sent events) through fetch, because
// EventSource cannot send an Authorization header. Untrusted strings are only ever set as textContent.

const TOKEN_KEY = 'tessera.token';
const state = { token: sessionStorage.getItem(TOKEN_KEY), me: null, studies: [], selected: null, charts: {}, stream: null, refreshTimer: null };

const $ = (sel) => document.querySelector(sel);

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${state.token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  if (!res.ok) {
    let body = { code: `HTTP_${res.status}`, message: res.statusText };
    try { body = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401) signOut(body.message);
    throw new ApiError(res.status, body.code, body.message);
  }
  const type = res.headers.get('content-type') || '';
  return type.includes('application/json') ? res.json() : res;
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function row(cells, attrs = {}) {
  const tr = el('tr', undefined, attrs);
  for (const c of cells) {
    if (c instanceof Node) { const td = el('td'); td.append(c); tr.append(td); } else tr.append(el('td', c ?? '–'));
  }
  return tr;
}

const fmt = (x, digits = 4) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');
const ms = (x) => (typeof x === 'number' ? `${(x / 1000).toFixed(2)} s` : '–');
const ago = (iso) => { const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(iso).toLocaleString(); };

// ---- sign in / out -------------------------------------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  const me = await api('/api/v1/whoami');
  state.me = me;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#signout').hidden = false;
  const who = $('#who');
  who.hidden = false;
  who.textContent = `${me.id} · ${me.role}${me.site ? ` (${me.site})` : ''}`;
  document.body.dataset.role = me.role;
  for (const id of ['#audit-card']) $(id).hidden = me.role === 'site-admin';
  await refreshAll();
  openStream();
  state.refreshTimer = setInterval(() => { void refreshSites(); }, 5000);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.me = null;
  if (state.stream) state.stream.abort();
  if (state.refreshTimer) clearInterval(state.refreshTimer);
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#signout').hidden = true;
  $('#who').hidden = true;
  $('#signin-error').textContent = message || '';
}

$('#signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('#signin-error').textContent = '';
  signIn($('#signin-token').value.trim()).catch((err) => { $('#signin-error').textContent = err.message; });
});
$('#signout').addEventListener('click', () => signOut(''));

// ---- data ---------------------------------------------------------------------------------------------------------
async function refreshAll() {
  await Promise.allSettled([refreshStudies(), refreshSites(), refreshBudgets(), refreshAudit(true)]);
}

async function refreshStudies() {
  state.studies = await api('/api/v1/studies');
  $('#stat-studies').textContent = String(state.studies.length);
  $('#stat-running').textContent = String(state.studies.filter((s) => s.status === 'running').length);
  const body = $('#studies tbody');
  body.replaceChildren();
  for (const s of state.studies) {
    const actions = el('span');
    if (state.me.role === 'operator') {
      const can = { start: s.status === 'created' || (s.status === 'running' && !s.running), pause: s.status === 'running' && s.running, resume: s.status === 'paused', abort: ['created', 'running', 'paused'].includes(s.status) };
      for (const [action, ok] of Object.entries(can)) {
        if (!ok) continue;
        const b = el('button', action[0].toUpperCase() + action.slice(1), { type: 'button', 'data-action': action, 'data-study': s.id });
        b.addEventListener('click', (ev) => { ev.stopPropagation(); void studyAction(s.id, action); });
        actions.append(b, ' ');
      }
    }
    const tr = row([el('span', s.id, { class: 'mono' }), s.name, el('span', s.status, { class: `pill ${s.status}` }), `${s.completedRounds} / ${s.rounds}`, s.spec.strategy, actions], { 'data-study': s.id, 'data-status': s.status });
    if (s.id === state.selected) tr.classList.add('selected');
    tr.addEventListener('click', () => { void selectStudy(s.id); });
    body.append(tr);
  }
  if (state.selected === null && state.studies.length > 0) await selectStudy(state.studies[0].id);
  else if (state.selected !== null) renderStudyHeader();
}

async function studyAction(id, action) {
  try {
    await api(`/api/v1/studies/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    logEvent(`${action} requested for ${id}`);
  } catch (err) {
    logEvent(`${action} refused: ${err.code}: ${err.message}`);
  }
  await refreshStudies();
  await selectStudy(id);
}

function renderStudyHeader() {
  const s = state.studies.find((x) => x.id === state.selected);
  if (!s) return;
  $('#detail-id').textContent = s.id;
  const status = $('#study-status');
  status.textContent = s.status;
  status.className = `pill ${s.status}`;
  status.dataset.status = s.status;
  setProgress(s.completedRounds, s.rounds, s.status === 'running' ? `round ${Math.min(s.completedRounds + 1, s.rounds)} of ${s.rounds}` : `${s.completedRounds} of ${s.rounds} rounds · ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
}

function setProgress(done, total, text) {
  const pct = total > 0 ? Math.round((100 * done) / total) : 0;
  $('#progress-bar').style.width = `${pct}%`;
  $('#progress').setAttribute('aria-valuenow', String(pct));
  $('#progress-text').textContent = text;
}

async function selectStudy(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#studies tbody tr')) tr.classList.toggle('selected', tr.dataset.study === id);
  $('#study-detail').hidden = false;
  renderStudyHeader();
  if (state.me.role === 'site-admin') {
    const rows = await api(`/api/v1/studies/${encodeURIComponent(id)}/sites/${encodeURIComponent(state.me.site)}/metrics`).catch(() => []);
    renderCharts(rows.map((r) => { const site = r.sites.find((x) => x.phase === 'evaluate'); return { round: r.round, eval: site ? { loss: site.loss, accuracy: site.accuracy } : null, train: null }; }));
    $('#rounds tbody').replaceChildren();
    return;
  }
  const [rounds, metrics] = await Promise.all([api(`/api/v1/studies/${encodeURIComponent(id)}/rounds`), api(`/api/v1/studies/${encodeURIComponent(id)}/metrics`)]);
  const body = $('#rounds tbody');
  body.replaceChildren();
  for (const r of rounds) {
    const p = (name) => ms(r.phases[name] ? r.phases[name].durationMs : undefined);
    body.append(row([r.round, r.attempt, el('span', r.status, { class: `pill ${r.status === 'committed' ? 'ok' : r.status === 'failed' ? 'failed' : ''}` }), p('waiting'), p('fitting'), p('aggregating'), p('evaluating'), fmt(r.metrics && r.metrics.loss), fmt(r.metrics && r.metrics.accuracy, 3)], { 'data-round': String(r.round) }));
  }
  renderCharts(metrics);
}

function renderCharts(metrics) {
  const xs = metrics.map((m) => m.round);
  const pick = (key, field) => metrics.map((m) => (m[key] && typeof m[key][field] === 'number' ? m[key][field] : null));
  draw('chart-loss', xs, [{ label: 'eval loss', data: pick('eval', 'loss'), stroke: '#2f5bd3' }, { label: 'train loss', data: pick('train', 'loss'), stroke: '#b26a00' }]);
  draw('chart-accuracy', xs, [{ label: 'eval accuracy', data: pick('eval', 'accuracy'), stroke: '#1a7f37' }, { label: 'train accuracy', data: pick('train', 'accuracy'), stroke: '#8e44ad' }]);
}

function draw(id, xs, series) {
  const host = document.getElementById(id);
  host.dataset.points = String(xs.length);
  host.dataset.last = series[0].data.length > 0 ? String(series[0].data[series[0].data.length - 1]) : '';
  if (state.charts[id]) { state.charts[id].destroy(); delete state.charts[id]; }
  host.replaceChildren();
  if (typeof window.uPlot !== 'function') { host.textContent = 'chart library not loaded'; return; }
  const opts = { width: 540, height: 240, scales: { x: { time: false } }, axes: [{ label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, {}], series: [{ label: 'round' }, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: true } }))] };
  state.charts[id] = new window.uPlot(opts, [xs, ...series.map((s) => s.data)], host);
}

async function refreshSites() {
  if (!state.me) return;
  const sites = await api('/api/v1/sites');
  $('#stat-sites').textContent = String(sites.filter((s) => s.connected).length);
  const body = $('#sites tbody');
  body.replaceChildren();
  for (const s of sites) {
    body.append(row([el('span', s.id, { class: 'mono' }), el('span', s.connected ? 'connected' : 'offline', { class: `pill ${s.connected ? 'on' : 'off'}` }), ago(s.lastSeen), s.backend, s.agentVersion, `${s.certNotAfter.slice(0, 10)} (${s.certDaysLeft} days)`], { 'data-site': s.id }));
  }
}

async function refreshBudgets() {
  const budgets = await api('/api/v1/privacy-budgets');
  const body = $('#budgets tbody');
  body.replaceChildren();
  for (const b of budgets) {
    body.append(row([b.studyId, b.siteId, b.roundsParticipated, b.dp ? b.dp.mechanism : 'no DP', b.dp ? fmt(b.dp.epsilonSpent, 3) : '–', b.dp && b.dp.epsilonBudget !== null ? fmt(b.dp.epsilonBudget, 3) : '–', b.dp ? String(b.dp.delta) : '–'], { 'data-site': b.siteId }));
  }
}

function auditQuery() {
  const q = new URLSearchParams();
  for (const [field, input] of [['study', '#audit-study'], ['site', '#audit-site'], ['actor', '#audit-actor'], ['kind', '#audit-kind']]) {
    const v = $(input).value.trim();
    if (v) q.set(field, v);
  }
  return q;
}

async function refreshAudit(verify) {
  if (!state.me || state.me.role === 'site-admin') return;
  const box = $('#audit-verify');
  try {
    if (verify) {
      const v = await api('/api/v1/audit/verify');
      box.className = `verify ${v.ok ? 'ok' : 'bad'}`;
      box.dataset.ok = String(v.ok);
      box.textContent = v.ok
        ? `✔ verified: ${v.entries} entries, hash chain and signatures intact${v.anchored ? ' (signer checked against the consortium CA)' : ''} · head ${v.head ? v.head.hash.slice(0, 16) : '–'} · checked ${new Date(v.checkedAt).toLocaleTimeString()}`
        : `✘ ledger does not verify: ${v.firstBad ? `entry ${v.firstBad.seq ?? '?'} ${v.firstBad.problem}: ${v.firstBad.message}` : 'unknown fault'}`;
      $('#stat-audit').textContent = v.ok ? 'verified' : 'TAMPERED';
    }
    const q = auditQuery();
    // Page through the matching entries (keyset on seq) and show the newest 200.
    const all = [];
    let page = await api(`/api/v1/audit?limit=1000&${q}`);
    all.push(...page.entries);
    while (page.nextAfterSeq !== null && all.length < 50000) {
      page = await api(`/api/v1/audit?limit=1000&after=${page.nextAfterSeq}&${q}`);
      all.push(...page.entries);
    }
    renderAudit(all.slice(-200));
    const after = all.length;
    $('#audit-count').textContent = `${after} matching entries (newest 200 shown)`;
  } catch (err) {
    box.className = 'verify bad';
    box.textContent = `audit ledger unavailable: ${err.message}`;
    $('#stat-audit').textContent = '–';
  }
}

function renderAudit(entries) {
  const body = $('#audit tbody');
  body.replaceChildren();
  for (const e of entries.slice().reverse()) {
    body.append(row([e.seq, new Date(e.at).toLocaleString(), e.actor, e.kind, e.studyId ?? '', e.siteId ?? '', e.round ?? '', el('span', String(e.hash).slice(0, 16), { class: 'mono', title: `hash ${e.hash}\nprev ${e.prev}` })], { 'data-kind': e.kind, 'data-seq': String(e.seq) }));
  }
}

$('#audit-filter').addEventListener('submit', (ev) => { ev.preventDefault(); void refreshAudit(false); });
$('#audit-recheck').addEventListener('click', () => { void refreshAudit(true); });
for (const [id, format] of [['#audit-jsonl', 'jsonl'], ['#audit-csv', 'csv']]) {
  $(id).addEventListener('click', async () => {
    const q = auditQuery();
    q.set('format', format);
    const res = await api(`/api/v1/audit/export?${q}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', '', { href: url, download: `tessera-audit.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  });
}

// ---- live events ----------------------------------------------------------------------------------------------------
function logEvent(text) {
  const list = $('#events');
  list.prepend(el('li', `${new Date().toLocaleTimeString()}  ${text}`));
  while (list.children.length > 60) list.lastChild.remove();
}

function describe(e) {
  switch (e.type) {
    case 'study-started': return `study ${e.studyId} started at round ${e.fromRound} of ${e.rounds}`;
    case 'round-started': return `round ${e.round} (attempt ${e.attempt}) started`;
    case 'round-phase': return `round ${e.round}: ${e.phase} on ${e.sites} sites`;
    case 'site-finished': return `round ${e.round}: ${e.siteId} ${e.phase} ${e.outcome}${e.reason ? ` (${e.reason})` : ''}`;
    case 'round-committed': return `round ${e.round} committed in ${ms(e.durationMs)}; eval loss ${fmt(e.metrics && e.metrics.loss)}, accuracy ${fmt(e.metrics && e.metrics.accuracy, 3)}`;
    case 'round-failed': return `round ${e.round} attempt ${e.attempt} failed: ${e.reason}`;
    case 'study-paused': return `study ${e.studyId} paused after ${e.completedRounds} rounds`;
    case 'study-finished': return `study ${e.studyId} ${e.status}${e.reason ? `: ${e.reason}` : ''}`;
    default: return e.type;
  }
}

let refreshQueued = false;
function queueRefresh(studyId) {
  if (refreshQueued) return;
  refreshQueued = true;
  setTimeout(async () => {
    refreshQueued = false;
    await refreshStudies().catch(() => undefined);
    if (studyId === state.selected) await selectStudy(studyId).catch(() => undefined);
    await Promise.allSettled([refreshBudgets(), refreshAudit(true)]);
  }, 150);
}

function onEvent(e) {
  logEvent(describe(e));
  if (e.studyId === state.selected) {
    const s = state.studies.find((x) => x.id === e.studyId);
    if (s && e.type === 'round-phase') setProgress(e.round - 1, s.rounds, `round ${e.round} of ${s.rounds}: ${e.phase} on ${e.sites} sites`);
    if (s && e.type === 'round-started') setProgress(e.round - 1, s.rounds, `round ${e.round} of ${s.rounds}: waiting for sites`);
  }
  if (['round-committed', 'round-failed', 'study-started', 'study-finished', 'study-paused'].includes(e.type)) queueRefresh(e.studyId);
}

async function openStream() {
  const controller = new AbortController();
  state.stream = controller;
  const live = $('#live');
  while (!controller.signal.aborted && state.token) {
    try {
      const res = await fetch('/api/v1/events', { headers: { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' }, signal: controller.signal });
      if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
      live.textContent = 'live';
      live.className = 'pill on';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) { try { onEvent(JSON.parse(data)); } catch { /* ignore a malformed block */ } }
        }
      }
    } catch { /* reconnect below */ }
    live.textContent = 'offline';
    live.className = 'pill off';
    if (!controller.signal.aborted) await new Promise((r) => setTimeout(r, 2000));
  }
}

if (state.token) signIn(state.token).catch(() => signOut(''));
