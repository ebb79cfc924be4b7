#!/usr/bin/env python3
"""A case system's client for the hfv broker, in Python's standard library.

For each household in HOUSEHOLDS.json it registers the signed authorisation
(POST /v1/authorizations), verifies the household (POST /v1/verifications:
synchronously for the first, with "async": true and polling the Location for
the others), then checks the report's Ed25519 signature offline with the
broker's published key (GET /v1/keys/report-signing), as docs/integration.md
describes. Only the standard library (http.client, ssl, json) and, for the
Ed25519 check (the standard library has none), the openssl command (OpenSSL
3: `openssl pkeyutl -verify -rawin`). With Debian's python3-cryptography
installed, Ed25519PublicKey.verify() does the same in-process.

Usage: hfv_client.py --url https://host:port --ca ca.pem --cert client.pem
       --key client.key --operator OPERATOR --households households.json
       [--reference-date YYYY-MM-DD]
Exit status 0 only when every household got a report whose signature verified.
"""
import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

DOMAIN_PREFIX = b"hfv-report/v1\n"


# --- RFC 8785 (JSON Canonicalization Scheme) for the values a report holds ---
# Reports hold objects, arrays, strings, integers, booleans and null (money is
# in decimal-yuan strings), so numbers here are integers; a non-integer number
# would need ECMAScript's Number.prototype.toString form (RFC 8785 §3.2.2.3),
# which this sample refuses rather than guesses.
def _jcs_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif c < 0x20:
            short = {0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r'}
            out.append(short.get(c, '\\u%04x' % c))
        else:
            out.append(ch)  # everything else as itself, UTF-8 encoded below
    out.append('"')
    return ''.join(out)


def jcs(value):
    """The RFC 8785 canonical form of value, as UTF-8 bytes."""
    return _jcs(value).encode('utf-8')


def _jcs(v):
    if v is None:
        return 'null'
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        raise ValueError('a non-integer number: not expected in a report')
    if isinstance(v, str):
        return _jcs_string(v)
    if isinstance(v, list):
        return '[' + ','.join(_jcs(x) for x in v) + ']'
    if isinstance(v, dict):
        # Members sorted by their names' UTF-16 code units.
        names = sorted(v, key=lambda k: k.encode('utf-16-be'))
        return '{' + ','.join(_jcs_string(k) + ':' + _jcs(v[k]) for k in names) + '}'
    raise TypeError('not a JSON value: %r' % type(v))


def _no_duplicates(pairs):
    names = [k for k, _ in pairs]
    if len(names) != len(set(names)):
        raise ValueError('an object names a member twice')
    return dict(pairs)


def verify_report(report_bytes, public_key_pem):
    """True when the report (the bytes as received) carries a valid signature."""
    try:
        report = json.loads(report_bytes, object_pairs_hook=_no_duplicates)
        canonical = jcs(report)
    except (ValueError, TypeError):
        return False  # not JSON, a member named twice, or a value a report never holds
    if not isinstance(report, dict) or canonical != report_bytes:
        return False  # re-serialised or re-spaced: keep a report's bytes as received
    sig = report.get('signature')
    if not isinstance(sig, dict) or sig.get('alg') != 'Ed25519' or sig.get('format') != 'hfv-report/v1':
        return False
    try:
        value = bytes.fromhex(sig['value'])
    except (KeyError, TypeError, ValueError):
        return False
    signed = dict(report)
    signed['signature'] = {k: v for k, v in sig.items() if k != 'value'}
    message = DOMAIN_PREFIX + jcs(signed)
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ('key.pem', 'msg', 'sig')}
        for name, data in (('key.pem', public_key_pem.encode()), ('msg', message), ('sig', value)):
            with open(paths[name], 'wb') as f:
                f.write(data)
        done = subprocess.run(['openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', paths['key.pem'],
                               '-rawin', '-in', paths['msg'], '-sigfile', paths['sig']],
                              capture_output=True)
        return done.returncode == 0


