// Compares the error codes the broker can put in an error body
// ({"error": code, ...}) with the list docs/openapi.yaml publishes (the
// x-extensible-enum of components.schemas.ErrorCode): fails naming every code the source emits
// that the spec does not list, and every listed code the source never emits;
// and the spec's list with docs/integration.md's error table.
//
// The codes are collected from the C++ sources by the shapes that produce an
// error body (all of them go through detail::error_response, directly or via
// Service::refuse / refuse_unidentified):
//   - the first string literal argument of refuse(...), refuse_unidentified(...)
//     and error_response(...);
//   - the code member of the refusal values passed on to them:
//     FieldError{"code", ...}, BatchRefusal{Kind, "code", ...},
//     CertificateRefusal{"code", ...}, WhatIfRefusal{status, "code", ...};
//   - the string literals returned by refusal_code(), unavailable_code() and
//     outcome_error_code() (broker/verification), which name a verification's
//     refusals;
//   - {"error", "code"} written directly.
// A new way of producing an error body needs a new shape here; the test
// fails loudly if a shape stops matching anything (a refactoring that moved
// the codes elsewhere).
// Usage: node error-codes.mjs SPEC SOURCE_ROOT
import fs from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';

const [specFile, root] = process.argv.slice(2);
if (!specFile || !root) {
  console.error('usage: node error-codes.mjs SPEC SOURCE_ROOT');
  process.exit(2);
}

function sources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(p));
    else if (/\.(cpp|hpp)$/.test(entry.name)) out.push(p);
  }
  return out;
}

// Comments out, so a code named in a comment does not count.
const strip = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"])\/\/.*$/gm, '$1');

const code = /^[a-z][a-z0-9_]*$/;
const shapes = {
  // refuse(request, principal, 400, "invalid_field", ...): the first literal
  // before the call's end (no ';' in between).
  call: /\b(?:refuse|refuse_unidentified|error_response)\(([^;"]*?)"([a-z][a-z0-9_]*)"/g,
  field_error: /\bFieldError\{\s*"([a-z][a-z0-9_]*)"/g,
  batch_refusal: /BatchRefusal::Kind::k\w+,\s*"([a-z][a-z0-9_]*)"/g,
  certificate_refusal: /\bCertificateRefusal\{\s*"([a-z][a-z0-9_]*)"/g,
  what_if_refusal: /\bWhatIfRefusal\{\s*\d+,\s*"([a-z][a-z0-9_]*)"/g,
  error_member: /\{"error",\s*"([a-z][a-z0-9_]*)"\}/g,
};
const tables = ['refusal_code', 'unavailable_code', 'outcome_error_code'];
// outcome_error_code() also names a running verification, which is answered
// 202 with its state (broker/api/verification_http.cpp, running_answer), never
// as an error body; batches record it per item.
const notErrorBodies = new Set(['verification_running']);

const found = new Map();  // code -> first place seen
const hits = Object.fromEntries([...Object.keys(shapes), 'tables'].map((k) => [k, 0]));
const note = (c, file, text, index, shape) => {
  if (!code.test(c) || notErrorBodies.has(c)) return;
  hits[shape] += 1;
  if (!found.has(c)) {
    const line = text.slice(0, index).split('\n').length;
    found.set(c, `${path.relative(root, file)}:${line}`);
  }
};
for (const dir of ['broker', 'crypto', 'common']) {
  for (const file of sources(path.join(root, dir))) {
    const text = strip(fs.readFileSync(file, 'utf8'));
    for (const [shape, re] of Object.entries(shapes)) {
      for (const m of text.matchAll(re)) {
        // The verifier's own refuse(call, RefusalReason::k..., message, field)
        // names its code by the enum: refusal_code() maps it (a table below).
        if (shape === 'call' && m[1].includes('RefusalReason::')) continue;
        note(m[m.length - 1], file, text, m.index, shape);
      }
    }
    for (const fn of tables) {
      const def = new RegExp(`std::string_view ${fn}\\([^)]*\\)\\s*\\{`, 'g');
      for (const m of text.matchAll(def)) {
        const end = text.indexOf('\n}', m.index);
        const body = text.slice(m.index, end);
        for (const r of body.matchAll(/return\s+"([a-z][a-z0-9_]*)"/g)) {
          note(r[1], file, text, m.index + r.index, 'tables');
        }
      }
    }
  }
}

let failed = false;
for (const [shape, n] of Object.entries(hits)) {
  if (n === 0) {
    console.error(`error-codes: the shape "${shape}" matched nothing: the collector is out of date`);
    failed = true;
  }
}

const spec = await SwaggerParser.parse(specFile);
const listed = spec.components?.schemas?.ErrorCode?.['x-extensible-enum'];
if (!Array.isArray(listed)) {
  console.error('error-codes: the spec has no components.schemas.ErrorCode x-extensible-enum');
  process.exit(1);
}
const documented = new Set(listed);
for (const [c, where] of [...found].sort()) {
  if (!documented.has(c)) {
    console.error(`MISSING ${c}: emitted at ${where} but not in components.schemas.ErrorCode`);
    failed = true;
  }
}
for (const c of [...documented].sort()) {
  if (!found.has(c)) {
    console.error(`STALE ${c}: listed in components.schemas.ErrorCode but the source never emits it`);
    failed = true;
  }
}
// docs/integration.md's error table (section "Errors") names every code
// too: integrators read it to decide what to do with each.
const guide = path.join(root, 'docs', 'integration.md');
const section = fs.readFileSync(guide, 'utf8').split(/^## /m).find((part) => /^\d+\. Errors\b/.test(part));
if (!section) {
  console.error('error-codes: docs/integration.md has no "Errors" section');
  failed = true;
} else {
  const inTable = new Set();
  for (const row of section.split('\n').filter((l) => /^\| *\d{3} *\|/.test(l))) {
    for (const m of row.split('|')[2].matchAll(/`([a-z][a-z0-9_]*)`/g)) inTable.add(m[1]);
  }
  for (const c of [...documented].sort()) {
    if (!inTable.has(c)) {
      console.error(`UNDOCUMENTED ${c}: not in docs/integration.md's error table`);
      failed = true;
    }
  }
  for (const c of [...inTable].sort()) {
    if (!documented.has(c)) {
      console.error(`STALE ${c}: in docs/integration.md's error table but not in components.schemas.ErrorCode`);
      failed = true;
    }
  }
}
console.log(`error-codes: ${found.size} codes in the source, ${documented.size} in the spec`);
process.exit(failed ? 1 : 0);
