// Generates TypeScript types from the OpenAPI description with
// openapi-typescript and compiles use-types.ts against them with tsc (both
// pinned in ../package.json), in WORK_DIR: a spec change that breaks a
// generator, or a schema a client relies on, fails.
// Usage: node compile.mjs SPEC WORK_DIR
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = (name) => path.join(here, '..', 'node_modules', '.bin', name);
const [specFile, work] = process.argv.slice(2);
if (!specFile || !work) {
  console.error('usage: node compile.mjs SPEC WORK_DIR');
  process.exit(2);
}
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'generated'), { recursive: true });
for (const f of ['use-types.ts', 'tsconfig.json']) fs.copyFileSync(path.join(here, f), path.join(work, f));
const step = (what, cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off' } });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    console.error(`compile: ${what} failed (exit ${r.status})`);
    process.exit(1);
  }
};
// Request members with a default (async, force, ...) stay optional.
step('openapi-typescript', bin('openapi-typescript'),
  [specFile, '--default-non-nullable=false', '-o', path.join(work, 'generated', 'openapi.ts')]);
step('tsc', bin('tsc'), ['-p', path.join(work, 'tsconfig.json')]);
console.log('compile: the generated TypeScript client types compile');
