// What-if tab of the supervisor console: a candidate policy file (pasted or
// read from a local file, never uploaded anywhere but this broker) evaluated
// over a jurisdiction's archived decisions of a period
// (POST /v1/policies/{code}/what-if, docs/replay-and-what-if.md); follows
// the job's progress, then shows the outcome transition matrix, a
// before/after chart of the benefits per month (charts.js) and a link to the
// changed cases as CSV. Every start and every read of a result is audited by
// the broker.
'use strict';

{
  const q = (sel) => document.querySelector(sel);
  const OUTCOMES = ['eligible', 'ineligible', 'indeterminate'];
  const whatIf = {job: null, code: null, timer: null};

  const outcomeLabel = (o) => t('outcome.' + o) === 'outcome.' + o ? o : t('outcome.' + o);

  // Old outcome (rows) by new outcome (columns), with the households in each.
  const renderMatrix = (transitions) => {
    const table = q('#whatif-matrix');
    const seen = new Set(OUTCOMES);
    for (const [from, row] of Object.entries(transitions || {})) {
      seen.add(from);
      for (const to of Object.keys(row)) seen.add(to);
    }
    const names = [...seen];
    const head = document.createElement('tr');
    const corner = document.createElement('th');
    corner.textContent = t('w.old_new');
    head.appendChild(corner);
    for (const to of names) {
      const th = document.createElement('th');
      th.textContent = outcomeLabel(to);
      head.appendChild(th);
    }
    const rows = [head];
    for (const from of names) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = outcomeLabel(from);
      tr.appendChild(th);
      for (const to of names) {
        const td = document.createElement('td');
        const n = (transitions[from] || {})[to] || 0;
        td.textContent = String(n);
        td.dataset.from = from;
        td.dataset.to = to;
        if (n && from !== to) td.className = 'moved';
        tr.appendChild(td);
      }
      rows.push(tr);
    }
    table.replaceChildren(...rows);
  };

  // Benefits per month, before and after, as horizontal bars (yuan).
  const renderChart = (months) => {
    const rows = [];
    for (const m of months || []) {
      rows.push({label: `${m.month} ${t('w.before')}`, value: Number(m.before), parts: {before: Number(m.before)},
        text: m.before});
      rows.push({label: `${m.month} ${t('w.after')}`, value: Number(m.after), parts: {after: Number(m.after)},
        text: m.after});
    }
    const max = Math.max(1, ...rows.map((r) => r.value));
    horizontalBars(q('#whatif-chart'), rows, max, ['before', 'after'], (n) => t('w.' + n));
  };

  const renderChanged = (changed) => {
    const body = q('#whatif-changed tbody');
    body.replaceChildren();
    for (const c of changed || []) {
      const tr = document.createElement('tr');
      for (const v of [c.case_id, c.members.join(' '), outcomeLabel(c.old_outcome), outcomeLabel(c.new_outcome),
        c.rules_changed.join(' ')]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  };

  const show = (progress) => {
    const status = q('#whatif-status');
    if (progress.state === 'running') {
      setStatus(status, t('w.running', {n: progress.evaluated, total: progress.total}));
      return;
    }
    if (progress.state !== 'done') {
      setStatus(status, t('w.failed', {state: progress.state, error: progress.error || ''}), true);
      return;
    }
    const r = progress.result;
    setStatus(status, t('w.done', {n: r.households_evaluated, changed: r.changed.length, errors: r.errors.length}));
    renderMatrix(r.transitions);
    renderChart(r.benefit_per_month);
    renderChanged(r.changed);
    const link = q('#whatif-csv');
    link.href = `/v1/policies/${whatIf.code}/what-if/${whatIf.job}?format=csv`;
    link.download = `what-if-${whatIf.code}-${whatIf.job}.csv`;
    link.classList.remove('hidden');
    q('#whatif-result').classList.remove('hidden');
  };

  const poll = async () => {
    whatIf.timer = null;
    try {
      const progress = await api('GET', `/v1/policies/${whatIf.code}/what-if/${whatIf.job}`);
      show(progress);
      if (progress.state === 'running') whatIf.timer = setTimeout(poll, 1000);
    } catch (e) {
      setStatus(q('#whatif-status'), t('s.error', {msg: e.message}), true);
    }
  };

  const start = async () => {
    const form = q('#whatif');
    const status = q('#whatif-status');
    q('#whatif-result').classList.add('hidden');
    q('#whatif-csv').classList.add('hidden');
    if (whatIf.timer) clearTimeout(whatIf.timer);
    let policy;
    try {
      policy = JSON.parse(form.elements.policy.value);
    } catch (e) {
      setStatus(status, t('w.not_json'), true);
      return;
    }
    const code = form.elements.code.value.trim();
    setStatus(status, t('s.loading'));
    try {
      const accepted = await api('POST', `/v1/policies/${encodeURIComponent(code)}/what-if`,
        {policy, from: form.elements.from.value, to: form.elements.to.value});
      whatIf.job = accepted.job;
      whatIf.code = code;
      show(accepted);
      whatIf.timer = setTimeout(poll, 500);
    } catch (e) {
      setStatus(status, t('s.error', {msg: e.message}), true);
    }
  };

  // A local file's text into the text area (read in the browser only).
  const readFile = () => {
    const file = q('#whatif-file').files[0];
    if (!file) return;
    file.text().then((text) => { q('#whatif textarea[name=policy]').value = text; });
  };

  document.addEventListener('DOMContentLoaded', () => {
    q('#whatif').addEventListener('submit', (e) => { e.preventDefault(); start(); });
    q('#whatif-file').addEventListener('change', readFile);
  });
}
