// --log-level trace: one line per IKE datagram from its fixed header (RFC 7296 §3.1), nothing from
// the payloads; nothing at all while the level is off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { floodTemplate, freshRequest } from '../../lab/robust/flood.ts';
import { headerSummary, traceDatagrams } from '../../src/net/trace.ts';

const path = { localAddr: '192.0.2.1', localPort: 500, remoteAddr: '192.0.2.2', remotePort: 500 };

test('the header summary names exchange, direction, role, message ID, SPIs and first payload', () => {
  const p = freshRequest(floodTemplate());
  const h = headerSummary(p)!;
  assert.equal(h.exchange, 'IKE_SA_INIT');
  assert.equal(h.kind, 'request');
  assert.equal(h.from, 'initiator');
  assert.equal(h.msgid, 0);
  assert.equal(h.spiI, Buffer.from(p.subarray(0, 8)).toString('hex'));
  assert.equal(h.spiR, '0000000000000000');
  assert.equal(h.first, 'SA');
  assert.equal(h.len, p.length);
  assert.equal(headerSummary(new Uint8Array(27)), undefined);
});

test('trace lines only while the level is on, and no payload bytes in them', () => {
  const lines: { m: string; f: Record<string, string | number> }[] = [];
  let on = false;
  const trace = traceDatagrams(
    () => on,
    (m, f) => lines.push({ m, f }),
  );
  const p = freshRequest(floodTemplate());
  trace('rx', p, path);
  assert.equal(lines.length, 0);
  on = true;
  trace('rx', p, path);
  trace('tx', p, path);
  assert.deepEqual(
    lines.map((l) => [l.m, l.f.dir, l.f.peer]),
    [
      ['datagram received', 'rx', '192.0.2.2:500'],
      ['datagram sent', 'tx', '192.0.2.2:500'],
    ],
  );
  // The nonce (last 32 octets of the crafted request) appears nowhere.
  const nonce = Buffer.from(p.subarray(p.length - 32)).toString('hex');
  assert.ok(!JSON.stringify(lines).includes(nonce));
});
