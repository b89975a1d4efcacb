// Secrets: from files (mode 600 only) or the environment, never printed; certificates and keys
// loaded and cross-checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { execFileSync } from 'node:child_process';
import { format } from 'node:util';
import { doc, ENV, ok, problems, PSK_TEXT, tempDir, where } from './helpers.ts';
import { Secret } from '../../src/config/index.ts';
import { makeCellPki } from '../../lab/interop/pki.ts';
import { statusConnection, STATUS_DAEMON } from '../daemon/status-fixture.ts';

const pskFileDoc = (file: string) =>
  doc('').replace('auth: { psk: { env: PSK } }', `auth: { psk: { file: ${JSON.stringify(file)} } }`);

test('a PSK file with mode 600 is loaded; relative paths resolve from baseDir', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  tmp.write('secrets/hq.psk', `${PSK_TEXT}\n`);
  const { config } = ok(pskFileDoc('secrets/hq.psk'), { baseDir: tmp.dir });
  const auth = config.connections[0]!.auth;
  assert.equal(auth.kind, 'psk');
  if (auth.kind !== 'psk') return;
  assert.equal(Buffer.from(auth.psk.bytes()).toString(), PSK_TEXT); // trailing newline dropped
  assert.equal(auth.psk.source, `file ${tmp.dir}/secrets/hq.psk`);
});

test('a secret file readable by group or others is refused with "chmod 600"', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  for (const mode of [0o644, 0o640, 0o604]) {
    const file = tmp.write(`m${mode.toString(8)}.psk`, PSK_TEXT, mode);
    const ps = problems(pskFileDoc(file));
    assert.deepEqual(where(ps), ['6:26 E_SECRET connections.hq.auth.psk.file']);
    assert.equal(ps[0]!.hint, `run: chmod 600 ${file}`);
    assert.match(ps[0]!.message, new RegExp(`mode ${mode.toString(8)}`));
    assert.ok(!ps[0]!.message.includes(PSK_TEXT));
  }
});

test('a missing secret file and an unset variable are errors saying what to do', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const missing = problems(pskFileDoc('nope.psk'), { baseDir: tmp.dir });
  assert.equal(missing[0]!.code, 'E_SECRET');
  assert.match(missing[0]!.message, /cannot read .*nope\.psk: no such file/);
  const unset = problems(doc(), { env: {} });
  assert.deepEqual(where(unset), ['6:25 E_SECRET connections.hq.auth.psk.env']);
  assert.equal(unset[0]!.hint, 'export PSK=... before running ikeway');
});

test('env secrets decode text, 0x hex and 0s base64', () => {
  const bytes = (v: string) => {
    const a = ok(doc(), { env: { PSK: v } }).config.connections[0]!.auth;
    return a.kind === 'psk' ? Buffer.from(a.psk.bytes()).toString('hex') : '';
  };
  assert.equal(bytes('0x00112233445566778899aabbccddeeff'), '00112233445566778899aabbccddeeff');
  const b64 = Buffer.from('0123456789abcdef0123').toString('base64');
  assert.equal(bytes(`0s${b64}`), Buffer.from('0123456789abcdef0123').toString('hex'));
  assert.equal(bytes(PSK_TEXT), Buffer.from(PSK_TEXT).toString('hex'));
  const bad = problems(doc(), { env: { PSK: '0xzz' } });
  assert.equal(bad[0]!.code, 'E_SECRET');
  assert.match(bad[0]!.message, /not valid hex/);
});

test('inline secrets: a plain string is refused; insecure-inline warns; short keys warn', () => {
  const inline = doc('').replace('{ psk: { env: PSK } }', '{ psk: "hunter2-hunter2-hunter2" }');
  const ps = problems(inline);
  assert.deepEqual(where(ps), ['6:18 E_SECRET connections.hq.auth.psk']);
  assert.match(ps[0]!.hint, /psk: \{ file: <path> \}/);
  assert.ok(!JSON.stringify(ps).includes('hunter2'));
  const hatch = doc('').replace('{ psk: { env: PSK } }', '{ psk: { insecure-inline: short } }');
  const { warnings } = ok(hatch);
  assert.deepEqual(
    warnings.map((w) => w.code),
    ['W_INSECURE', 'W_WEAK'],
  );
  assert.ok(!JSON.stringify(warnings).includes('short'.repeat(1) + '"'));
});

