// Validates the OpenAPI description with a real validator, then checks every
// recorded exchange (written by the integration tests when
// HFV_OPENAPI_SAMPLES is set): the response body against the schema of its
// path, method and status, and, for 2xx answers, the request body against
// the request schema; a signed report must be byte for byte what an
// independent RFC 8785 (JCS) implementation makes of it.
// Usage: node check.mjs SPEC SAMPLES_DIR
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import canonicalize from 'canonicalize';
import fs from 'node:fs';
import path from 'node:path';

const [specFile, samplesDir] = process.argv.slice(2);
if (!specFile || !samplesDir) {
  console.error('usage: node check.mjs SPEC SAMPLES_DIR');
  process.exit(2);
}
await SwaggerParser.validate(specFile);  // throws on an invalid description
console.log(`openapi: ${specFile} is a valid OpenAPI document`);
const spec = await SwaggerParser.dereference(specFile);
const ajv = new Ajv2020({ strict: false, allErrors: true });

const templates = Object.keys(spec.paths).map((p) => ({
  template: p,
  regex: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));
function operationFor(method, urlPath) {
  const match = templates.find((t) => t.regex.test(urlPath));
  return match ? spec.paths[match.template][method.toLowerCase()] : undefined;
}

let passed = 0;
let failed = 0;
let reports = 0;  // signed reports checked against RFC 8785
const fail = (file, why) => {
  failed += 1;
  console.error(`FAIL ${file}: ${why}`);
};
const files = fs.existsSync(samplesDir) ? fs.readdirSync(samplesDir).filter((f) => f.endsWith('.json')) : [];
if (files.length === 0) {
  console.error(`openapi: no samples in ${samplesDir}`);
  process.exit(1);
}
for (const file of files) {
  const sample = JSON.parse(fs.readFileSync(path.join(samplesDir, file), 'utf8'));
  if (sample.status === 0) continue;  // no HTTP answer (e.g. TLS refused)
  const op = operationFor(sample.method, sample.path);
  if (!op) { fail(file, `${sample.method} ${sample.path} is not described`); continue; }
  const response = op.responses[String(sample.status)];
  if (!response) { fail(file, `${sample.method} ${sample.path}: status ${sample.status} is not described`); continue; }
  const schema = response.content?.['application/json']?.schema;
  let body;
  try { body = JSON.parse(sample.response_body); } catch {
    // Not JSON: it must be one of the other media types the response
    // declares, recognised by its start (an SVG document, a CSV header row)
    // or, for text/plain, by every line (Prometheus text format 0.0.4).
    const types = Object.keys(response.content ?? {});
    const text = sample.response_body;
    const isSvg = types.includes('image/svg+xml') && text.startsWith('<svg');
    const isHtml = types.includes('text/html') && text.startsWith('<!DOCTYPE html>');
    const isCsv = types.includes('text/csv') && /^[a-z_]+(,[a-z_]+)+\n/.test(text);
    const isPrometheus = types.includes('text/plain') && text.endsWith('\n') &&
      text.slice(0, -1).split('\n').every((line) =>
        /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* \S/.test(line) ||
        /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$/.test(line));
    if (isSvg || isCsv || isHtml || isPrometheus) { passed += 1; continue; }
    fail(file, `${sample.method} ${sample.path} ${sample.status}: not JSON, and not a declared ${types.join(' or ')}`);
    continue;
  }
  if (schema && !ajv.validate(schema, body)) {
    fail(file, `${sample.method} ${sample.path} ${sample.status}: ${ajv.errorsText(ajv.errors)}`);
    continue;
  }
  // A signed report is sent in RFC 8785 canonical form (its signature
  // covers those bytes): the independent implementation agrees byte for byte.
  if (body?.signature?.format === 'hfv-report/v1') {
    reports += 1;
    if (canonicalize(body) !== sample.response_body) {
      fail(file, `${sample.method} ${sample.path} ${sample.status}: the report is not in RFC 8785 canonical form`);
      continue;
    }
  }
  if (sample.status < 300 && op.requestBody && sample.request_body) {
    const reqSchema = op.requestBody.content['application/json'].schema;
    if (!ajv.validate(reqSchema, JSON.parse(sample.request_body))) {
      fail(file, `request for ${sample.method} ${sample.path}: ${ajv.errorsText(ajv.errors)}`);
      continue;
    }
  }
  passed += 1;
}
console.log(`${passed} passed, ${failed} failed; ${reports} signed reports in RFC 8785 form`);
if (reports === 0) {
  console.error('openapi: no signed report among the samples: the RFC 8785 check checked nothing');
  process.exit(1);
}
process.exit(failed === 0 ? 0 : 1);
