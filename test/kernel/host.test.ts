// The real XFRM backend on the host kernel, each scenario in throwaway namespaces: round trips with
// `ip xfrm`, ACQUIRE and POLEXPIRE events, the IKE bypass under 0.0.0.0/0 block policies, a
// multipart dump of a batch, and errors from the kernel as typed KernelErrors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';

const SCEN = fileURLToPath(new URL('./scripts/host-scenarios.ts', import.meta.url));
const UDP = fileURLToPath(new URL('./scripts/udp-probe.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

function run(ns: Netns, ...args: string[]): Record<string, unknown> {
  const r = ns.runTs(SCEN, args, 30_000);
  assert.equal(r.status, 0, `scenario ${args[0]} failed: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

describe('host XFRM over netlink', { skip: !isRoot && 'needs root for namespaces' }, () => {
  test('policies added by us read back by `ip xfrm policy`, field by field', (t) => {
    const ns = Netns.create('kx');
    t.after(() => ns.delete());
    run(ns, 'addForIp');
    const text = ns.ip('xfrm', 'policy', 'list');
    assert.match(
      text,
      /src 10\.1\.0\.0\/16 dst 10\.2\.0\.0\/16 proto tcp dport 443\s*\n\s*dir out priority 123/,
    );
    assert.match(text, /mark 0x5\/0xff/);
    assert.match(text, /tmpl src 192\.0\.2\.1 dst 192\.0\.2\.2\s*\n\s*proto esp reqid 9 mode tunnel/);
    assert.match(text, /src 2001:db8:1::\/64 dst 2001:db8:2::\/64\s*\n\s*dir fwd action block priority 7/);
  });

  test('NETLINK_CAP_ACK: an error reply echoes the request header only, never the request (SA keys)', (t) => {
    const ns = Netns.create('kx');
    t.after(() => ns.delete());
    const r = run(ns, 'capAck') as {
      ackCapped: boolean;
      requestBytes: number;
      replies: { seq: number; errno: number; capped: boolean; bytes: number }[];
    };
    assert.equal(r.ackCapped, true, 'the option was set on the socket');
    assert.ok(r.requestBytes > 100);
    // struct nlmsgerr: the errno (4) and the echoed nlmsghdr (16), nothing of the payload (an ACK never
    // echoes it; an error did, 84 bytes here, before the option).
    assert.deepEqual(r.replies, [
      { seq: 11, errno: 0, capped: true, bytes: 20 },
      { seq: 12, errno: 2, capped: true, bytes: 20 },
    ]);
  });

  test('a netlink receive buffer overrun: the process survives, lost replies time out, the socket still answers', (t) => {
    const ns = Netns.create('kx');
    t.after(() => ns.delete());
    const r = run(ns, 'overrun') as {
      failedOptions: string[];
      counts: Record<string, number>;
      after: string;
    };
    assert.deepEqual(r.failedOptions, [], 'NETLINK_CAP_ACK, SO_RCVBUFFORCE and NETLINK_NO_ENOBUFS were set');
    // Every request ends: answered (ENOENT: no such policy) or, its reply dropped, with the timeout.
    assert.deepEqual(Object.keys(r.counts).sort(), ['ENOENT', 'TIMEOUT'], JSON.stringify(r.counts));
    assert.equal(r.counts.ENOENT! + r.counts.TIMEOUT!, 2000);
    assert.equal(r.after, 'ENOENT', 'the socket answers after the overrun');
  });

  test('policies and an SPI added by `ip xfrm` are read back by our dump, field by field', (t) => {
    const ns = Netns.create('kx');
    t.after(() => ns.delete());
    ns.ip(
      ...'xfrm policy add src 198.51.100.0/24 dst 203.0.113.0/24 proto udp sport 4500 dir in priority 77 mark 0x10 mask 0xf0 if_id 0x33'.split(
        ' ',
      ),
      ...'tmpl src 192.0.2.9 dst 192.0.2.8 proto esp reqid 12 mode tunnel'.split(' '),
    );
    ns.ip(
      ...'xfrm policy add src 2001:db8:a::/48 dst 2001:db8:b::/48 dir out priority 5 action block'.split(' '),
    );
    ns.ip(
      ...'xfrm state allocspi src 192.0.2.1 dst 192.0.2.2 proto esp reqid 66 min 0x1000 max 0x1000'.split(
        ' ',
      ),
    );
    const d = run(ns, 'dump') as { policies: Record<string, unknown>[]; sas: Record<string, unknown>[] };
    const inPol = d.policies.find((p) => p.dir === 'in');
    assert.deepEqual(inPol?.selector, {
      src: '198.51.100.0/24',
      dst: '203.0.113.0/24',
      proto: 17,
      sport: 4500,
    });
    assert.equal(inPol?.priority, 77);
    assert.equal(inPol?.action, 'allow');
    assert.deepEqual(inPol?.mark, { value: 0x10, mask: 0xf0 });
    assert.equal(inPol?.ifId, 0x33);
    assert.deepEqual(inPol?.templates, [
      { src: '192.0.2.9', dst: '192.0.2.8', proto: 'esp', mode: 'tunnel', reqid: 12 },
    ]);
    const outPol = d.policies.find((p) => p.dir === 'out');
    assert.deepEqual(outPol?.selector, { src: '2001:db8:a::/48', dst: '2001:db8:b::/48' });
    assert.equal(outPol?.action, 'block');
    assert.equal(d.sas.length, 1);
    assert.equal(d.sas[0]?.spi, 0x1000);
    assert.equal(d.sas[0]?.reqid, 66);
    assert.equal(d.sas[0]?.src, '192.0.2.1');
  });

  test('a trap policy turns a ping into a typed ACQUIRE event', (t) => {
    const a = Netns.create('ka');
    t.after(() => a.delete());
    const b = Netns.create('ka');
    t.after(() => b.delete());
    linkVeth(a, '192.0.2.1/24', b, '192.0.2.2/24');
    const r = run(a, 'acquire', '192.0.2.1', '192.0.2.2');
    assert.deepEqual(r.event, {
      type: 'acquire',
      selector: (r.event as { selector: unknown }).selector,
      template: { src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'transport', reqid: 42 },
      policyIndex: (r.event as { policyIndex: number }).policyIndex,
      dir: 'out',
      seq: (r.event as { seq: number }).seq,
    });
    const ev = r.event as { selector: { src: string; dst: string; proto: number }; policyIndex: number };
    assert.equal(ev.selector.src, '192.0.2.1/32');
    assert.equal(ev.selector.dst, '192.0.2.2/32');
    // iputils ping first connects a UDP socket to pick its source address; that flow or the ICMP
    // echo itself is what hits the trap.
    assert.ok([1, 17].includes(ev.selector.proto), `proto ${ev.selector.proto}`);
    assert.ok(ev.policyIndex > 0);
  });

  test('a policy with soft and hard lifetimes sends POLEXPIRE soft then hard, and is removed', (t) => {
    const ns = Netns.create('kp');
    t.after(() => ns.delete());
    const r = run(ns, 'polexpire') as {
      events: { type: string; hard: boolean; dir: string }[];
      hard: unknown;
      left: number;
    };
    assert.ok(r.hard, 'hard POLEXPIRE arrived');
    const kinds = r.events.filter((e) => e.type === 'polexpire').map((e) => e.hard);
    assert.deepEqual(kinds.slice(0, 1), [false], 'soft expiry first');
    assert.ok(kinds.includes(true));
    assert.equal(r.events[0]?.dir, 'out');
    assert.equal(r.left, 0, 'the kernel deleted the policy at its hard expiry');
  });

  test('IKE bypass beats 0.0.0.0/0 block policies for UDP 500/4500 while other traffic is blocked', (t) => {
    const a = Netns.create('kb');
    t.after(() => a.delete());
    const b = Netns.create('kb');
    t.after(() => b.delete());
    linkVeth(a, '192.0.2.1/24', b, '192.0.2.2/24');
    const echo = b.spawn(process.execPath, ['--import', 'tsx', UDP, 'echo', '192.0.2.2', '500', '20000']);
    t.after(() => echo.kill());
    const echo2 = b.spawn(process.execPath, ['--import', 'tsx', UDP, 'echo', '192.0.2.2', '4500', '20000']);
    t.after(() => echo2.kill());
    const probe = (sport: string, dport: string): string =>
      a.runTs(UDP, ['probe', '192.0.2.1', sport, '192.0.2.2', dport], 10_000).stdout.trim();
    // Before any policy both work (this also waits for the echo servers to listen).
    let ready = '';
    for (let i = 0; i < 20 && ready !== 'reply'; i++) ready = probe('500', '500');
    assert.equal(ready, 'reply', 'echo reachable before policies');
    const r = run(a, 'bypass', '192.0.2.1');
    assert.equal(r.bypass, 4);
    assert.equal(r.total, 6);
    assert.equal(probe('500', '500'), 'reply', 'IKE port 500 passes the block policies');
    assert.equal(probe('4500', '4500'), 'reply', 'NAT-T port 4500 passes');
    assert.match(probe('5000', '500'), /^(noreply|error:EPERM)$/, 'other source port is blocked');
    assert.notEqual(a.tryExec('ping', '-c', '1', '-W', '1', '192.0.2.2').status, 0, 'ICMP is blocked');
  });

  test('dumps asked for concurrently on one socket all answer (serialized, no EBUSY)', (t) => {
    const ns = Netns.create('kd');
    t.after(() => ns.delete());
    assert.deepEqual(run(ns, 'concurrentDumps').results, [1, 0, 1, 0]);
  });

  test('a batch of 1500 policies goes through the pipelined path and comes back by multipart dump', (t) => {
    const ns = Netns.create('km');
    t.after(() => ns.delete());
    const r = run(ns, 'many', '1500');
    assert.equal(r.errors, 0);
    assert.equal(r.dumped, 1500);
    assert.equal(r.reqids, 1500, 'every policy distinct');
    assert.deepEqual(r.againCodes, ['EEXIST', 'EEXIST', 'EEXIST'], 'errors matched back to their request');
    assert.equal(ns.ip('xfrm', 'policy', 'count').match(/SPD IN\s+0 OUT\s+(\d+)/)?.[1], '1500');
  });

  test('kernel errors come back as typed KernelErrors with errno, request and object, without keys', (t) => {
    const ns = Netns.create('ke');
    t.after(() => ns.delete());
    const r = run(ns, 'errors') as Record<
      string,
      { name: string; errno: number; code: string; request: string; object: string; message: string }
    >;
    for (const k of ['espSa', 'cbcSa']) {
      const e = r[k]!;
      assert.equal(e.name, 'KernelError', `${k}: ${JSON.stringify(e)}`);
      assert.ok(e.errno > 0, `${k} carries the errno`);
      assert.equal(e.request, 'XFRM_MSG_NEWSA');
      assert.equal(e.object, 'esp spi 0xc0000123 192.0.2.1->192.0.2.2');
      assert.doesNotMatch(e.message, /5a5a|90,90|ZZZZ/i, 'no key bytes');
    }
    assert.equal(r.missingSa?.code, 'ESRCH');
    assert.equal(r.missingSa?.request, 'XFRM_MSG_DELSA');
    assert.equal(r.missingGet?.code, 'ESRCH');
  });
});
