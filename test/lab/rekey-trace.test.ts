// The rekey timing of the no-loss lab (lab/interop/rekey-trace.ts) reads tcpdump and `ip -ts xfrm
// monitor` lines as those tools print them, keeps no key line, and orders a Child SA rekey's steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  childRekeyTiming,
  describeTiming,
  MonitorParser,
  parseTcpdumpLine,
  type TraceEvent,
} from '../../lab/interop/rekey-trace.ts';

const WAN = '192.0.2.1';

test('tcpdump lines: ESP by SPI and direction, IKE on 500/4500, the rest ignored', () => {
  assert.deepEqual(
    parseTcpdumpLine(
      '1796627051.520389 IP 192.0.2.2 > 192.0.2.1: ESP(spi=0x0000abcd,seq=0x5), length 48',
      WAN,
    ),
    { t: 1796627051520.389, kind: 'esp-in', spi: '0000abcd' },
  );
  assert.equal(
    parseTcpdumpLine(
      '1796627051.520389 IP 192.0.2.1 > 192.0.2.2: ESP(spi=0xc053473c,seq=0x9), length 120',
      WAN,
    )?.kind,
    'esp-out',
  );
  assert.equal(
    parseTcpdumpLine('1796627051.5 IP 192.0.2.1.500 > 192.0.2.2.500: isakmp: child_sa child_sa[I]', WAN)
      ?.kind,
    'ike-out',
  );
  assert.equal(
    parseTcpdumpLine('1796627051.5 IP 192.0.2.2.4500 > 192.0.2.1.4500: NONESP-encap: isakmp: child_sa', WAN)
      ?.kind,
    'ike-in',
  );
  // A host 192.0.2.15 is not the router 192.0.2.1; other traffic and other lines are not events.
  assert.equal(
    parseTcpdumpLine('1.0 IP 192.0.2.15 > 192.0.2.2: ESP(spi=0x1,seq=0x1), length 9', WAN),
    undefined,
  );
  assert.equal(parseTcpdumpLine('1.0 IP 192.0.2.2.53 > 192.0.2.1.9: UDP, length 9', WAN), undefined);
  assert.equal(parseTcpdumpLine('listening on wan, link-type EN10MB', WAN), undefined);
});

test('xfrm monitor: new, updated and deleted SAs by SPI; key lines never kept', () => {
  const p = new MonitorParser();
  for (const l of [
    '[2026-12-07T06:59:44.707968] src 192.0.2.2 dst 192.0.2.1',
    '\tproto esp spi 0xc053473c reqid 1 mode tunnel',
    '\taead rfc4106(gcm(aes)) 0x00112233445566778899aabbccddeeff 128',
    '[2026-12-07T06:59:44.800000] Updated src 192.0.2.2 dst 192.0.2.1',
    '\tproto esp spi 0x0000abcd reqid 1 mode tunnel',
    '[2026-12-07T06:59:45.000000] src 10.0.0.0/24 dst 10.1.0.0/24 ',
    '\tdir out priority 0 ptype main ',
    '[2026-12-07T06:59:46.000000] Deleted src 192.0.2.2 dst 192.0.2.1',
    '\tproto esp spi 0x0000abcd reqid 1 mode tunnel',
    '[2026-12-07T06:59:47.000000] Expired src 192.0.2.2 dst 192.0.2.1',
    '\tproto esp spi 0x0000abcd reqid 1 mode tunnel',
  ])
    p.line(l);
  const t0 = Date.parse('2026-12-07T06:59:44Z');
  assert.deepEqual(p.events, [
    { t: t0 + 707.968, kind: 'sa-new', spi: 'c053473c' },
    { t: t0 + 800, kind: 'sa-upd', spi: '0000abcd' },
    { t: t0 + 2000, kind: 'sa-del', spi: '0000abcd' },
  ]);
  assert.ok(!JSON.stringify(p.events).includes('00112233'), 'no key material');
});

test('a Child SA rekey: every step after the request, and the ESP that came before the inbound SA', () => {
  const spi = 'c053473c';
  const a: TraceEvent[] = [
    { t: 990, kind: 'esp-in', spi: 'aaaaaaaa' },
    { t: 1000, kind: 'ike-out' },
    { t: 1030, kind: 'esp-in', spi },
    { t: 1035, kind: 'ike-in' },
    { t: 1040, kind: 'esp-in', spi },
    { t: 1050.5, kind: 'sa-upd', spi },
    { t: 1060, kind: 'esp-in', spi },
  ];
  const b: TraceEvent[] = [
    { t: 1020, kind: 'sa-new', spi },
    { t: 1025, kind: 'ike-out' },
  ];
  const t = childRekeyTiming(a, b, 995, spi);
  assert.deepEqual(t, {
    requestAt: 1000,
    peerOutboundSa: 20,
    peerResponseSent: 25,
    firstEspIn: 30,
    responseIn: 35,
    inboundSa: 50.5,
    early: 2,
  });
  assert.match(describeTiming(t), /peer outbound SA \+20,.*router-a inbound SA \+50\.5 ms; ESP before it: 2/);
  // Nothing recorded: unknown steps, no early packets.
  const none = childRekeyTiming([], [], 995, spi);
  assert.equal(none.requestAt, null);
  assert.equal(none.early, 0);
  assert.match(describeTiming(none), /\+\?/);
});