class Broker:
    """One mutual-TLS connection to the broker, reopened when it closes."""

    def __init__(self, url, ca, cert, key, operator):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 443
        self.context = ssl.create_default_context(cafile=ca)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert, key)
        self.operator = operator
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes); retries 429/503 after Retry-After."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode('utf-8')
        h = {'X-Operator-Id': self.operator, 'Accept': 'application/json'}
        if data is not None:
            h['Content-Type'] = 'application/json'
        h.update(headers or {})
        for attempt in range(5):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 4:
                    raise
                continue
            if resp.status in (429, 503) and attempt < 4:
                # Safe to repeat: a verification carries an Idempotency-Key.
                time.sleep(int(resp.getheader('Retry-After', '1')))
                continue
            return resp.status, resp, payload
        raise RuntimeError('unreachable')


def fail(what, status, payload):
    try:
        err = json.loads(payload)
        detail = '%s: %s%s' % (err.get('error'), err.get('message'),
                               ' (field %s)' % err['field'] if 'field' in err else '')
    except ValueError:
        detail = payload[:200]
    raise RuntimeError('%s: HTTP %d %s' % (what, status, detail))


def verify_household(broker, household, reference_date, use_async):
    ids = [m['id_number'] for m in household['members']]
    status, _, payload = broker.request('POST', '/v1/authorizations', {
        'case_id': household['case_id'], 'jurisdiction': household['jurisdiction'], 'members': ids,
        'categories': 'all', 'valid_from': '2024-01-01', 'valid_until': '2027-12-31',
        'form_sha256': household['form_sha256']})
    if status != 201:
        fail('register the authorisation', status, payload)
    authorization_id = json.loads(payload)['authorization_id']

    body = {'case_id': household['case_id'], 'programme': 'dibao', 'jurisdiction': household['jurisdiction'],
            'area': 'urban', 'reference_date': reference_date, 'authorization_id': authorization_id,
            'members': household['members'], 'obligors': []}
    if use_async:
        body['async'] = True
    key = 'sample-py-%s-%s' % (household['case_id'], reference_date)
    status, resp, payload = broker.request('POST', '/v1/verifications', body, {'Idempotency-Key': key})
    polls = 0
    deadline = time.monotonic() + 120
    while status == 202:
        location = resp.getheader('Location')
        time.sleep(min(0.2 * (polls + 1), 2.0))  # back off; Retry-After when given
        polls += 1
        if time.monotonic() > deadline:
            raise RuntimeError('verification still running after 120 s')
        status, resp, payload = broker.request('GET', location)
    if status != 200:
        fail('verify the household', status, payload)
    return payload, polls


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    for name in ('url', 'ca', 'cert', 'key', 'operator', 'households'):
        p.add_argument('--' + name, required=True)
    p.add_argument('--reference-date', default='2024-11-01')
    p.add_argument('--out', help='a folder to keep each report as received')
    args = p.parse_args()
    with open(args.households, encoding='utf-8') as f:
        households = json.load(f)

    broker = Broker(args.url, args.ca, args.cert, args.key, args.operator)
    status, _, payload = broker.request('GET', '/v1/keys/report-signing')
    if status != 200:
        fail('fetch the report-signing key', status, payload)
    key = json.loads(payload)

    failures = 0
    for i, household in enumerate(households):
        report_bytes, polls = verify_household(broker, household, args.reference_date, use_async=i > 0)
        report = json.loads(report_bytes)
        ok = report['signature']['key_id'] == key['key_id'] and verify_report(report_bytes, key['public_key_pem'])
        # A report with one character changed must not verify.
        tampered = report_bytes.replace(b'"outcome":"', b'"outcome":"X', 1)
        tamper_refused = not verify_report(tampered, key['public_key_pem'])
        if args.out:
            with open(os.path.join(args.out, household['case_id'] + '.json'), 'wb') as f:
                f.write(report_bytes)
        print('%s: %s (%s), %s, polled %d times, signature %s, tampered copy %s' % (
            household['case_id'], report['outcome'], report['classification'],
            'async' if i > 0 else 'sync', polls, 'verified' if ok else 'INVALID',
            'refused' if tamper_refused else 'ACCEPTED'))
        failures += 0 if ok and tamper_refused else 1
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
