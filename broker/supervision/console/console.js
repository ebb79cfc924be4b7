// Supervisor console: searches the audit log, opens a record with its
// inclusion proof (checked here with WebCrypto), verifies the whole log,
// shows the broker's anomaly flags and draws charts. Talks only to this
// origin's audit API; the browser's client certificate authenticates it.
'use strict';

const SOURCES = ['hukou', 'tax', 'social_insurance', 'real_estate', 'vehicle', 'bank', 'securities',
  'business', 'provident_fund', 'insurance', 'internet_finance'];
const state = {filters: null, after: 0, next: null, anomalies: null, offset: 480, selected: 0};

const $ = (sel) => document.querySelector(sel);

async function api(method, path, body) {
  const init = {method, headers: {Accept: 'application/json'}, credentials: 'same-origin', cache: 'no-store'};
  // The broker refuses a POST or DELETE without a JSON body type (415).
  if (method !== 'GET') init.headers['Content-Type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  let json = null;
  try { json = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error((json && (json.message || json.error)) || `HTTP ${res.status}`);
  return json;
}

function setStatus(el, text, isError) {
  el.textContent = text;
  el.classList.toggle('error', !!isError);
}

// Timestamps are shown in the centre's local time (offset from the rules).
function localTime(ts) {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return ts || '';
  const d = new Date(ms + state.offset * 60000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function offsetText() {
  const o = state.offset, s = o < 0 ? '-' : '+', a = Math.abs(o);
  return `${s}${Math.floor(a / 60)}${a % 60 ? ':' + String(a % 60).padStart(2, '0') : ''}`;
}

function nextDay(date) {
  const d = new Date(date + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function kvRows(table, rows) {
  table.replaceChildren();
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = typeof v === 'object' ? JSON.stringify(v) : String(v);
    tr.append(th, td);
    table.appendChild(tr);
  }
}

function badge(el, cls, text) {
  el.className = 'badge ' + cls;
  el.textContent = text;
}

// --- Search -----------------------------------------------------------------

function readFilters() {
  const form = $('#search');
  const f = {};
  for (const el of form.elements) {
    if (!el.name || !el.value.trim()) continue;
    f[el.name] = el.value.trim();
  }
  if (f.to) f.to = nextDay(f.to);
  return f;
}

async function search(after) {
  const status = $('#search-status');
  setStatus(status, t('s.loading'));
  const body = Object.assign({}, state.filters, {limit: 100});
  if (after) body.after_seq = after;
  try {
    // POST keeps an ID number out of URLs and access logs.
    const answer = await api('POST', '/v1/audit/search', body);
    state.after = after;
    state.next = answer.next_after_seq || null;
    renderRecords(answer.records);
    setStatus(status, answer.count ? t('s.count', {n: answer.count}) + (state.next ? t('s.more') : '') : t('s.none'));
  } catch (e) {
    setStatus(status, t('s.error', {msg: e.message}), true);
  }
  $('#next-page').disabled = !state.next;
  $('#first-page').disabled = !after;
}

// A verification.report record whose outcome rests on example parameter
// values carries them in `detail`: "provisional: <name>=<value> (from <date>); ..."
// (docs/audit-log-format.md). Returns the list text, or '' when none.
const PROVISIONAL = 'provisional: ';
function provisionalOf(rec) {
  return rec.action === 'verification.report' && typeof rec.detail === 'string' && rec.detail.startsWith(PROVISIONAL)
    ? rec.detail.slice(PROVISIONAL.length) : '';
}

// An agency.answers record lists what each agency asked answered: its
// statuses counted, e.g. "ok ×9, not_found ×2".
function answeredStatuses(rec) {
  if (!Array.isArray(rec.answers)) return '';
  const counts = new Map();
  for (const a of rec.answers) counts.set(a.status, (counts.get(a.status) || 0) + 1);
  return [...counts].map(([status, n]) => `${status} ×${n}`).join(', ');
}

function renderRecords(records) {
  const tbody = $('#records tbody');
  tbody.replaceChildren();
  for (const r of records) {
    const rec = r.record || {};
    const tr = document.createElement('tr');
    tr.dataset.seq = r.seq;
    const provisional = provisionalOf(rec);
    const last = (rec.status || answeredStatuses(rec) || rec.outcome || '') +
      (provisional ? ' · ' + t('o.provisional') : '');
    const sources = rec.source ? rec.source.split(',').map((s) => t('src.' + s)).join(', ') : '';
    const cells = [r.seq, localTime(r.ts), rec.action, rec.principal, rec.operator, rec.case_id, sources, last];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c === undefined ? '' : String(c);
      if (i === 2 && rec.action === 'request.refused') td.className = 'refused';
      if (i === cells.length - 1 && provisional) {
        td.className = 'provisional';
        td.title = provisional;
      }
      tr.appendChild(td);
    });
    tr.tabIndex = 0;  // rows open with Enter too
    tr.addEventListener('click', () => openRecord(r.seq, r));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') openRecord(r.seq, r); });
    tbody.appendChild(tr);
  }
}

// --- One record and its inclusion proof ---------------------------------------

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}
function bytesToHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}
async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(len);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

// RFC 9162 section 2.1.3.2: recompute the root from the leaf hash and path.
async function rootFromInclusion(leafIndex, treeSize, leafHash, path) {
  let fn = leafIndex, sn = treeSize - 1, r = leafHash;
  const one = new Uint8Array([1]);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

async function checkHeadSignature(head) {
  try {
    if (!state.publicKey) state.publicKey = (await api('GET', '/v1/audit/head')).public_key;
    const key = await crypto.subtle.importKey('raw', hexToBytes(state.publicKey), {name: 'Ed25519'}, false, ['verify']);
    const msg = new TextEncoder().encode(`hfv-audit-sth/v2\n${head.tree_size}\n${head.root_hash}\n${head.timestamp}\n`);
    return (await crypto.subtle.verify({name: 'Ed25519'}, key, hexToBytes(head.signature), msg)) ? 'ok' : 'bad';
  } catch (e) {
    return 'unsupported';
  }
}

async function openRecord(seq, row) {
  state.selected = seq;
  delete $('#proof-result').dataset.verdict;
  for (const tr of document.querySelectorAll('#records tbody tr')) tr.classList.toggle('selected', Number(tr.dataset.seq) === seq);
  $('#record').classList.remove('hidden');
  $('#record-seq').textContent = '#' + seq;
  if (!row) {
    try {
      const found = await api('POST', '/v1/audit/search', {after_seq: seq - 1, limit: 1});
      row = found.records.find((r) => r.seq === seq);
    } catch (e) { row = null; }
  }
  if (state.selected !== seq) return;
  const rec = (row && row.record) || {};
  const fields = [[t('k.seq'), seq], [t('k.ts'), row && row.ts]];
  const provisional = provisionalOf(rec);
  if (provisional) fields.push([t('k.provisional'), provisional.split('; ').join('\n')]);
  for (const [k, v] of Object.entries(rec)) if (k !== 'seq' && k !== 'ts') fields.push([k, v]);
  if (row && row.personal_erased) fields.push([t('k.personal_erased'), t('yes')]);
  kvRows($('#record-fields'), fields);
  const result = $('#proof-result');
  delete result.dataset.verdict;
  badge(result, 'pending', t('p.checking'));
  $('#proof-path').replaceChildren();
  kvRows($('#proof-fields'), []);
  let proof;
  try {
    proof = await api('GET', `/v1/audit/proof?seq=${encodeURIComponent(seq)}`);
  } catch (e) {
    badge(result, 'bad', t('p.nocheck', {why: e.message}));
    return;
  }
  if (state.selected !== seq) return;
  const head = proof.tree_head;
  for (const h of proof.path) {
    const li = document.createElement('li');
    li.textContent = h;
    $('#proof-path').appendChild(li);
  }
  let verdict = 'bad', why = '';
  let signature = '';
  if (!(window.crypto && crypto.subtle)) {
    badge(result, 'pending', t('p.nocheck', {why: 'WebCrypto'}));
  } else {
    let leaf = hexToBytes(proof.leaf_hash);
    if (proof.envelope !== undefined) {
      const computed = await sha256(new Uint8Array([0]), new TextEncoder().encode(proof.envelope));
      if (bytesToHex(computed) !== proof.leaf_hash) why = 'leaf hash ≠ SHA-256(0x00‖envelope)';
      leaf = computed;
    }
    const root = await rootFromInclusion(proof.leaf_index, head.tree_size, leaf, proof.path.map(hexToBytes));
    if (!why && root && bytesToHex(root) === head.root_hash) verdict = 'ok';
    else if (!why) why = 'root ≠ signed root';
    const sig = await checkHeadSignature(head);
    signature = t(sig === 'ok' ? 'p.sig_ok' : sig === 'bad' ? 'p.sig_bad' : 'p.sig_unsupported');
    if (sig === 'bad') { verdict = 'bad'; why = why || t('p.sig_bad'); }
    badge(result, verdict, verdict === 'ok' ? t('p.ok') : t('p.bad', {why}));
  }
  result.dataset.verdict = verdict;
  kvRows($('#proof-fields'), [
    [t('k.leaf_index'), proof.leaf_index], [t('k.leaf_hash'), proof.leaf_hash],
    [t('k.tree_size'), head.tree_size], [t('k.root_hash'), head.root_hash], [t('k.timestamp'), head.timestamp],
    [t('k.key_id'), head.key_id], [t('k.signature_check'), signature]]);
}

// --- Whole-log verification -----------------------------------------------------

async function verifyLog() {
  const button = $('#verify');
  const result = $('#verify-result');
  button.disabled = true;
  badge(result, 'pending', t('v.running'));
  try {
    const v = await api('GET', '/v1/audit/verify');
    badge(result, v.ok ? 'ok' : 'bad', v.ok ? t('v.ok', {n: v.records}) : t('v.bad', {why: v.problem || ''}));
    result.dataset.verdict = v.ok ? 'ok' : 'bad';
    kvRows($('#verify-fields'), [
      [t('k.records'), v.records], [t('k.root_hash'), v.root_hash], [t('k.heads_checked'), v.heads_checked],
      [t('k.anchor_checked'), v.anchor_checked === undefined ? undefined : t(v.anchor_checked ? 'yes' : 'no')],
      [t('k.first_bad_seq'), v.first_bad_seq], [t('k.problem'), v.problem]]);
    const h = v.tree_head || {};
    kvRows($('#sth-fields'), [
      ['format', h.format], [t('k.tree_size'), h.tree_size], [t('k.root_hash'), h.root_hash],
      [t('k.timestamp'), h.timestamp], [t('k.key_id'), h.key_id], [t('k.signature'), h.signature]]);
  } catch (e) {
    badge(result, 'bad', t('s.error', {msg: e.message}));
    result.dataset.verdict = 'error';
  }
  button.disabled = false;
}

// --- Anomalies and charts ---------------------------------------------------------

function windowQuery() {
  const form = $('#window');
  const q = new URLSearchParams();
  if (form.elements.from.value) q.set('from', form.elements.from.value);
  if (form.elements.to.value) q.set('to', nextDay(form.elements.to.value));
  return q.toString();
}

async function loadAnomalies() {
  const status = $('#anomalies-status');
  setStatus(status, t('s.loading'));
  try {
    const q = windowQuery();
    state.anomalies = await api('GET', '/v1/audit/anomalies' + (q ? '?' + q : ''));
    state.offset = state.anomalies.rules.utc_offset_minutes;
    renderAnomalies();
  } catch (e) {
    setStatus(status, t('s.error', {msg: e.message}), true);
  }
}

function shortPseudonym(p) { return p ? p.slice(0, 12) + '…' : ''; }

function explain(flag) {
  const f = flag.facts || {};
  const sep = currentLang === 'zh' ? '、' : ', ';
  const list = (a) => (Array.isArray(a) && a.length ? a.join(sep) : '—');
  const params = Object.assign({}, f, {
    short: shortPseudonym(flag.subject), cases: Array.isArray(f.cases) ? list(f.cases) : f.cases,
    case_ids: list(f.case_ids), operators: list(f.operators), local_times: list(f.local_times),
    relations: list((f.relations || []).map((r) => (I18N[currentLang]['rel.' + r] ? t('rel.' + r) : r))), reason: f.reason ? t('reason.' + f.reason) : '',
    codes: f.codes ? Object.entries(f.codes).map(([c, n]) => `${c} × ${n}`).join(sep) : '',
  });
  const key = flag.kind === 'no_authorization' ? `why.no_authorization.${f.reason}` : `why.${flag.kind}`;
  return t(key, params);
}

function renderAnomalies() {
  const a = state.anomalies;
  if (!a) return;
  const r = a.rules;
  const hm = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  $('#rules').textContent = t('a.rules', {
    hours: `${hm(r.work_start_minute)}–${hm(r.work_end_minute)}`, offset: offsetText(), days: r.working_days.join(','),
    repeat: r.repeat_cases, factor: r.volume_factor, min: r.volume_min, baseline: r.volume_baseline_days,
    refusals: r.refusals_min, relations: t(r.relations_configured ? 'a.relations_yes' : 'a.relations_no')});
  let text = a.flags.length ? t('a.count', {from: localTime(a.from), to: localTime(a.to), n: a.flags.length, scanned: a.records_scanned}) : t('a.none');
  if (a.truncated) text += ' ' + t('a.truncated');
  if (a.relations_problem) text += ' ' + t('a.relations_problem', {msg: a.relations_problem});
  setStatus($('#anomalies-status'), text, !!a.relations_problem);
  const box = $('#flags');
  box.replaceChildren();
  for (const flag of a.flags) {
    const card = document.createElement('article');
    card.className = 'flag ' + flag.severity;
    card.dataset.kind = flag.kind;
    const h = document.createElement('h3');
    const sev = document.createElement('span');
    sev.className = 'sev ' + flag.severity;
    sev.textContent = t('sev.' + flag.severity);
    h.append(sev, document.createTextNode(t('kind.' + flag.kind)));
    const why = document.createElement('p');
    why.className = 'why';
    why.textContent = explain(flag);
    const who = document.createElement('p');
    who.className = 'who';
    const parts = [];
    if (flag.principal) parts.push(`${t('a.principal')}: ${flag.principal}`);
    if (flag.operator) parts.push(`${t('a.operator')}: ${flag.operator}`);
    if (flag.subject && flag.subject !== flag.principal) parts.push(`${t('a.subject')}: ${flag.subject}`);
    who.textContent = parts.join(' · ');
    const ev = document.createElement('p');
    ev.className = 'evidence';
    ev.append(document.createTextNode(t('a.evidence', {n: flag.evidence_count}) + ' '));
    for (const seq of flag.seqs.slice(0, 20)) {
      const link = document.createElement('a');
      link.href = '#record-' + seq;
      link.textContent = '#' + seq;
      link.addEventListener('click', (e) => { e.preventDefault(); showTab('log'); openRecord(seq); });
      ev.appendChild(link);
    }
    card.append(h, why, who, ev);
    box.appendChild(card);
  }
  renderCharts();
}

function renderCharts() {
  const s = state.anomalies && state.anomalies.stats;
  if (!s) return;
  stackedColumns($('#chart-volume-principal'), s.volume_by_principal);
  stackedColumns($('#chart-volume-source'), s.volume_by_source, (n) => t('src.' + n));
  const refusals = s.refusals_by_principal || {};
  const codes = [...new Set(Object.values(refusals).flatMap((c) => Object.keys(c)))].sort();
  const rows = Object.entries(refusals).map(([p, c]) => {
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    return {label: p, parts: c, value: total, text: String(total)};
  }).sort((x, y) => y.value - x.value);
  horizontalBars($('#chart-refusals'), rows, Math.max(1, ...rows.map((x) => x.value)), codes);
  const agencies = Object.entries(s.agencies || {}).map(([src, a]) => {
    const pct = a.total ? (100 * a.failed) / a.total : 0;
    return {label: t('src.' + src), value: pct, text: t('ch.rate', {pct: pct.toFixed(1), failed: a.failed, total: a.total})};
  }).sort((x, y) => y.value - x.value);
  horizontalBars($('#chart-failures'), agencies, 100);
}

// --- Wiring --------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === 'tab-' + name);
  if ((name === 'anomalies' || name === 'charts') && !state.anomalies) loadAnomalies();
}

function relabel() {
  applyLabels();
  renderAnomalies();
  if (state.filters) search(state.after);
}

document.addEventListener('DOMContentLoaded', () => {
  const sourceSelect = $('#search select[name=source]');
  for (const s of SOURCES) {
    const o = document.createElement('option');
    o.value = s;
    o.dataset.i18n = 'src.' + s;
    sourceSelect.appendChild(o);
  }
  applyLabels();
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('#lang').addEventListener('click', () => { setLang(currentLang === 'zh' ? 'en' : 'zh'); relabel(); });
  $('#search').addEventListener('submit', (e) => { e.preventDefault(); state.filters = readFilters(); search(0); });
  $('#search').addEventListener('reset', () => setTimeout(() => { state.filters = {}; search(0); }, 0));
  $('#next-page').addEventListener('click', () => state.next && search(state.next));
  $('#first-page').addEventListener('click', () => search(0));
  $('#verify').addEventListener('click', verifyLog);
  $('#window').addEventListener('submit', (e) => { e.preventDefault(); loadAnomalies(); });
  state.filters = {};
  search(0);
});
