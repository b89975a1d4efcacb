// `ikeway decode` end to end through bin/ikeway.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strongswanMessages } from './strongswan-vectors.ts';
import { SA_INIT_REQUEST } from '../vectors/codec/golden.ts';

const bin = new URL('../../bin/ikeway.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('decode --hex <real strongSwan IKE_SA_INIT> --reencode dissects and says identical', () => {
  const init = strongswanMessages().find((m) => m.exchange === 'IKE_SA_INIT');
  assert.ok(init);
  const hex = Buffer.from(init.bytes).toString('hex').replace(/(..)/g, '$1:').slice(0, -1); // colons tolerated
  const r = run('decode', '--hex', hex, '--reencode');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^IKE_SA_INIT request #0 from initiator/);
  assert.match(r.stdout, /SA: proposal 1 IKE: ENCR \w+/);
  assert.match(r.stdout, /NOTIFY: NAT_DETECTION_SOURCE_IP/);
  assert.match(r.stdout, /re-encode: identical/);
});

test('decode exits 1 with the offset-precise message on a malformed message', () => {
  const bad = SA_INIT_REQUEST.slice();
  bad[31] = 3;
  const r = run('decode', '--hex', Buffer.from(bad).toString('hex'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /offset 28: payload length 3 shorter than the generic header \(4\)/);
});

/** Classic pcap, Ethernet: one IKE packet on 500, one on 4500 with the marker, an ESP and a keepalive. */
function pcapOf(ike: Uint8Array): Uint8Array {
  const udp = (sport: number, dport: number, payload: Uint8Array) => {
    const u = Buffer.alloc(8 + payload.length);
    u.writeUInt16BE(sport, 0);
    u.writeUInt16BE(dport, 2);
    u.writeUInt16BE(u.length, 4);
    u.set(payload, 8);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + u.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.set([192, 0, 2, 1], 12);
    ip.set([192, 0, 2, 2], 16);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, u]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  };
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return Buffer.concat([
    g,
    udp(500, 500, ike),
    udp(4500, 4500, Buffer.from([0xff])), // NAT keepalive (RFC 3948 §2.3)
    udp(4500, 4500, Buffer.from('c0ffee0100000001aaaaaaaa', 'hex')), // ESP-in-UDP
    udp(4500, 4500, Buffer.concat([Buffer.alloc(4), ike])), // non-ESP marker + IKE
  ]);
}

test('decode --pcap finds IKE on 500 and 4500, skipping ESP and keepalives', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-codec-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ike.pcap');
  writeFileSync(file, pcapOf(SA_INIT_REQUEST));
  const r = run('decode', '--pcap', file, '--reencode');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /packet 1 192\.0\.2\.1:500 -> 192\.0\.2\.2:500\nIKE_SA_INIT request/);
  assert.match(r.stdout, /packet 4 192\.0\.2\.1:4500 -> 192\.0\.2\.2:4500\nIKE_SA_INIT request/);
  assert.doesNotMatch(r.stdout, /packet [23]/);
  assert.equal(r.stdout.match(/re-encode: identical/g)?.length, 2);
  const j = run(
    'decode',
    '--pcap',
    new URL('../vectors/strongswan/a-psk-aesgcm256-x25519.pcap', import.meta.url).pathname,
    '--json',
  );
  assert.equal(j.status, 0, j.stderr);
  assert.match(j.stdout, /"kind": "SK"/);
});

test('decode --pcap on a missing file: one line naming the file, exit 1, no stack trace', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-codec-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'missing.pcap');
  const r = run('decode', '--pcap', file);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `--pcap ${file}: cannot read: no such file\n`);
});

test('decode --pcap on a file that is no capture: one line with the reason, exit 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-codec-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'this is not a capture\n');
  const r = run('decode', '--pcap', text);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `--pcap ${text}: not a pcap/pcapng file: magic 74686973\n`);
  // A real pcap cut short inside its first record.
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, pcapOf(SA_INIT_REQUEST).subarray(0, 50));
  const c = run('decode', '--pcap', cut);
  assert.equal(c.status, 1);
  assert.equal(c.stderr, `--pcap ${cut}: pcap: record at 24 truncated\n`);
});
