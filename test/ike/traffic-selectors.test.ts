import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Address4 } from 'ip-address';
import { TsType } from '../../src/codec/iana.ts';
import {
  addressFromBytes,
  addressToBytes,
  formatAddress,
  formatTs,
  intersectTs,
  narrowPair,
  narrowTs,
  parseAddress,
  tsAny,
  tsContains,
  tsFromCidr,
  tsFromRange,
  tsToCidrs,
  type TrafficSelector,
} from '../../src/ike/traffic-selectors.ts';
import { TsSyntaxError, TsUnacceptableError } from '../../src/ike/errors.ts';

const V4 = TsType.IPV4_ADDR_RANGE;
const V6 = TsType.IPV6_ADDR_RANGE;

test('CIDR and range parsing, formatting and byte conversion', () => {
  const t = tsFromCidr('192.0.2.0/24');
  assert.deepEqual(t, {
    type: V4,
    protocol: 0,
    startPort: 0,
    endPort: 65535,
    start: 0xc0000200n,
    end: 0xc00002ffn,
  });
  assert.equal(formatTs(t), '192.0.2.0/24');
  assert.equal(formatTs(tsFromCidr('2001:db8::/32', { protocol: 6, ports: 443 })), '2001:db8::/32[6/443]');
  assert.equal(
    formatTs(tsFromRange('198.51.100.10-198.51.100.20', { protocol: 17, ports: [500, 4500] })),
    '198.51.100.10-198.51.100.20[17/500-4500]',
  );
  assert.equal(formatTs(tsFromCidr('203.0.113.7')), '203.0.113.7/32');
  const a = parseAddress('2001:db8::1');
  assert.deepEqual(addressFromBytes(addressToBytes(a.value, a.type)), a);
  assert.deepEqual([...addressToBytes(parseAddress('192.0.2.1').value, V4)], [192, 0, 2, 1]);
  for (const bad of [
    '192.0.2.1/24',
    '192.0.2.0/33',
    'nope/8',
    '2001:db8::/129',
    '192.0.2.0/x',
    '192.0.2.0/24/1',
  ]) {
    assert.throws(() => tsFromCidr(bad), TsSyntaxError, bad);
  }
  assert.throws(() => tsFromRange('192.0.2.9-192.0.2.1'), /bad address range/);
  assert.throws(() => tsFromRange('192.0.2.1-2001:db8::1'), /bad address range/);
  assert.throws(() => tsFromCidr('192.0.2.0/24', { ports: [10, 5] }), /bad port range/);
  assert.throws(() => tsFromCidr('192.0.2.0/24', { protocol: 256 }), /bad protocol/);
  assert.throws(() => addressFromBytes(new Uint8Array(5)), TsSyntaxError);
});

test('range -> minimal CIDR cover', () => {
  assert.deepEqual(tsToCidrs(tsFromRange('192.0.2.1-192.0.2.6')), [
    '192.0.2.1/32',
    '192.0.2.2/31',
    '192.0.2.4/31',
    '192.0.2.6/32',
  ]);
  assert.deepEqual(tsToCidrs(tsAny(V4)), ['0.0.0.0/0']);
  assert.deepEqual(tsToCidrs(tsAny(V6)), ['::/0']);
  assert.deepEqual(tsToCidrs(tsFromRange('2001:db8::-2001:db8::1:ffff')), ['2001:db8::/111']);
});

test('tsToCidrs remembers a range: the same frozen cover for equal selectors, a new one for others', () => {
  const a = tsToCidrs(tsFromRange('198.51.100.3-198.51.100.9'));
  const b = tsToCidrs(tsFromRange('198.51.100.3-198.51.100.9'));
  assert.equal(a, b, 'equal ranges share one computed cover');
  assert.ok(Object.isFrozen(a), 'the shared cover cannot be changed by a caller');
  assert.deepEqual(a, ['198.51.100.3/32', '198.51.100.4/30', '198.51.100.8/31']);
  // Same numbers, the other family: a different cover (the key carries the type).
  const v6 = tsToCidrs({ ...tsFromRange('198.51.100.3-198.51.100.9'), type: V6 });
  assert.notEqual(v6, a);
  assert.deepEqual(v6, ['::c633:6403/128', '::c633:6404/126', '::c633:6408/127']);
  // Past the table's bound it starts over and still answers correctly.
  for (let i = 0; i < 5000; i++)
    tsToCidrs(tsFromRange(`10.${i >> 8}.${i & 255}.0-10.${i >> 8}.${i & 255}.1`));
  assert.deepEqual(tsToCidrs(tsFromRange('198.51.100.3-198.51.100.9')), a);
});

test('property: IPv4 text <-> value agrees with the ip-address parser both ways', () => {
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      const { type, value } = parseAddress(text);
      assert.equal(type, V4);
      assert.equal(value, new Address4(text).bigInt());
      assert.equal(formatAddress(value, V4), new Address4(text).correctForm());
    }),
  );
  for (const bad of ['01.2.3.4', '256.1.1.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4'])
    assert.throws(() => parseAddress(bad), TsSyntaxError, bad);
});

const v4ts = fc
  .tuple(
    fc.bigInt(0n, 0xffffffffn),
    fc.bigInt(0n, 0xffffffffn),
    fc.constantFrom(0, 6, 17),
    fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 0, max: 65535 }),
  )
  .map(([a, b, protocol, p, q]): TrafficSelector => ({
    type: V4,
    protocol,
    start: a < b ? a : b,
    end: a < b ? b : a,
    startPort: Math.min(p, q),
    endPort: Math.max(p, q),
  }));
