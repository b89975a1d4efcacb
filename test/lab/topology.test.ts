// Pure parts of the labs: topology validation, the build script, SA-counter and capture parsing,
// the verdict, the static tunnel's algorithm table, every example rendered for both sites, and
// docker/compose.yaml describing the same topology.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { loadConfig } from '../../src/config/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  DEFAULT_TOPOLOGY_INPUT,
  makeTopology,
  peerAsSeenBy,
  gatewayOf,
} from '../../lab/two-site/topology.ts';
import { labScript, type LabNames } from '../../lab/two-site/lab.ts';
import { classifyCapture, parseXfrmStates } from '../../lab/two-site/checks.ts';
import { judge, type SaDirection } from '../../lab/two-site/run.ts';
import { xfrmAlgorithm } from '../../lab/two-site/static-tunnel.ts';
import { prepareExample } from '../../lab/two-site/examples.ts';
import { composeFor } from '../../lab/two-site/compose.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NAMES: LabNames = { ra: 'RA', rb: 'RB', ha: 'HA', hb: 'HB', nat: 'NAT' };
const topo = (x: Partial<Parameters<typeof makeTopology>[0]> = {}) =>
  makeTopology({ ...DEFAULT_TOPOLOGY_INPUT, ...x });

test('the default topology: LAN router is the first host, the LAN host the tenth, WAN on one /24', () => {
  const t = topo();
  assert.deepEqual(t.sites[0].lans[0], {
    family: 4,
    prefix: '10.1.0.0/24',
    prefixLength: 24,
    router: '10.1.0.1',
    host: '10.1.0.10',
  });
  assert.equal(t.nat, undefined);
  assert.equal(peerAsSeenBy(t, 'a'), '192.0.2.2');
});

test('WAN addresses on different links get a NAT router in front of site a; the peer sees its outside address', () => {
  const t = topo({
    a: { wan: '203.0.113.10', lans: ['10.7.0.0/24'] },
    b: { wan: '198.51.100.1', lans: ['10.0.0.0/8'] },
  });
  assert.deepEqual(t.nat, { site: 'a', inside: '203.0.113.1', outside: '198.51.100.254' });
  assert.equal(peerAsSeenBy(t, 'b'), '198.51.100.254');
  assert.equal(gatewayOf(t, 'a'), '203.0.113.1');
  assert.match(labScript(t, NAMES), /masquerade/);
  assert.doesNotMatch(labScript(topo(), NAMES), /masquerade/);
});

test('bad topologies are refused with LAB_TOPOLOGY naming the problem', () => {
  const bad = (x: Parameters<typeof topo>[0], re: RegExp) =>
    assert.throws(() => topo(x), { code: 'LAB_TOPOLOGY', message: re });
  bad({ b: { wan: '192.0.2.1', lans: ['10.2.0.0/24'] } }, /both sites have WAN/);
  bad({ b: { wan: '192.0.2.2', lans: ['10.1.0.0/24'] } }, /both sites have LAN/);
  bad({ b: { wan: '2001:db8::2', lans: [] } }, /not IPv4/);
  bad({ a: { wan: '192.0.2.1', lans: ['10.1.0.0/29'] } }, /too small/);
  bad({ a: { wan: '192.0.2.1', lans: ['10.1.0.0'] } }, /ADDRESS\/LENGTH/);
  bad({ a: { wan: '192.0.2.1', lans: ['192.0.2.0/24'] } }, /contains the WAN/);
  bad({ b: { wan: '198.51.100.1', lans: [] }, nat: false }, /not on one \/24/);
  bad({ nat: 'a' }, /different \/24/);
  bad({ netem: { lossPct: 120 } }, /loss/);
  bad({ netem: { reorderPct: 5 } }, /needs a delay/);
  assert.throws(() => topo({ a: { wan: 'x', lans: [] } }), { code: 'LAB_TOPOLOGY' });
});

test('the build script creates every namespace, routes IPv4 LANs over an IPv6 WAN, and applies netem', () => {
  const t = makeTopology({
    a: { wan: '2001:db8::1', lans: ['2001:db8:1::/48', '10.1.0.0/24'] },
    b: { wan: '2001:db8::2', lans: ['10.2.0.0/24'] },
    netem: { delayMs: 20 },
  });
  const s = labScript(t, { ra: 'RA', rb: 'RB', ha: 'HA', hb: 'HB' });
  for (const ns of ['RA', 'RB', 'HA', 'HB']) assert.match(s, new RegExp(`netns add ${ns}\\n`));
  assert.doesNotMatch(s, /NAT/);
  assert.match(s, /route replace 10\.2\.0\.0\/24 via inet6 2001:db8::2 dev wan/);
  assert.match(s, /tc -n RA qdisc replace dev wan root netem limit 10000 delay 20ms/);
});

