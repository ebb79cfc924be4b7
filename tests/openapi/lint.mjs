// Lints the OpenAPI description with an independent linter, Redocly CLI
// (pinned in package.json), under its recommended rules (redocly.yaml), and
// fails on any problem, warnings included: vendors' generators and linters
// are the first readers of docs/openapi.yaml.
// Usage: node lint.mjs SPEC
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [specFile] = process.argv.slice(2);
if (!specFile) {
  console.error('usage: node lint.mjs SPEC');
  process.exit(2);
}
const run = spawnSync(path.join(here, 'node_modules', '.bin', 'redocly'),
  ['lint', '--config', path.join(here, 'redocly.yaml'), '--format=json', specFile],
  { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
let result;
try {
  result = JSON.parse(run.stdout);
} catch {
  console.error(`lint: redocly gave no JSON result (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  process.exit(1);
}
for (const p of result.problems) {
  const where = p.location?.map((l) => l.pointer).join(', ') ?? '';
  console.error(`${p.severity} ${p.ruleId}: ${p.message} (${where})`);
}
const { errors, warnings } = result.totals;
console.log(`lint: redocly ${result.version}, recommended rules: ${errors} errors, ${warnings} warnings`);
process.exit(errors === 0 && warnings === 0 ? 0 : 1);
