// The console's CSV export (broker/supervision/console/household.js) in
// node: formula injection guarded, quotes doubled, labels with their codes.
// usage: node csv.test.mjs SOURCE_DIR
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import path from 'node:path';
import {test} from 'node:test';

const require = createRequire(import.meta.url);
const source = process.argv[2] ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const {csvCell, householdCsv, valueLabel} = require(path.join(source, 'broker/supervision/console/household.js'));

test('cells that a spreadsheet would run as formulas get a leading apostrophe', () => {
  for (const bad of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx']) {
    assert.equal(csvCell(bad), `"'${bad}"`);
  }
  assert.equal(csvCell('op-01'), '"op-01"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell(undefined), '""');
});

test('household CSV: header, one row per access, labels with codes, injection guarded', () => {
  const csv = householdCsv([
    {ts: '2026-12-04T10:00:00.000Z', principal: 'demo-case-system', operator: '=HYPERLINK("x")',
      programme: 'dibao', authorization_id: 'auth_1', case_id: 'C-1', kind: 'refusal', outcome: 'refused',
      reason: '403 consent_not_found', members: ['a', 'b']},
  ]);
  const lines = csv.split('\r\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[0], '"ts","principal","operator","programme","authorization_id","case_id","kind","outcome","reason","result","request_id","members"');
  assert.match(lines[1], /"'=HYPERLINK\(""x""\)"/);
  assert.match(lines[1], /"403 授权书不存在 \(consent_not_found\)"/);
  assert.match(lines[1], /"已拒绝 \(refused\)"/);
  assert.match(lines[1], /"低保 \(dibao\)"/);
  assert.ok(lines[1].endsWith(',"2"'));
  assert.equal(valueLabel('something_new'), 'something_new');
});