const STATE = `src 192.0.2.1 dst 192.0.2.2
	proto esp spi 0xc5aae581 reqid 1 mode tunnel
	replay-window 0 flag af-unspec
	aead rfc4106(gcm(aes)) 0x00112233445566778899aabbccddeeff0011223344556677 128
	lifetime current:
	  336(bytes), 4(packets)
	  add 2026-11-22 09:00:00 use 2026-11-22 09:00:01
src 198.51.100.254 dst 198.51.100.1
	proto esp spi 0x00000101 reqid 1 mode tunnel
	encap type espinudp sport 4500 dport 4500 addr 0.0.0.0
	lifetime current:
	  0(bytes), 0(packets)
src 192.0.2.2 dst 192.0.2.1
	proto ah spi 0x0000a001 reqid 2 mode transport
	auth-trunc hmac(sha256) 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128
	lifetime current:
	  252(bytes), 3(packets)
`;

test('ip -s xfrm state output gives counters per SA and never carries key material', () => {
  const sas = parseXfrmStates(STATE);
  assert.deepEqual(sas, [
    {
      src: '192.0.2.1',
      dst: '192.0.2.2',
      proto: 'esp',
      spi: '0xc5aae581',
      mode: 'tunnel',
      udpEncap: false,
      bytes: 336,
      packets: 4,
    },
    {
      src: '198.51.100.254',
      dst: '198.51.100.1',
      proto: 'esp',
      spi: '0x00000101',
      mode: 'tunnel',
      udpEncap: true,
      bytes: 0,
      packets: 0,
    },
    // RFC 4302 AH states count like ESP ones (issue 21).
    {
      src: '192.0.2.2',
      dst: '192.0.2.1',
      proto: 'ah',
      spi: '0x0000a001',
      mode: 'transport',
      udpEncap: false,
      bytes: 252,
      packets: 3,
    },
  ]);
  assert.doesNotMatch(JSON.stringify(sas), /00112233/);
});

test('capture lines: ESP, ESP-in-UDP and leaks of LAN addresses are told apart', () => {
  const c = classifyCapture(
    [
      '09:00:00.1 IP 192.0.2.1 > 192.0.2.2: ESP(spi=0xc5aae581,seq=0x1), length 120',
      '09:00:00.2 IP 203.0.113.10.4500 > 198.51.100.1.4500: UDP-encap: ESP(spi=0x101,seq=0x1), length 140',
      '09:00:00.3 IP 10.1.0.10 > 10.2.0.10: ICMP echo request, id 1, seq 1, length 64',
      '09:00:00.4 IP 10.1.0.100 > 192.0.2.9: UDP, length 1',
      'reading from file x',
    ],
    ['10.1.0.10', '10.2.0.10'],
  );
  assert.deepEqual([c.packets, c.esp, c.espInUdp, c.cleartext], [4, 1, 1, 1]);
  assert.match(c.leaks[0]!, /ICMP echo request/);
});

test('the verdict needs replies, packets on every SA direction of both routers, ESP and no cleartext', () => {
  const t = topo();
  const sa = (router: 'a' | 'b', direction: 'in' | 'out', packets: number): SaDirection => ({
    router,
    direction,
    packets,
    src: '',
    proto: 'esp',
    dst: '',
    spi: '0x1',
    mode: 'tunnel',
    udpEncap: false,
    bytes: packets * 84,
  });
  const all = [sa('a', 'out', 4), sa('a', 'in', 4), sa('b', 'out', 4), sa('b', 'in', 4)];
  const cap = { packets: 8, esp: 8, espInUdp: 0, ike: 0, cleartext: 0, leaks: [] };
  const ping = [{ from: '10.1.0.10', to: '10.2.0.10', sent: 4, received: 4 }];
  assert.deepEqual(judge(t, ping, all, cap), []);
  assert.match(
    judge(t, ping, [all[0]!, all[1]!, all[2]!, sa('b', 'in', 0)], cap).join(),
    /router-b: inbound SA 0x1 counted 0 packets/,
  );
  assert.match(judge(t, ping, all.slice(0, 2), cap).join(), /router-b: no outbound ESP SA/);
  assert.match(judge(t, ping, all, { ...cap, cleartext: 1, leaks: ['x'] }).join(), /crossed in clear/);
  assert.match(judge(t, [{ ...ping[0]!, received: 0 }], all, cap).join(), /0\/4 replies/);
  const daemon = [
    { router: 'a' as const, spiIn: '1', spiOut: '2', packetsIn: 4, packetsOut: 0, bytesIn: 1, bytesOut: 0 },
  ];
  assert.match(judge(t, ping, all, cap, daemon).join(), /router-a: ikeway status shows no Child SA/);
});

