// Labels of the supervisor console: Chinese by default, English on request
// (remembered in localStorage). t(key, params) fills {name} placeholders.
'use strict';

const I18N = {
  zh: {
    'app.title': '家庭经济状况核对 · 监督控制台',
    'app.foot': '本页面不保存任何数据；显示的内容均来自审计接口，且每次读取都会被审计。',
    'lang.switch': 'English',
    'tab.log': '审计日志', 'tab.anomalies': '异常提示', 'tab.charts': '统计图表', 'tab.integrity': '日志完整性',
    'f.from': '起始日期', 'f.to': '截止日期（含）', 'f.principal': '调用方', 'f.operator': '经办人',
    'f.case_id': '案件号', 'f.member_id': '身份证号', 'f.member': '成员假名', 'f.action': '操作',
    'f.source': '数据来源', 'f.outcome': '核对结论', 'f.any': '（全部）',
    'f.note': '所有查询都会记入审计日志。身份证号只在请求正文中发送，不出现在网址中。',
    'outcome.eligible': '符合', 'outcome.ineligible': '不符合', 'outcome.indeterminate': '无法判定',
    'b.search': '搜索', 'b.clear': '清除', 'b.first': '第一页', 'b.next': '下一页', 'b.refresh': '刷新',
    'b.verify': '验证整个日志',
    'c.seq': '序号', 'c.time': '时间', 'c.action': '操作', 'c.principal': '调用方', 'c.operator': '经办人',
    'c.case': '案件号', 'c.source': '来源', 'c.status': '状态',
    'r.title': '记录', 'r.proof': '包含证明', 'r.path': '证明路径',
    's.loading': '正在加载…', 's.count': '共 {n} 条记录', 's.more': '（还有更多，请点“下一页”）',
    's.none': '没有符合条件的记录', 's.error': '出错：{msg}',
    'p.checking': '正在核验证明…', 'p.ok': '证明有效：记录包含在已签名的树中',
    'p.bad': '证明无效：{why}', 'p.nocheck': '无法在浏览器中核验：{why}',
    'p.sig_ok': '树头签名有效', 'p.sig_bad': '树头签名无效', 'p.sig_unsupported': '浏览器不支持 Ed25519，签名未核验',
    'k.leaf_index': '叶序号', 'k.leaf_hash': '叶哈希', 'k.tree_size': '树大小', 'k.root_hash': '根哈希',
    'k.timestamp': '签名时间', 'k.key_id': '密钥标识', 'k.signature': '签名', 'k.signature_check': '签名核验',
    'k.records': '记录数', 'k.heads_checked': '已核验树头数', 'k.anchor_checked': '已核对锚定文件',
    'k.first_bad_seq': '首个异常序号', 'k.problem': '问题', 'k.seq': '序号', 'k.ts': '时间 (UTC)',
    'k.personal_erased': '个人字段已按保留期删除',
    'o.provisional': '依据示例参数', 'k.provisional': '依据的示例参数',
    'v.note': '逐条检查所有记录的哈希、每个已签名的树头和锚定文件。日志很大时需要一些时间。',
    'v.sth': '已签名树头', 'v.running': '正在验证…', 'v.ok': '日志完整：{n} 条记录全部通过验证',
    'v.bad': '日志验证失败：{why}', 'yes': '是', 'no': '否',
    'a.rules': '规则：工作时间 {hours}（UTC{offset}），工作日 {days}；同一人 ≥{repeat} 个案件；单日量 > 平时 {factor} 倍且 ≥{min}（基线 {baseline} 天）；拒绝 ≥{refusals} 次；亲属关系 {relations}。',
    'a.relations_yes': '已配置', 'a.relations_no': '未配置',
    'a.count': '{from} 至 {to}：{n} 条异常提示，扫描 {scanned} 条记录', 'a.none': '此时间范围内没有异常提示',
    'a.truncated': '记录过多，只扫描了前一部分。', 'a.relations_problem': '亲属关系文件无法使用：{msg}',
    'a.principal': '调用方', 'a.operator': '经办人', 'a.subject': '对象', 'a.evidence': '证据记录（{n}）：',
    'sev.high': '高', 'sev.medium': '中', 'sev.low': '低',
    'kind.no_authorization': '无有效授权的查询',
    'kind.repeated_person': '同一人被多个案件反复查询',
    'kind.out_of_hours': '非工作时间查询',
    'kind.volume_spike': '经办人查询量远超平时',
    'kind.relative_queried': '查询了经办人自己的亲属',
    'kind.refusals': '大量被拒绝的请求',
    'why.no_authorization.missing_authorization_id': '{count} 次核对请求没有授权书编号。',
    'why.no_authorization.authorization_not_registered': '{count} 次核对请求引用的授权书在日志中没有登记记录（案件：{cases}）。',
    'why.no_authorization.authorization_of_other_principal': '{count} 次核对请求使用了其他调用方登记的授权书。',
    'why.no_authorization.authorization_other_case': '{count} 次核对请求使用了为其他案件登记的授权书（案件：{cases}）。',
    'why.no_authorization.authorization_revoked': '{count} 次核对请求发生在授权书被撤销之后（案件：{cases}）。',
    'why.no_authorization.refused_without_consent': '{count} 次请求因没有授权被拒绝：曾试图在无授权的情况下查询。',
    'why.repeated_person': '同一人（假名 {short}）在 {cases} 个不同案件中被查询（阈值 {threshold}）。案件：{case_ids}；经办人：{operators}。',
    'why.out_of_hours': '{local_date}（{reason}）有 {count} 次核对请求，时间：{local_times}；工作时间为 {working_hours}。',
    'why.volume_spike': '{local_date} 共 {count} 次核对请求，前 {baseline_days} 天日均 {baseline_mean} 次，阈值 {threshold}。',
    'why.relative_queried': '经办人查询了在亲属关系文件中登记为其{relations}的人（假名 {short}），共 {count} 次。',
    'why.refusals': '该调用方有 {count} 次请求被拒绝（阈值 {threshold}）：{codes}。',
    'rel.spouse': '配偶', 'rel.parent': '父母', 'rel.child': '子女', 'rel.sibling': '兄弟姐妹',
    'rel.grandparent': '祖父母或外祖父母', 'rel.grandchild': '孙子女或外孙子女', 'rel.in_law': '姻亲',
    'reason.holiday': '节假日', 'reason.rest_day': '休息日', 'reason.before_hours': '上班前', 'reason.after_hours': '下班后',
    'ch.note': '图表与“异常提示”使用相同的时间范围。',
    'ch.volume_principal': '核对请求数（按调用方）', 'ch.volume_source': '机构查询数（按数据来源）',
    'ch.refusals': '被拒绝的请求（按调用方和原因）', 'ch.failures': '机构查询失败率（超时或错误）',
    'ch.empty': '没有数据', 'ch.rate': '{pct}%（{failed}/{total}）',
    'src.hukou': '户籍', 'src.tax': '税务', 'src.social_insurance': '社保', 'src.real_estate': '不动产',
    'src.vehicle': '车辆', 'src.bank': '银行', 'src.securities': '证券', 'src.business': '工商',
    'src.provident_fund': '公积金', 'src.insurance': '保险', 'src.internet_finance': '互联网金融',
  },
  en: {
    'app.title': 'Household financial verification · Supervisor console',
    'app.foot': 'This page stores nothing; everything shown comes from the audit API, and every read is itself audited.',
    'lang.switch': '中文',
    'tab.log': 'Audit log', 'tab.anomalies': 'Anomalies', 'tab.charts': 'Charts', 'tab.integrity': 'Log integrity',
    'f.from': 'From date', 'f.to': 'To date (inclusive)', 'f.principal': 'Principal', 'f.operator': 'Operator',
    'f.case_id': 'Case ID', 'f.member_id': 'ID number', 'f.member': 'Member pseudonym', 'f.action': 'Action',
    'f.source': 'Source', 'f.outcome': 'Outcome', 'f.any': '(any)',
    'f.note': 'Every search is recorded in the audit log. An ID number is sent in the request body, never in a URL.',
    'outcome.eligible': 'eligible', 'outcome.ineligible': 'ineligible', 'outcome.indeterminate': 'indeterminate',
    'b.search': 'Search', 'b.clear': 'Clear', 'b.first': 'First page', 'b.next': 'Next page', 'b.refresh': 'Refresh',
    'b.verify': 'Verify the whole log',
    'c.seq': 'Seq', 'c.time': 'Time', 'c.action': 'Action', 'c.principal': 'Principal', 'c.operator': 'Operator',
    'c.case': 'Case', 'c.source': 'Source', 'c.status': 'Status',
    'r.title': 'Record', 'r.proof': 'Inclusion proof', 'r.path': 'Proof path',
    's.loading': 'Loading…', 's.count': '{n} records', 's.more': ' (more: use “Next page”)',
    's.none': 'No matching records', 's.error': 'Error: {msg}',
    'p.checking': 'Checking the proof…', 'p.ok': 'Proof valid: the record is in the signed tree',
    'p.bad': 'Proof invalid: {why}', 'p.nocheck': 'Cannot check in the browser: {why}',
    'p.sig_ok': 'tree head signature valid', 'p.sig_bad': 'tree head signature INVALID',
    'p.sig_unsupported': 'this browser lacks Ed25519; signature not checked',
    'k.leaf_index': 'Leaf index', 'k.leaf_hash': 'Leaf hash', 'k.tree_size': 'Tree size', 'k.root_hash': 'Root hash',
    'k.timestamp': 'Signed at', 'k.key_id': 'Key ID', 'k.signature': 'Signature', 'k.signature_check': 'Signature check',
    'k.records': 'Records', 'k.heads_checked': 'Signed heads checked', 'k.anchor_checked': 'Anchor file checked',
    'k.first_bad_seq': 'First bad seq', 'k.problem': 'Problem', 'k.seq': 'Seq', 'k.ts': 'Time (UTC)',
    'k.personal_erased': 'Personal fields erased by retention',
    'o.provisional': 'rests on example values',
    'k.provisional': 'Rests on example values',
    'v.note': 'Checks every record’s hash, every signed tree head and the anchor file. Takes a while on a large log.',
    'v.sth': 'Signed tree head', 'v.running': 'Verifying…', 'v.ok': 'Log intact: all {n} records verified',
    'v.bad': 'Log verification FAILED: {why}', 'yes': 'yes', 'no': 'no',
    'a.rules': 'Rules: working hours {hours} (UTC{offset}), working days {days}; same person in ≥{repeat} cases; day volume > {factor}× usual and ≥{min} (baseline {baseline} days); ≥{refusals} refusals; relative links {relations}.',
    'a.relations_yes': 'configured', 'a.relations_no': 'not configured',
    'a.count': '{from} to {to}: {n} flags, {scanned} records scanned', 'a.none': 'No anomalies in this window',
    'a.truncated': 'Too many records: only the first part was scanned.', 'a.relations_problem': 'Relations file unusable: {msg}',
    'a.principal': 'Principal', 'a.operator': 'Operator', 'a.subject': 'Subject', 'a.evidence': 'Evidence records ({n}):',
    'sev.high': 'high', 'sev.medium': 'medium', 'sev.low': 'low',
    'kind.no_authorization': 'Query without a valid authorisation',
    'kind.repeated_person': 'Same person queried across cases',
    'kind.out_of_hours': 'Queries outside working hours',
    'kind.volume_spike': 'Operator volume far above usual',
    'kind.relative_queried': 'Operator queried their own relative',
    'kind.refusals': 'Many refused requests',
    'why.no_authorization.missing_authorization_id': '{count} verification request(s) carried no authorisation ID.',
    'why.no_authorization.authorization_not_registered': '{count} verification request(s) cited an authorisation never registered in the log (cases: {cases}).',
    'why.no_authorization.authorization_of_other_principal': '{count} verification request(s) used an authorisation registered by another principal.',
    'why.no_authorization.authorization_other_case': '{count} verification request(s) used an authorisation registered for another case (cases: {cases}).',
    'why.no_authorization.authorization_revoked': '{count} verification request(s) came after the authorisation was revoked (cases: {cases}).',
    'why.no_authorization.refused_without_consent': '{count} request(s) were refused for lack of consent: someone tried to query without an authorisation.',
    'why.repeated_person': 'One person (pseudonym {short}) was queried in {cases} different cases (threshold {threshold}). Cases: {case_ids}; operators: {operators}.',
    'why.out_of_hours': '{count} verification request(s) on {local_date} ({reason}) at {local_times}; working hours are {working_hours}.',
    'why.volume_spike': '{count} verification requests on {local_date}; the daily mean over the previous {baseline_days} days was {baseline_mean}, threshold {threshold}.',
    'why.relative_queried': 'The operator queried a person registered as their {relations} in the relations file (pseudonym {short}), {count} time(s).',
    'why.refusals': '{count} requests of this principal were refused (threshold {threshold}): {codes}.',
    'rel.in_law': 'in-law',
    'reason.holiday': 'holiday', 'reason.rest_day': 'rest day', 'reason.before_hours': 'before hours', 'reason.after_hours': 'after hours',
    'ch.note': 'The charts use the same window as the Anomalies tab.',
    'ch.volume_principal': 'Verification requests by principal', 'ch.volume_source': 'Agency queries by source',
    'ch.refusals': 'Refused requests by principal and reason', 'ch.failures': 'Agency failure rate (timeout or error)',
    'ch.empty': 'No data', 'ch.rate': '{pct}% ({failed}/{total})',
    'src.hukou': 'household registration', 'src.tax': 'tax', 'src.social_insurance': 'social insurance',
    'src.real_estate': 'real estate', 'src.vehicle': 'vehicles', 'src.bank': 'banks', 'src.securities': 'securities',
    'src.business': 'business registry', 'src.provident_fund': 'housing provident fund', 'src.insurance': 'insurance',
    'src.internet_finance': 'internet finance',
  },
};

let currentLang = (() => {
  try { return localStorage.getItem('hfv-console-lang') === 'en' ? 'en' : 'zh'; } catch (e) { return 'zh'; }
})();

function t(key, params) {
  let text = (I18N[currentLang] && I18N[currentLang][key]) || I18N.zh[key] || key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (params[name] === undefined ? m : String(params[name])));
  }
  return text;
}

function applyLabels() {
  document.documentElement.lang = currentLang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

function setLang(lang) {
  currentLang = lang === 'en' ? 'en' : 'zh';
  try { localStorage.setItem('hfv-console-lang', currentLang); } catch (e) { /* private mode */ }
  applyLabels();
}
