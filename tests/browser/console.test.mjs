// Browser test of the supervisor console (docs/console.md): the real
// simulator and brokerd, some verifications with planted anomalies, then
// Debian's headless Chromium (driven by playwright-core) opens the console
// over real mutual TLS — the supervisor's certificate in an NSS database,
// selected automatically for the broker's origin — searches, opens a record
// and its proof, verifies the log, sees the anomalies and charts, and runs a
// what-if of a candidate policy file.
// Screenshots go to --out (the build dir's browser-artifacts/).
//
// usage: node console.test.mjs --brokerd BIN --sim BIN --source DIR --out DIR
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, test} from 'node:test';
import {parseArgs} from 'node:util';
import {chromium} from 'playwright-core';

import {Stack} from './stack.mjs';

const {values: args} = parseArgs({options: {
  brokerd: {type: 'string'}, sim: {type: 'string'}, source: {type: 'string'}, out: {type: 'string'},
  chromium: {type: 'string', default: '/usr/bin/chromium'}}});
for (const k of ['brokerd', 'sim', 'source', 'out']) if (!args[k]) throw new Error(`--${k} is required`);

const ZHANG_WEI = {id_number: '230102197503120016', name: '张伟', relation: 'applicant'};
const LI_NA = {id_number: '230102197808050020', name: '李娜', relation: 'spouse'};
const WANG = {id_number: '230103195901200035', name: '王建国', relation: 'applicant'};

// Working hours that exclude the present moment (local time UTC+8), so every
// verification this test makes is out of hours, whenever it runs.
function hoursExcludingNow() {
  const localHour = new Date(Date.now() + 8 * 3600 * 1000).getUTCHours();
  return localHour < 12 ? '20:00-21:00' : '02:00-03:00';
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hfv-browser-'));
const out = path.resolve(args.out);
let stack;
let context;
let page;

// What the browser saw (console messages, script errors, failed or refused
// requests, each with its time since the start), printed with the tails of
// the daemons' logs when a step fails: a failure on the CI machine must
// explain itself from its output alone.
const started = Date.now();
const seen = [];
let failed = false;
function note(what) {
  seen.push(`${((Date.now() - started) / 1000).toFixed(2)}s ${what}`);
}
function watchPage(p) {
  p.on('console', (m) => note(`console.${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => note(`page error: ${e.message}`));
  p.on('requestfailed', (r) => note(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  p.on('request', (r) => note(`request: ${r.method()} ${r.url()}`));
  p.on('response', (r) => note(`response: ${r.status()} ${r.request().method()} ${r.url()}`));
  p.on('crash', () => note('the page crashed'));
  p.on('framenavigated', (f) => { if (f === p.mainFrame()) note(`navigated: ${f.url()}`); });
}
function tail(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(${file}: ${e.message})`;
  }
}
function step(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      note(`step failed: ${name}`);
      throw e;
    }
  });
}

// With HFV_OPENAPI_SAMPLES set, JSON exchanges are kept for tests/openapi/check.mjs
// to check against docs/openapi.yaml, like the C++ integration tests do.
function recordSample(method, urlPath, answer) {
  const dir = process.env.HFV_OPENAPI_SAMPLES;
  if (!dir) return;
  fs.mkdirSync(dir, {recursive: true});
  const file = path.join(dir, `browser-${process.pid}-${urlPath.replace(/\W+/g, '_')}-${answer.status}.json`);
  fs.writeFileSync(file, JSON.stringify({method, path: urlPath.split('?')[0], status: answer.status,
    request_body: '', response_body: JSON.stringify(answer.body)}));
}

async function shot(name) {
  await page.screenshot({path: path.join(out, name), fullPage: true});
}

