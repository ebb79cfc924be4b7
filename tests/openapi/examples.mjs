// Every request body and every response of docs/openapi.yaml carries an
// example (`example`, or `examples` with values), and every example conforms
// to its schema (Ajv, JSON Schema 2020-12: the description's dialect; text
// media types: a string). Redocly's no-invalid-media-type-examples (lint.mjs)
// checks them too, and more strictly (no undocumented members). The report
// example is a real signed report and the report-signing key example the key
// that signed it: its signature must verify (Ed25519 over "hfv-report/v1\n"
// and the RFC 8785 form, by npm canonicalize), so integrators can test their
// verifier against the spec alone.
// Usage: node examples.mjs SPEC
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import canonicalize from 'canonicalize';
import crypto from 'node:crypto';

const [specFile] = process.argv.slice(2);
if (!specFile) {
  console.error('usage: node examples.mjs SPEC');
  process.exit(2);
}
const spec = await SwaggerParser.dereference(specFile);
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
let checked = 0;
let failed = 0;
const fail = (where, why) => {
  failed += 1;
  console.error(`FAIL ${where}: ${why}`);
};

function checkMedia(where, content) {
  for (const [type, media] of Object.entries(content ?? {})) {
    const values = media.example !== undefined ? [media.example]
      : Object.values(media.examples ?? {}).map((e) => e.value);
    if (values.length === 0 || values.includes(undefined)) {
      fail(`${where} ${type}`, 'no example');
      continue;
    }
    for (const value of values) {
      checked += 1;
      const json = type === 'application/json';
      if (!json && typeof value !== 'string') {
        fail(`${where} ${type}`, 'the example of a text media type must be a string');
      } else if (media.schema && !ajv.validate(media.schema, value)) {
        fail(`${where} ${type}`, ajv.errorsText(ajv.errors));
      }
    }
  }
}

const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
let report;
let key;
for (const [p, item] of Object.entries(spec.paths)) {
  for (const method of methods.filter((m) => item[m])) {
    const op = item[method];
    const where = `${method.toUpperCase()} ${p}`;
    if (op.requestBody) checkMedia(`${where} request`, op.requestBody.content);
    for (const [status, response] of Object.entries(op.responses)) {
      checkMedia(`${where} ${status}`, response.content);
    }
    if (op.operationId === 'createVerification') report = op.responses['200'].content['application/json'].example;
    if (op.operationId === 'getReportSigningKey') key = op.responses['200'].content['application/json'].example;
  }
}

// The report example verifies with the key example.
if (!report?.signature || !key?.public_key_pem) {
  fail('report example', 'no signed report or no key example to check it with');
} else {
  const { value, ...signature } = report.signature;
  const signed = Buffer.concat([Buffer.from('hfv-report/v1\n'), Buffer.from(canonicalize({ ...report, signature }), 'utf8')]);
  const publicKey = crypto.createPublicKey(key.public_key_pem);
  if (report.signature.key_id !== key.key_id) fail('report example', 'signed by another key than the key example');
  else if (!crypto.verify(null, signed, publicKey, Buffer.from(value, 'hex'))) fail('report example', 'its signature does not verify');
  else console.log(`examples: the report example's signature verifies with the key example (${key.key_id})`);
}
console.log(`examples: ${checked} examples checked, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