test('Secret never shows its bytes: String, template, JSON, inspect, format', () => {
  const s = new Secret(Buffer.from(PSK_TEXT), 'env PSK');
  const { config } = ok(doc(), { env: ENV });
  const outputs = [
    String(s),
    `${s}`,
    JSON.stringify(s),
    JSON.stringify(config),
    inspect(s),
    inspect(config, { depth: 10 }),
    format('%s %o %O %j', s, s, config, config),
    s + '',
  ];
  for (const out of outputs) {
    assert.ok(!out.includes(PSK_TEXT), out);
    assert.ok(!out.includes(Buffer.from(PSK_TEXT).toString('hex')), out);
    assert.ok(out.includes('<redacted>'), out);
  }
  s.wipe();
  assert.ok(s.bytes().every((b) => b === 0));
});

test('the config is deeply frozen', () => {
  const { config } = ok(doc('    local-subnets: [10.1.0.0/24]\n'), { env: ENV });
  const conn = config.connections[0]!;
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.connections) && Object.isFrozen(conn));
  assert.ok(Object.isFrozen(conn.localSubnets[0]) && Object.isFrozen(config.retransmit));
  assert.throws(() => {
    (conn as { mode: string }).mode = 'transport';
  }, TypeError);
});

test('certificates: loaded, key matched, CA checked, local id from the subject', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const script = new URL('../../examples/make-test-ca.sh', import.meta.url).pathname;
  execFileSync('sh', [script, `${tmp.dir}/c`, 'gw1:192.0.2.1', 'gw2'], { stdio: 'pipe' });
  const certDoc = (cert: string, key: string, ca: string) =>
    doc('').replace('{ psk: { env: PSK } }', `{ cert: { cert: ${cert}, key: ${key}, ca: ${ca} } }`);
  const good = ok(certDoc('c/gw1.crt', 'c/gw1.key', 'c/ca.crt'), { baseDir: tmp.dir }).config.connections[0]!;
  assert.deepEqual(good.localId, { kind: 'dn', value: 'O=ikeway test, CN=gw1.example.net' });
  assert.equal(good.auth.kind === 'cert' && good.auth.ca.length, 1);
  const ps = problems(certDoc('c/gw1.crt', 'c/gw2.key', '[c/gw2.crt, c/ca.key]'), { baseDir: tmp.dir });
  assert.deepEqual(where(ps), [
    '6:43 E_CREDENTIAL connections.hq.auth.cert.key',
    '6:59 E_CREDENTIAL connections.hq.auth.cert.ca[0]',
    '6:70 E_CREDENTIAL connections.hq.auth.cert.ca[1]',
  ]);
  assert.match(ps[0]!.message, /is not the private key of/);
  assert.match(ps[1]!.message, /is not a CA certificate/);
  assert.match(ps[2]!.message, /not a PEM certificate/);
  const later = ok(certDoc('c/gw1.crt', 'c/gw1.key', 'c/ca.crt'), {
    baseDir: tmp.dir,
    now: new Date('2100-01-01'),
  });
  assert.deepEqual(
    later.warnings.map((w) => `${w.code} ${w.path}`),
    ['W_CERT connections.hq.auth.cert.cert', 'W_CERT connections.hq.auth.cert.ca[0]'],
  );
});