before(async () => {
  fs.rmSync(out, {recursive: true, force: true});
  fs.mkdirSync(out, {recursive: true});
  stack = await Stack.start({
    brokerd: args.brokerd, sim: args.sim, source: args.source, dir: path.join(work, 'stack'),
    adjustConfig(config, brokerDir) {
      config.repeat_window_hours = 0;  // every verification really queries
      config.anomalies = {
        working_hours: hoursExcludingNow(), working_days: [1, 2, 3, 4, 5, 6, 7], repeat_cases: 2,
        refusals_min: 1, relations_file: 'relations.json'};
      const relations = path.join(brokerDir, 'relations.json');
      fs.writeFileSync(relations, JSON.stringify({format: 'hfv-relative-links/v1', links: [
        {operator: 'op-test-01', principal: 'demo-case-system', relative_id_number: LI_NA.id_number,
          relation: 'spouse'}]}));
      fs.chmodSync(relations, 0o640);
    },
  });
  // Planted: 张伟 in two cases (repeated person), 李娜 is op-test-01's declared
  // spouse (relative), all out of hours, and one refused request.
  await stack.verify('HRB-B-1', [ZHANG_WEI, LI_NA]);
  await stack.verify('HRB-B-2', [ZHANG_WEI]);
  await stack.verify('HRB-B-3', [WANG], 'op-test-02');
  const refused = await stack.request('POST', '/v1/verifications', {tls: stack.caseSystem,
    headers: {'X-Operator-Id': 'op-test-02'}, body: {case_id: 'HRB-B-4'}});
  assert.equal(refused.status, 400);

  const home = path.join(work, 'home');
  stack.makeNssHome(home);
  const profile = path.join(work, 'profile');
  fs.mkdirSync(path.join(profile, 'Default'), {recursive: true});
  // What the AutoSelectCertificateForUrls policy would set, kept in this
  // profile only: present a certificate issued by the centre's CA to the broker.
  fs.writeFileSync(path.join(profile, 'Default', 'Preferences'), JSON.stringify({profile: {content_settings: {
    exceptions: {auto_select_certificate: {[`${stack.url},*`]: {
      last_modified: '13340000000000000', setting: {filters: [{ISSUER: {CN: stack.issuerCn()}}]}}}}}}}));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium, headless: true, env: {...process.env, HOME: home},
    viewport: {width: 1366, height: 768}, locale: 'zh-CN'});
  page = context.pages()[0] || await context.newPage();
  watchPage(page);
  // The CI machine is shared and busy: a first Chromium start can be slow.
  page.setDefaultTimeout(60000);
  page.setDefaultNavigationTimeout(120000);
});

after(async () => {
  if (failed) {
    console.error(`--- what the browser saw ---\n${seen.join('\n')}`);
    if (stack) {
      for (const log of ['brokerd.log', 'sim.log']) {
        console.error(`--- last lines of ${log} ---\n${tail(path.join(stack.dir, log), 60)}`);
      }
    }
  }
  if (context) await context.close();
  if (stack) await stack.stop();
  fs.rmSync(work, {recursive: true, force: true});
});

step('the console and the anomalies endpoint are for supervisors only', async () => {
  const asCaseSystem = await stack.request('GET', '/console/', {tls: stack.caseSystem});
  assert.equal(asCaseSystem.status, 403);
  const noCert = await stack.request('GET', '/console/', {tls: {ca: stack.caPem}});
  assert.equal(noCert.status, 401);
  const anomalies = await stack.request('GET', '/v1/audit/anomalies', {tls: stack.caseSystem});
  assert.equal(anomalies.status, 403);
  recordSample('GET', '/v1/audit/anomalies', anomalies);
  const flagged = await stack.request('GET', '/v1/audit/anomalies', {tls: stack.supervisor});
  assert.equal(flagged.status, 200);
  assert.ok(flagged.body.flags.some((f) => f.kind === 'repeated_person'));
  recordSample('GET', '/v1/audit/anomalies', flagged);
  const badWindow = await stack.request('GET', '/v1/audit/anomalies?from=2026-12-01&to=2026-11-01',
    {tls: stack.supervisor});
  assert.equal(badWindow.status, 400);
  recordSample('GET', '/v1/audit/anomalies', badWindow);
  const asSupervisor = await stack.request('GET', '/console/console.js', {tls: stack.supervisor});
  assert.equal(asSupervisor.status, 200);
  assert.match(asSupervisor.headers['content-type'], /^text\/javascript/);
  assert.match(asSupervisor.headers['content-security-policy'], /script-src 'self'/);
});

step('Chromium opens the console with the supervisor certificate, in Chinese', async () => {
  const response = await page.goto(stack.url + '/console/');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), '家庭经济状况核对 · 监督控制台');
  await page.locator('#records tbody tr').first().waitFor();
  assert.equal(await page.locator('#tabs button[data-tab=log]').textContent(), '审计日志');
  // Every file of the console arrived (a failed TLS handshake on one of the
  // parallel connections once lost a script here).
  assert.deepEqual(seen.filter((line) => / request failed: /.test(line)), []);
  await shot('01-console-log.png');
});

