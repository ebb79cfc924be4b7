// Household tab of the supervisor console: one member's ID number (sent in
// the request body, never in a URL) or a case id, every access concerning
// that household, one row per access (POST /v1/audit/household-search),
// CSV export and a print view. Data values (actions, outcomes, refusal
// reasons, fields) are shown in Chinese with the English code beside
// (VALUE_LABELS). The CSV functions have no DOM dependency: node tests
// them (tests/browser/csv.test.mjs).
'use strict';

// Code -> Chinese label. Shown as "标签 (code)"; an unknown code as itself.
const VALUE_LABELS = {
  // kinds and outcomes of an access
  verification: '核对', refusal: '拒绝', report_read: '读取报告', access_log_read: '读取查询记录',
  audit_search: '审计查询', issued: '已出具报告', refused: '已拒绝', accepted: '已受理',
  cancelled: '已取消', read: '已读取', recorded: '已记录',
  eligible: '符合', ineligible: '不符合', indeterminate: '无法判定',
  get: '按编号读取', idempotent_replay: '幂等重放', repeat_within_window: '时间窗内重复',
  // actions
  'verification.request': '核对请求', 'verification.subject': '核对对象', 'agency.answers': '机构答复', 'agency.query': '机构查询',
  'verification.report': '出具报告', 'verification.read': '读取报告', 'verification.cancelled': '核对取消',
  'request.refused': '请求被拒绝', 'refusal.subject': '被拒请求对象', 'read.subject': '读取对象',
  'authorization.register': '登记授权', 'authorization.revoke': '撤销授权', 'access_log.read': '读取查询记录',
  'audit.query': '审计查询', 'audit.household_search': '家庭审计查询', 'audit.verify': '日志验证',
  'audit.export': '日志导出',
  // refusal reasons
  invalid_field: '字段无效', invalid_json: 'JSON 无效', too_deep: '嵌套过深',
  jurisdiction_not_allowed: '无权核对该辖区', no_policy: '该辖区无政策参数',
  consent_not_found: '授权书不存在', consent_revoked: '授权已撤销', consent_not_yet_valid: '授权尚未生效',
  consent_expired: '授权已过期', consent_other_case: '授权属于其他案件', member_not_covered: '成员不在授权范围内',
  idempotency_conflict: '幂等键冲突', role_not_allowed: '角色无权调用', rate_limited: '请求过于频繁',
  client_certificate_required: '需要客户端证书', unknown_client_certificate: '证书未登记',
  body_too_large: '请求体过大',
  // programmes and field names
  dibao: '低保', marginal: '低保边缘', tekun: '特困', temporary: '临时救助',
  authorization_id: '授权书编号', case_id: '案件号', members: '家庭成员', jurisdiction: '辖区',
  'Idempotency-Key': '幂等键', 'X-Operator-Id': '经办人标识',
};

// "中文 (code)" for a code; a refusal status "403 consent_expired" keeps its number.
function valueLabel(code) {
  if (code === undefined || code === null || code === '') return '';
  const s = String(code);
  const m = /^(\d{3}) (.+)$/.exec(s);
  if (m) return `${m[1]} ${valueLabel(m[2])}`;
  return VALUE_LABELS[s] ? `${VALUE_LABELS[s]} (${s})` : s;
}

// One CSV cell: quoted, quotes doubled, and a leading apostrophe for text a
// spreadsheet would run as a formula (= + - @, tab, carriage return).
function csvCell(value) {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}

function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const HOUSEHOLD_COLUMNS = ['ts', 'principal', 'operator', 'programme', 'authorization_id', 'case_id', 'kind',
  'outcome', 'reason', 'result', 'request_id', 'members'];

function householdCsv(accesses) {
  return toCsv(HOUSEHOLD_COLUMNS, accesses.map((a) => HOUSEHOLD_COLUMNS.map((c) => {
    if (c === 'members') return (a.members || []).length;
    if (c === 'kind' || c === 'outcome' || c === 'reason' || c === 'result' || c === 'programme') return valueLabel(a[c]);
    return a[c];
  })));
}

if (typeof module !== 'undefined') module.exports = {VALUE_LABELS, valueLabel, csvCell, toCsv, householdCsv};

if (typeof document !== 'undefined') {
  const household = {accesses: [], answer: null};
  const q = (sel) => document.querySelector(sel);

  const render = () => {
    const body = q('#household-rows tbody');
    body.replaceChildren();
    for (const a of household.accesses) {
      const tr = document.createElement('tr');
      tr.className = 'outcome-' + a.outcome;
      const purpose = [valueLabel(a.programme), a.authorization_id, a.case_id].filter(Boolean).join(' · ');
      const outcome = [valueLabel(a.outcome), valueLabel(a.reason), valueLabel(a.result)].filter(Boolean).join(' · ');
      for (const v of [localTime(a.ts), a.principal, a.operator, purpose, valueLabel(a.kind), outcome,
        String((a.members || []).length)]) {
        const td = document.createElement('td');
        td.textContent = v || '';
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  };

  const run = async () => {
    const form = q('#household');
    const b = {};
    for (const name of ['member_id', 'case_id']) {
      const v = form.elements[name].value.trim();
      if (v) b[name] = v;
    }
    const from = form.elements.from.value, to = form.elements.to.value;
    if (from) b.from = from;
    if (to) b.to = nextDay(to);
    const status = q('#household-status');
    setStatus(status, t('s.loading'));
    try {
      const answer = await api('POST', '/v1/audit/household-search', b);
      household.answer = answer;
      household.accesses = answer.accesses;
      render();
      setStatus(status, answer.count ? t('h.count', {n: answer.count, m: answer.members.length}) : t('s.none'));
      q('#household-csv').disabled = !answer.count;
    } catch (e) {
      setStatus(status, t('s.error', {msg: e.message}), true);
    }
  };

  const exportCsv = () => {
    const blob = new Blob(['\ufeff' + householdCsv(household.accesses)], {type: 'text/csv;charset=utf-8'});
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'household-accesses.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };

  document.addEventListener('DOMContentLoaded', () => {
    q('#household').addEventListener('submit', (e) => { e.preventDefault(); run(); });
    q('#household-csv').addEventListener('click', exportCsv);
    q('#household-print').addEventListener('click', () => window.print());
  });
}