const v6ts = fc
  .tuple(fc.bigInt(0n, (1n << 128n) - 1n), fc.bigInt(0n, (1n << 128n) - 1n))
  .map(([a, b]): TrafficSelector => ({
    type: V6,
    protocol: 0,
    start: a < b ? a : b,
    end: a < b ? b : a,
    startPort: 0,
    endPort: 65535,
  }));
const anyTs = fc.oneof(v4ts, v6ts);

test('property: CIDR cover is exact, aligned and at most 2*bits long', () => {
  fc.assert(
    fc.property(anyTs, (ts) => {
      const cidrs = tsToCidrs(ts).map((c) => tsFromCidr(c)); // tsFromCidr rejects unaligned prefixes
      assert.ok(cidrs.length <= 2 * (ts.type === V4 ? 32 : 128));
      assert.equal(cidrs[0]!.start, ts.start);
      assert.equal(cidrs.at(-1)!.end, ts.end);
      cidrs.forEach((c, i) => i > 0 && assert.equal(c.start, cidrs[i - 1]!.end + 1n));
    }),
  );
});

test('property: a narrowed selector is a subset of an offered one and of a policy one; no point is lost', () => {
  fc.assert(
    fc.property(
      fc.array(anyTs, { minLength: 1, maxLength: 4 }),
      fc.array(anyTs, { minLength: 1, maxLength: 4 }),
      fc.bigInt(0n, 0xffffffffn),
      fc.integer({ min: 0, max: 65535 }),
      (offered, policy, addr, port) => {
        const n = narrowTs(offered, policy);
        for (const ts of n) {
          assert.ok(
            offered.some((o) => tsContains(o, ts)),
            'subset of the offer',
          );
          assert.ok(
            policy.some((p) => tsContains(p, ts)),
            'subset of the policy',
          );
        }
        // Any IPv4 "packet" allowed by both sides is covered by the result.
        for (const protocol of [6, 17]) {
          const pkt: TrafficSelector = {
            type: V4,
            protocol,
            start: addr,
            end: addr,
            startPort: port,
            endPort: port,
          };
          const both = offered.some((o) => tsContains(o, pkt)) && policy.some((p) => tsContains(p, pkt));
          assert.equal(
            n.some((ts) => tsContains(ts, pkt)),
            both,
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('intersection: protocol 0 is a wildcard, different protocols or families do not meet', () => {
  const any = tsFromCidr('192.0.2.0/24');
  const tcp = tsFromCidr('192.0.2.128/25', { protocol: 6, ports: [1000, 2000] });
  assert.deepEqual(intersectTs(any, tcp), tcp);
  assert.equal(intersectTs(tcp, tsFromCidr('192.0.2.0/24', { protocol: 17 })), undefined);
  assert.equal(intersectTs(any, tsAny(V6)), undefined);
  assert.equal(intersectTs(tcp, tsFromCidr('192.0.2.0/24', { ports: 80 })), undefined);
});

test('RFC 7296 §2.9: the responder narrows to its policy, both families, mixed lists', () => {
  const offered = {
    tsi: [tsFromCidr('192.0.2.0/24'), tsFromCidr('2001:db8:1::/48')],
    tsr: [tsAny(V4), tsAny(V6)],
  };
  const policy = {
    tsi: [tsFromCidr('192.0.2.0/25'), tsFromCidr('2001:db8:1:2::/64')],
    tsr: [tsFromCidr('198.51.100.0/24'), tsFromCidr('2001:db8:2::/48')],
  };
  const r = narrowPair(offered, policy);
  assert.deepEqual(r.tsi.map(formatTs), ['192.0.2.0/25', '2001:db8:1:2::/64']);
  assert.deepEqual(r.tsr.map(formatTs), ['198.51.100.0/24', '2001:db8:2::/48']);
});

test('§2.9: the specific first selector (from an ACQUIRE) is kept when narrowing to one pair', () => {
  const specificI = tsFromCidr('192.0.2.77', { protocol: 6, ports: 5555 });
  const specificR = tsFromCidr('198.51.100.9', { protocol: 6, ports: 443 });
  const offered = {
    tsi: [specificI, tsFromCidr('192.0.2.0/24')],
    tsr: [specificR, tsFromCidr('198.51.100.0/24')],
  };
  // Two policy subnets on each side: only the ones holding the triggering packet may be chosen.
  const policy = {
    tsi: [tsFromCidr('192.0.2.0/26'), tsFromCidr('192.0.2.64/26')],
    tsr: [tsFromCidr('198.51.100.0/28'), tsFromCidr('198.51.100.128/25')],
  };
  const full = narrowPair(offered, policy);
  assert.deepEqual(full.tsi.map(formatTs), ['192.0.2.0/26', '192.0.2.64/26'], 'the specific one is subsumed');
  const one = narrowPair(offered, policy, { single: true });
  assert.deepEqual(one.tsi.map(formatTs), ['192.0.2.64/26']);
  assert.deepEqual(one.tsr.map(formatTs), ['198.51.100.0/28']);
  assert.ok(tsContains(one.tsi[0]!, specificI) && tsContains(one.tsr[0]!, specificR));
});

test('§2.9: no overlap is TS_UNACCEPTABLE with the notify code', () => {
  const offered = { tsi: [tsFromCidr('192.0.2.0/24')], tsr: [tsFromCidr('2001:db8::/32')] };
  const policy = { tsi: [tsFromCidr('192.0.2.0/24')], tsr: [tsFromCidr('198.51.100.0/24')] };
  assert.throws(
    () => narrowPair(offered, policy),
    (e: unknown) =>
      e instanceof TsUnacceptableError && e.notify === 38 && /TSr 2001:db8::\/32/.test(e.message),
  );
});