step('search by operator and action', async () => {
  await page.fill('#search input[name=operator]', 'op-test-01');
  await page.selectOption('#search select[name=action]', 'verification.request');
  await page.click('#search-go');
  await page.locator('#search-status', {hasText: '共 2 条记录'}).waitFor();
  const operators = await page.locator('#records tbody tr td:nth-child(5)').allTextContents();
  assert.deepEqual(operators, ['op-test-01', 'op-test-01']);
  const cases = await page.locator('#records tbody tr td:nth-child(6)').allTextContents();
  assert.deepEqual(cases, ['HRB-B-1', 'HRB-B-2']);
  await shot('02-search.png');
});

step('a report whose outcome rests on example parameter values says so', async () => {
  // HRB-B-1 (Harbin 2024-11-01) rests on the example standard 860.00 among others.
  await page.fill('#search input[name=operator]', '');
  await page.fill('#search input[name=case_id]', 'HRB-B-1');
  await page.selectOption('#search select[name=action]', 'verification.report');
  await page.click('#search-go');
  await page.locator('#search-status', {hasText: '共 1 条记录'}).waitFor();
  const cell = page.locator('#records tbody tr td.provisional');
  assert.equal(await cell.count(), 1);
  assert.equal(await cell.textContent(), 'issued · 依据示例参数');
  await page.locator('#records tbody tr').first().click();
  await page.locator('#record-fields', {hasText: '依据的示例参数'}).waitFor();
  assert.match(await page.textContent('#record-fields'),
    /dibao_standard_monthly\.urban=860\.00 \(from 2024-01-01\)/);
  await shot('02b-provisional.png');
  // Back to the previous search for the next step.
  await page.fill('#search input[name=case_id]', '');
  await page.fill('#search input[name=operator]', 'op-test-01');
  await page.selectOption('#search select[name=action]', 'verification.request');
  await page.click('#search-go');
  await page.locator('#search-status', {hasText: '共 2 条记录'}).waitFor();
});

step('open a record: its inclusion proof checks out in the browser', async () => {
  await page.locator('#records tbody tr').first().click();
  await page.locator('#proof-result[data-verdict]').waitFor();
  assert.equal(await page.getAttribute('#proof-result', 'data-verdict'), 'ok');
  assert.match(await page.textContent('#proof-result'), /证明有效/);
  assert.match(await page.textContent('#record-fields'), /HRB-B-1/);
  assert.match(await page.textContent('#proof-fields'), /[0-9a-f]{64}/);
  await shot('03-record-proof.png');
});

step('verify the whole log with one click', async () => {
  await page.click('#tabs button[data-tab=integrity]');
  await page.click('#verify');
  await page.locator('#verify-result[data-verdict]').waitFor();
  assert.equal(await page.getAttribute('#verify-result', 'data-verdict'), 'ok');
  assert.match(await page.textContent('#verify-result'), /日志完整/);
  assert.match(await page.textContent('#sth-fields'), /hfv-audit-sth\/v2/);
  await shot('04-verify.png');
});

step('the planted anomalies are flagged and explained', async () => {
  await page.click('#tabs button[data-tab=anomalies]');
  await page.locator('#flags article').first().waitFor();
  const kinds = await page.locator('#flags article').evaluateAll((els) => els.map((e) => e.dataset.kind));
  for (const kind of ['out_of_hours', 'repeated_person', 'relative_queried', 'refusals']) {
    assert.ok(kinds.includes(kind), `expected a ${kind} flag, got ${kinds.join(',')}`);
  }
  assert.ok(!kinds.includes('no_authorization'), 'every verification here had an authorisation');
  const repeated = page.locator('#flags article[data-kind=repeated_person]');
  assert.equal(await repeated.count(), 1);  // 张伟 only: 李娜 and 王建国 were in one case each
  assert.match(await repeated.textContent(), /HRB-B-1、HRB-B-2/);
  assert.match(await page.locator('#flags article[data-kind=relative_queried]').textContent(), /op-test-01/);
  assert.match(await page.locator('#flags article[data-kind=out_of_hours]').first().textContent(), /非工作时间查询/);
  await shot('05-anomalies.png');
  // Evidence links open the record in the log tab.
  const evidence = page.locator('#flags article[data-kind=relative_queried] .evidence a').first();
  const seq = (await evidence.textContent()).trim();
  await evidence.click();
  await page.locator('#record-seq', {hasText: new RegExp(`^${seq}$`)}).waitFor();
  await page.locator('#record-fields', {hasText: 'verification.subject'}).waitFor();
  await page.locator('#proof-result[data-verdict=ok]').waitFor();
  assert.match(await page.textContent('#record-fields'), /op-test-01/);
});