test('certificates: an intermediate chain is loaded in order, a misordered or non-CA chain is refused', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const pki = makeCellPki(`${tmp.dir}/p`, 'ecdsa', ['gw1.example.net'], 2);
  const end = pki.ends['gw1.example.net']!;
  const chainDoc = (chain: string) =>
    doc('').replace(
      '{ psk: { env: PSK } }',
      `{ cert: { cert: ${end.cert}, key: ${end.key}, ca: ${pki.root}, chain: ${chain} } }`,
    );
  const [i1, i2] = pki.intermediates as [string, string];
  // The end certificate was issued by the last intermediate: that one comes first.
  const good = ok(chainDoc(`[${i2}, ${i1}]`)).config.connections[0]!;
  assert.ok(good.auth.kind === 'cert');
  if (good.auth.kind !== 'cert') return;
  assert.deepEqual(
    good.auth.chain.map((c) => c.subject),
    ['O=ikeway interop\nCN=Interop Intermediate CA 2', 'O=ikeway interop\nCN=Interop Intermediate CA 1'],
  );
  assert.deepEqual(good.auth.chainFiles, [i2, i1]);
  const ps = problems(chainDoc(`[${i1}, ${i2}]`));
  assert.deepEqual(
    ps.map((p) => `${p.code} ${p.path}`),
    ['E_CREDENTIAL connections.hq.auth.cert.chain[0]', 'E_CREDENTIAL connections.hq.auth.cert.chain[1]'],
  );
  assert.match(ps[0]!.message, /inter1\.pem did not issue our certificate/);
  assert.match(ps[0]!.hint, /issued our certificate first/);
  const notCa = problems(chainDoc(`[${end.cert}]`));
  assert.deepEqual(
    notCa.map((p) => `${p.code} ${p.path} ${p.message}`),
    [`E_CREDENTIAL connections.hq.auth.cert.chain[0] ${end.cert} is not a CA certificate`],
  );
});

test('debug-keys off: no key material in the status snapshot, the metrics page, the logs or any file', async (t) => {
  const { pair } = await import('../exchange/harness.ts');
  const { buildStatus } = await import('../../src/daemon/status.ts');
  const { Metrics } = await import('../../src/daemon/metrics.ts');
  const { ConnEvents } = await import('../../src/daemon/conn-events.ts');
  const { readdirSync } = await import('node:fs');
  const tmp = tempDir();
  const h = pair();
  t.after(async () => {
    await h.close();
    tmp.cleanup();
  });
  const events = new ConnEvents();
  h.a.engine.onEvent((e) => events.onEvent(e));
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const k = sa.keymat!.keys;
  const secrets = [k.skD, k.skEi, k.skEr, k.skPi, k.skPr, ...h.a.kernel.installed.map((p) => p.aead!.key)]
    .map((b) => Buffer.from(b).toString('hex'))
    .concat([Buffer.from('a shared secret of reasonable length').toString('hex'), 'a shared secret']);
  const conn = statusConnection(h.a.conn.localAddr, h.a.conn.remoteAddr);
  const snapshot = (kernelCounters: boolean) =>
    buildStatus({
      daemon: STATUS_DAEMON,
      engine: h.a.engine,
      kernel: h.a.kernel,
      connections: [conn],
      failClosed: () => 0,
      times: { ike: new WeakMap(), child: new WeakMap() },
      now: 0,
      kernelCounters,
    });
  const metrics = new Metrics(
    {
      snapshot: () => snapshot(false),
      kernelSas: () => h.a.kernel.dumpSas(), // the fake kernel's dump: what it stores has the keys
      events,
      halfOpen: () => 0,
      cookieThreshold: () => 30,
      certificateExpiry: () => undefined,
      debugKeys: false,
    },
    { processMetrics: false },
  );
  const page = await metrics.scrape();
  assert.match(page, /^ikeway_connection_up\{connection="site"\} 1$/m, 'the page is about the live SA');
  assert.match(page, /^ikeway_debug_keys_enabled 0$/m);
  for (const dir of ['in', 'out'])
    assert.match(
      page,
      new RegExp(
        `^ikeway_child_sa_bytes_total\\{connection="site",child_sa="\\d+",direction="${dir}",spi="[0-9a-f]{8}"\\} 0$`,
        'm',
      ),
    );
  const logs = JSON.stringify([h.a.logger, h.b.logger]);
  const outputs = [JSON.stringify(await snapshot(true)), page, logs];
  for (const out of outputs)
    for (const s of secrets) assert.ok(!out.includes(s), `a key in: ${out.slice(0, 200)}`);
  // Without debug-keys the kernel is not wrapped: no path exists by which ESP keys reach a file.
  const { Ops } = await import('../../src/daemon/ops.ts');
  const ops = new Ops(h.a.logger, {});
  ops.configure(ok(doc(), { env: ENV }).config);
  assert.equal(ops.wrapKernel(h.a.kernel), h.a.kernel);
  assert.deepEqual(readdirSync(tmp.dir), []);
});
