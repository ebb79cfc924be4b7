// Test fixture: the real agency simulator and the real brokerd as child
// processes (set up with `brokerd init`, like tests/integration/stack.hpp),
// a small mutual-TLS HTTPS client, and an NSS database holding the
// supervisor's client certificate for Chromium.
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export async function waitForFile(file, timeoutMs = 60000) {  // a ceiling for a loaded machine
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text.trim()) return text.trim();
    } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${file}`);
}

function startProcess(argv, logFile) {
  const log = fs.openSync(logFile, 'w');
  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', log, log]});
  fs.closeSync(log);
  return child;
}

function run(argv, what) {
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export class Stack {
  // adjustConfig(config, brokerDir) may edit brokerd.json before the daemon starts.
  static async start({brokerd, sim, source, dir, adjustConfig}) {
    const s = new Stack();
    s.dir = dir;
    s.children = [];
    fs.mkdirSync(dir, {recursive: true});
    const simChild = startProcess([sim, '--dataset', path.join(source, 'demo', 'dataset.json'), '--listen',
      '127.0.0.1:0', '--port-file', path.join(dir, 'sim.port')], path.join(dir, 'sim.log'));
    s.children.push(simChild);
    const simPort = await waitForFile(path.join(dir, 'sim.port'));
    s.brokerDir = path.join(dir, 'broker');
    run([brokerd, 'init', '--dir', s.brokerDir, '--listen', '127.0.0.1:0', '--agency-url',
      `http://127.0.0.1:${simPort}`], 'brokerd init');
    const configFile = path.join(s.brokerDir, 'brokerd.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    if (adjustConfig) adjustConfig(config, s.brokerDir);
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    s.broker = startProcess([brokerd, 'run', '--config', configFile], path.join(dir, 'brokerd.log'));
    s.children.push(s.broker);
    s.port = Number(await waitForFile(path.join(s.brokerDir, 'run', 'brokerd.port')));
    s.url = `https://127.0.0.1:${s.port}`;
    s.pki = path.join(s.brokerDir, 'pki');
    const read = (name) => fs.readFileSync(path.join(s.pki, name));
    s.caPem = read('ca.pem');
    s.caseSystem = {ca: s.caPem, cert: read('demo-case-system.pem'), key: read('demo-case-system.key')};
    s.supervisor = {ca: s.caPem, cert: read('demo-supervisor.pem'), key: read('demo-supervisor.key')};
    return s;
  }

  // One HTTPS exchange; resolves {status, headers, body (parsed JSON or text)}.
  request(method, urlPath, {tls, body, headers = {}} = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(this.url + urlPath, {
        method, ...tls,
        headers: {...headers, ...(data ? {'Content-Type': 'application/json'} : {})},
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let parsed = text;
          try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
          resolve({status: res.statusCode, headers: res.headers, body: parsed});
        });
      });
      req.on('error', reject);
      req.setTimeout(30000, () => req.destroy(new Error('timeout')));
      if (data) req.write(data);
      req.end();
    });
  }

  // Registers an authorisation and verifies a household, as the case system.
  async verify(caseId, members, operator = 'op-test-01') {
    const headers = {'X-Operator-Id': operator};
    const auth = await this.request('POST', '/v1/authorizations', {tls: this.caseSystem, headers, body: {
      case_id: caseId, jurisdiction: '230100', members: members.map((m) => m.id_number), categories: 'all',
      valid_from: '2026-01-01', valid_until: '2027-12-31', form_sha256: 'c'.repeat(64)}});
    if (auth.status !== 201) throw new Error(`authorization: ${auth.status} ${JSON.stringify(auth.body)}`);
    const v = await this.request('POST', '/v1/verifications', {tls: this.caseSystem, headers, body: {
      case_id: caseId, programme: 'dibao', jurisdiction: '230100', area: 'urban', reference_date: '2024-11-01',
      authorization_id: auth.body.authorization_id, members, obligors: []}});
    if (v.status !== 200) throw new Error(`verification: ${v.status} ${JSON.stringify(v.body)}`);
    return v.body;
  }

  // An NSS database (what Chromium on Linux reads as $HOME/.pki/nssdb) that
  // trusts the centre's CA and holds the supervisor's certificate and key.
  makeNssHome(home) {
    const db = path.join(home, '.pki', 'nssdb');
    fs.mkdirSync(db, {recursive: true});
    const sql = `sql:${db}`;
    run(['certutil', '-N', '-d', sql, '--empty-password'], 'certutil -N');
    run(['certutil', '-A', '-d', sql, '-n', 'hfv-centre-ca', '-t', 'C,,', '-i', path.join(this.pki, 'ca.pem')],
      'certutil -A');
    const p12 = path.join(home, 'supervisor.p12');
    run(['openssl', 'pkcs12', '-export', '-in', path.join(this.pki, 'demo-supervisor.pem'), '-inkey',
      path.join(this.pki, 'demo-supervisor.key'), '-name', 'demo-supervisor', '-out', p12, '-passout', 'pass:hfv'],
    'openssl pkcs12');
    run(['pk12util', '-i', p12, '-d', sql, '-W', 'hfv'], 'pk12util');
    fs.rmSync(p12);
    return db;
  }

  issuerCn() {
    const out = run(['openssl', 'x509', '-in', path.join(this.pki, 'ca.pem'), '-noout', '-subject', '-nameopt',
      'multiline'], 'openssl x509');
    const m = out.match(/commonName\s*=\s*(.+)/);
    return m ? m[1].trim() : '';
  }

  async stop() {
    if (this.broker && this.broker.exitCode === null) {
      this.broker.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(r, 10000); this.broker.once('exit', () => { clearTimeout(t); r(); }); });
    }
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