step('charts are drawn as inline SVG', async () => {
  await page.click('#tabs button[data-tab=charts]');
  for (const id of ['#chart-volume-principal', '#chart-volume-source', '#chart-refusals', '#chart-failures']) {
    await page.locator(`${id} svg`).waitFor();
    assert.ok(await page.locator(`${id} svg rect`).count() > 0, `${id} has bars`);
  }
  assert.match(await page.textContent('#chart-volume-principal .legend'), /demo-case-system/);
  await shot('06-charts.png');
});

step('household accesses by one member ID number, CSV export and the print view', async () => {
  await page.click('#tabs button[data-tab=household]');
  await page.fill('#household input[name=member_id]', ZHANG_WEI.id_number);
  await page.click('#household-go');
  await page.locator('#household-rows tbody tr').first().waitFor();
  const kinds = await page.locator('#household-rows tbody tr td:nth-child(5)').allTextContents();
  assert.ok(kinds.includes('核对 (verification)'), `kinds: ${kinds.join(',')}`);
  const outcomes = await page.locator('#household-rows tbody tr td:nth-child(6)').allTextContents();
  assert.ok(outcomes.some((o) => o.startsWith('已出具报告 (issued)')), `outcomes: ${outcomes.join(',')}`);
  assert.doesNotMatch(await page.textContent('#household-rows'), new RegExp(ZHANG_WEI.id_number));
  const downloading = page.waitForEvent('download');
  await page.click('#household-csv');
  const csv = fs.readFileSync(await (await downloading).path(), 'utf8');
  assert.match(csv, /^\ufeff"ts","principal","operator"/);
  assert.equal(csv.trim().split('\r\n').length, kinds.length + 1);
  assert.match(csv, /"已出具报告 \(issued\)"/);
  await page.emulateMedia({media: 'print'});
  assert.equal(await page.locator('header.top').isVisible(), false);
  assert.equal(await page.locator('#household-rows').isVisible(), true);
  await shot('06b-household-print.png');
  await page.emulateMedia({media: 'screen'});
});

step('what-if: a candidate Harbin file over today, its transition matrix, chart and CSV', async () => {
  const candidate = JSON.parse(fs.readFileSync(path.join(args.source, 'policies', 'data', '230100.json'), 'utf8'));
  for (const e of candidate.parameters.dibao_standard_monthly.urban) if (e.from === '2024-01-01') e.value = '960.00';
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  await page.click('#tabs button[data-tab=whatif]');
  await page.fill('#whatif input[name=code]', '230100');
  await page.fill('#whatif input[name=from]', day(-1));
  await page.fill('#whatif input[name=to]', day(1));
  await page.fill('#whatif textarea[name=policy]', JSON.stringify(candidate));
  await page.click('#whatif-go');
  await page.locator('#whatif-matrix td').first().waitFor();
  // The three Harbin verifications of this test, each in one cell.
  const cells = await page.locator('#whatif-matrix td').allTextContents();
  assert.equal(cells.reduce((sum, c) => sum + Number(c), 0), 3);
  assert.match(await page.textContent('#whatif-status'), /完成：评估 3 户/);
  assert.ok(await page.locator('#whatif-chart svg rect').count() > 0, 'the before/after chart has bars');
  assert.match(await page.textContent('#whatif-chart'), /调整前/);
  const href = await page.getAttribute('#whatif-csv', 'href');
  assert.match(href, /^\/v1\/policies\/230100\/what-if\/wif_[0-9a-f]+\?format=csv$/);
  const downloading = page.waitForEvent('download');
  await page.click('#whatif-csv');
  const csv = fs.readFileSync(await (await downloading).path(), 'utf8');
  assert.match(csv, /^case_id,verification_id,jurisdiction,members,old_outcome,new_outcome/);
  for (const m of [ZHANG_WEI, LI_NA, WANG]) assert.doesNotMatch(csv, new RegExp(m.id_number));
  await shot('06c-what-if.png');
});

step('English on request', async () => {
  await page.click('#lang');
  assert.equal(await page.locator('#tabs button[data-tab=anomalies]').textContent(), 'Anomalies');
  await page.click('#tabs button[data-tab=anomalies]');
  assert.match(await page.locator('#flags article[data-kind=out_of_hours]').first().textContent(),
    /Queries outside working hours/);
  await shot('07-english.png');
  await page.click('#lang');
  assert.equal(await page.locator('#tabs button[data-tab=anomalies]').textContent(), '异常提示');
});
