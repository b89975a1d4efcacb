// debug-keys (src/daemon/keylog.ts): the IKE SA keys of an in-memory IKE SA pair in Wireshark's
// ikev2_decryption_table format and its ESP SAs in the esp_sa format, files of mode 600 created
// safely; and, when tshark is installed, tshark decrypting the IKE_AUTH exchange of a capture of
// the memory network with the line written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KeyLog, KeyLogError, keyLoggingKernel } from '../../src/daemon/keylog.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import type { WireDatagram } from '../../src/net/memory.ts';
import { established, pair } from '../exchange/harness.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unquote = (line: string) => JSON.parse(`[${line}]`) as string[];

/** A classic pcap (LINKTYPE_IPV4 = 228) of the datagrams: IPv4 + UDP headers around each payload. */
function pcap(datagrams: readonly WireDatagram[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(228, 20);
  const recs = datagrams.map((d, i) => {
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip.writeUInt16BE(28 + d.data.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    Buffer.from(d.srcAddr.split('.').map(Number)).copy(ip, 12);
    Buffer.from(d.dstAddr.split('.').map(Number)).copy(ip, 16);
    let sum = 0;
    for (let j = 0; j < 20; j += 2) sum += ip.readUInt16BE(j);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    ip.writeUInt16BE(d.srcPort, 20);
    ip.writeUInt16BE(d.dstPort, 22);
    ip.writeUInt16BE(8 + d.data.length, 24);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(28 + d.data.length, 8);
    rec.writeUInt32LE(28 + d.data.length, 12);
    return Buffer.concat([rec, ip, Buffer.from(d.data)]);
  });
  return Buffer.concat([head, ...recs]);
}

test('debug-keys: IKE keys as ikev2_decryption_table lines, ESP keys as esp_sa lines, mode 600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-keylog-'));
  const h = pair();
  t.after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'keys');
  const log = KeyLog.open(file);
  h.a.engine.onEvent((e) => e.type === 'ike-established' && log.ikeSa(e.sa));
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  // The ESP SAs as the kernel received them, through the logging kernel (what the daemon wraps).
  const k = keyLoggingKernel(new FakeKernel(), log);
  // One SA alone, the others in a batch (how ike/kernel-install.ts hands over a Child SA's pair).
  const [first, ...rest] = h.a.kernel.installed;
  await k.addSa(first!);
  await k.batch(rest.map((sa) => ({ op: 'addSa' as const, sa })));
  log.close();

  for (const f of [file, `${file}.esp`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  const ike = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(ike.length, 1);
  const f = ike[0]!.split(',').map((x) => x.replace(/^"(.*)"$/, '$1'));
  assert.match(ike[0]!, /^[0-9a-f]{16},[0-9a-f]{16},[0-9a-f]+,[0-9a-f]+,"[^"]+",,,"[^"]+"$/);
  const keys = sa.keymat!.keys;
  assert.deepEqual(f, [
    hex(sa.spiI),
    hex(sa.spiR),
    hex(keys.skEi),
    hex(keys.skEr),
    'AES-GCM-256 with 16 octet ICV [RFC5282]', // the harness's aes256gcm16
    '',
    '',
    'NONE [RFC4306]',
  ]);
  const esp = readFileSync(`${file}.esp`, 'utf8').trim().split('\n').map(unquote);
  assert.equal(esp.length, h.a.kernel.installed.length);
  for (const [i, p] of h.a.kernel.installed.entries()) {
    assert.deepEqual(esp[i], [
      'IPv4',
      p.src,
      p.dst,
      `0x${p.spi.toString(16).padStart(8, '0')}`,
      'AES-GCM with 16 octet ICV [RFC4106]',
      `0x${hex(p.aead!.key)}`,
      'NULL',
      '',
    ]);
  }

  const have = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (have.status !== 0) {
    t.diagnostic('tshark not installed (scripts/install-deps.sh): decryption not checked');
    return;
  }
  const cap = join(dir, 'ike.pcap');
  writeFileSync(cap, pcap(h.net.log));
  const run = (uat: string[]) =>
    spawnSync(
      'tshark',
      ['-n', '-r', cap, '-V', ...uat.flatMap((l) => ['-o', `uat:ikev2_decryption_table:${l}`])],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
  const without = run([]);
  assert.equal(without.status, 0, without.stderr);
  assert.doesNotMatch(without.stdout, /Payload: Identification - Initiator/);
  const r = run(ike);
  assert.equal(r.status, 0, r.stderr);
  // RFC 7296 §1.2: IKE_AUTH carries IDi, AUTH, SAi2, TSi, TSr inside SK {...}.
  assert.match(r.stdout, /Payload: Identification - Initiator/);
  assert.match(r.stdout, /Payload: Authentication/);
  assert.match(r.stdout, /Payload: Traffic Selector - Initiator/);
  assert.match(r.stdout, /b\.example/, 'the responder identity, decrypted');
  assert.equal(established(h.b).length, 1);
  // The esp_sa lines are accepted by tshark's UAT parser (the memory network carries no ESP to decrypt).
  const espLines = readFileSync(`${file}.esp`, 'utf8').trim().split('\n');
  const e = spawnSync(
    'tshark',
    [
      '-n',
      '-r',
      cap,
      '-o',
      'esp.enable_encryption_decode:TRUE',
      ...espLines.flatMap((l) => ['-o', `uat:esp_sa:${l}`]),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(e.status, 0, e.stderr);
});

test('debug-keys files: an existing file must be ours and 600, never a symlink', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-keylog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const open = join(dir, 'open');
  writeFileSync(open, '', { mode: 0o644 });
  assert.throws(
    () => KeyLog.open(open),
    (e: unknown) => e instanceof KeyLogError && /mode 644/.test(e.message),
  );
  const target = join(dir, 'target');
  writeFileSync(target, '', { mode: 0o600 });
  const link = join(dir, 'link');
  symlinkSync(target, link);
  assert.throws(() => KeyLog.open(link), /not a regular file \(a symlink\?\)/);
  assert.throws(() => KeyLog.open(join(dir, 'no', 'such', 'dir')), /debug-keys: cannot create .*ENOENT/);
  const ok = join(dir, 'ok');
  writeFileSync(ok, '', { mode: 0o600 });
  KeyLog.open(ok).close(); // an existing private file is appended to
});

test('decode --keys: the debug-keys file opens the SK payloads of a capture; wrong or missing keys say so', async (t) => {
  const { parseIkeKeyFile, KeyFileError } = await import('../../src/daemon/keyfile.ts');
  const { KeyedDecoder } = await import('../../src/cli/commands/decode-keys.ts');
  const { decodeMessage } = await import('../../src/codec/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-keylog-'));
  const h = pair();
  t.after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'keys');
  const log = KeyLog.open(file);
  h.a.engine.onEvent((e) => e.type === 'ike-established' && log.ikeSa(e.sa));
  h.a.engine.initiate('site');
  await h.settle(0);
  log.close();
  const text = readFileSync(file, 'utf8');
  const open = (entries: ReturnType<typeof parseIkeKeyFile>) => {
    const d = new KeyedDecoder(entries);
    return h.net.log.map((g) => d.open(g.data, decodeMessage(g.data, { rejectUnknownCritical: false })));
  };
  const opened = open(parseIkeKeyFile(text, file));
  assert.deepEqual(
    opened.map((o) => o.state),
    ['clear', 'clear', 'decrypted', 'decrypted'],
    'IKE_SA_INIT in clear, both IKE_AUTH messages opened',
  );
  const kinds = opened.flatMap((o) => (o.state === 'decrypted' ? o.payloads.map((p) => p.kind) : []));
  for (const k of ['IDi', 'AUTH', 'SA', 'TSi', 'TSr', 'IDr']) assert.ok(kinds.includes(k as never), k);
  // One wrong key byte: the ICV check fails and says so; SPIs not in the file: no key.
  const [e] = parseIkeKeyFile(text, file);
  const bad = { ...e!, skEi: Uint8Array.from(e!.skEi, (b, i) => (i === 0 ? b ^ 1 : b)) };
  const wrong = open([bad]);
  assert.equal(wrong[2]!.state, 'failed');
  assert.equal(wrong[3]!.state, 'decrypted', 'the responder direction has its own key');
  assert.equal(open([{ ...e!, spiI: '0000000000000000' }])[2]!.state, 'no-key');
  // Bad lines name the line and field, never a key.
  assert.throws(
    () => parseIkeKeyFile(`\n${text.replace(/^[0-9a-f]{16}/, 'xyz')}`, 'k'),
    /^Error: k:2: SPIi must be 16 hex digits$/,
  );
  assert.throws(
    () => parseIkeKeyFile('a,b,c', 'k'),
    (x: unknown) => x instanceof KeyFileError && /k:1: 3 fields/.test(String(x)),
  );
  assert.throws(
    () => parseIkeKeyFile(text.replace('AES-GCM-256', 'ROT13'), 'k'),
    /unknown encryption algorithm "ROT13 with/,
  );

  // The command: text output with the decrypted payloads; a bad key file exits 1 naming the line.
  const cap = join(dir, 'ike.pcap');
  writeFileSync(cap, pcap(h.net.log));
  const cli = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '..', '..', 'bin', 'ikeway.js'),
        'decode',
        '--pcap',
        cap,
        ...args,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
  const r = cli('--keys', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /IKE_AUTH request #1 from initiator[\s\S]*?decrypted:\n\s+IDi: FQDN a\.example/);
  assert.match(r.stdout, /IKE_AUTH response #1 from responder[\s\S]*?decrypted:\n\s+IDr: FQDN b\.example/);
  for (const k of [e!.skEi, e!.skEr]) assert.ok(!r.stdout.includes(hex(k)), 'no key in the output');
  const badFile = join(dir, 'bad');
  writeFileSync(badFile, 'not,a,key,line\n');
  const b = cli('--keys', badFile);
  assert.equal(b.status, 1);
  assert.match(b.stderr, new RegExp(`--keys ${badFile}:1: 4 fields`));
});