test('static tunnel algorithms: key sizes per RFC 4106 (key + 4-byte salt), RFC 7539, CBC+HMAC; unknown refused', () => {
  const sizes = (p: string) => {
    const got: number[] = [];
    const args = xfrmAlgorithm(p).args((n) => (got.push(n), 'K'));
    return { args, got };
  };
  assert.deepEqual(sizes('aes256gcm16'), { args: ['aead', 'rfc4106(gcm(aes))', 'K', '128'], got: [36] });
  assert.deepEqual(sizes('aes128gcm8').got, [20]);
  assert.deepEqual(sizes('chacha20poly1305').got, [36]);
  assert.deepEqual(sizes('aes256-sha256').args, [
    'enc',
    'cbc(aes)',
    'K',
    'auth-trunc',
    'hmac(sha256)',
    'K',
    '128',
  ]);
  assert.throws(() => xfrmAlgorithm('3des-md5'), { code: 'LAB_UNSUPPORTED' });
});

test('every example renders for both sites, validates, and takes its lab addresses from the example', () => {
  const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 6);
  for (const f of files) {
    const dir = mkdtempSync(join(tmpdir(), 'ikw-labex-'));
    try {
      const ex = prepareExample(join(ROOT, 'examples', f), dir);
      const a = parse(readFileSync(ex.configs.a, 'utf8')) as { local: { address: string } };
      const b = parse(readFileSync(ex.configs.b, 'utf8')) as {
        local: { address: string };
        connections: Record<string, { remote: string }>;
      };
      assert.equal(ex.topology.sites[0].wan, a.local.address, f);
      assert.equal(ex.topology.sites[1].wan, b.local.address, f);
      const mirror = b.connections[ex.connection]!;
      assert.equal(mirror.remote, ex.topology.nat ? 'any' : a.local.address, f);
      for (const p of ['a', 'b'] as const)
        assert.match(readFileSync(ex.configs[p], 'utf8'), new RegExp(dir), `${f}: private socket path`);
      const psk = join(dir, 'a', 'secrets');
      if (statSync(psk, { throwIfNoEntry: false }))
        for (const s of readdirSync(psk)) assert.equal(statSync(join(psk, s)).mode & 0o077, 0, s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('docker/compose.yaml is `ikeway lab compose` and has the namespace lab addresses', () => {
  const t = topo();
  const committed = parse(readFileSync(join(ROOT, 'docker', 'compose.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual(
    committed,
    composeFor(t),
    'regenerate with: ./bin/ikeway.js lab compose > docker/compose.yaml',
  );
  const svc = committed['services'] as Record<
    string,
    { networks: Record<string, { ipv4_address: string }>; cap_add?: string[]; cap_drop?: string[] }
  >;
  assert.equal(svc['router-a']!.networks['wan']!.ipv4_address, t.sites[0].wan);
  assert.equal(svc['router-b']!.networks['wan']!.ipv4_address, t.sites[1].wan);
  assert.equal(svc['host-a']!.networks['lan-a']!.ipv4_address, t.sites[0].lans[0]!.host);
  assert.equal(svc['host-b']!.networks['lan-b']!.ipv4_address, t.sites[1].lans[0]!.host);
  assert.deepEqual(svc['router-a']!.cap_add, ['NET_ADMIN']);
  for (const s of Object.values(svc)) assert.deepEqual(s.cap_drop, ['ALL']);
  // docker-compose 1.29 (Debian 12) refuses a top-level `name:`; docker/.env names the project.
  assert.equal(committed['name'], undefined);
  assert.match(readFileSync(join(ROOT, 'docker', '.env'), 'utf8'), /^COMPOSE_PROJECT_NAME=ikeway-lab$/m);
});

test('docker site configs validate and hold the topology addresses; the Dockerfile is node 20 + iproute2', () => {
  const t = topo();
  for (const [i, site] of (['a', 'b'] as const).entries()) {
    const dir = mkdtempSync(join(tmpdir(), 'ikw-dock-'));
    try {
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets', 'branch.psk'), 'lab-only-key\n', { mode: 0o600 });
      copyFileSync(join(ROOT, 'docker', `site-${site}`, 'ikeway.yaml'), join(dir, 'ikeway.yaml'));
      const c = loadConfig(join(dir, 'ikeway.yaml')).config.connections[0]!;
      const me = t.sites[i]!;
      const peer = t.sites[1 - i]!;
      assert.equal(c.localAddress.address, me.wan);
      assert.equal(c.remote === 'any' ? 'any' : c.remote.address, peer.wan);
      assert.deepEqual(
        c.localSubnets.map((p) => p.text),
        me.lans.map((l) => l.prefix),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const df = readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8');
  // The official Node image unless the build argument BASE names the local one (docker/README.md).
  assert.match(df, /^ARG BASE=node:20-bookworm-slim$/m);
  assert.match(df, /^FROM \$\{BASE\}$/m);
  assert.match(df, /iproute2/);
});
