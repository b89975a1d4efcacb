// Pure parts of the daemon: config -> engine connection mapping, reload planning, fail-closed
// policies, log lines and the status table.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { renderStatus } from '../../src/control/render.ts';
import { connectionFingerprint, failClosedPolicies, toIkeConnection } from '../../src/daemon/connections.ts';
import { FAIL_CLOSED_PRIORITY } from '../../src/ike/spd/policies.ts';
import { DaemonLogger } from '../../src/daemon/log.ts';
import { planReload } from '../../src/daemon/reload.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import { IdType, TransformType } from '../../src/codec/iana.ts';
import { formatTs } from '../../src/ike/traffic-selectors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ikeway-daemon-units-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'unit-secret-Hq7vZ2';
function cfg(body: string, psk = SECRET): Config {
  writeFileSync(join(dir, 'psk'), psk, { mode: 0o600 });
  return parseConfig(`local: { address: 192.0.2.1 }\nconnections:\n${body}`, join(dir, 'x.yaml'), {
    baseDir: dir,
  }).config;
}
const HQ = `  hq:\n    remote: 192.0.2.2\n    auth: { psk: { file: psk } }\n    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.2.0.0/24, 10.3.0.0/24]\n`;

test('toIkeConnection maps addresses, identities, selectors, lifetimes and the PSK bytes', () => {
  const c = cfg(
    `${HQ}    esn: true\n    child-lifetime: 1h\n    rekey-margin: 10m\n    encapsulation: force\n`,
  );
  const k = toIkeConnection(c.connections[0]!, { reqid: 77 });
  assert.equal(k.localAddr, '192.0.2.1');
  assert.equal(k.remoteAddr, '192.0.2.2');
  assert.equal(k.localId.type, IdType.IPV4_ADDR);
  assert.deepEqual([...k.localId.data], [192, 0, 2, 1]);
  assert.deepEqual([...(k.remoteId?.data ?? [])], [192, 0, 2, 2]);
  assert.equal(k.auth.kind === 'psk' && Buffer.from(k.auth.psk).toString(), SECRET);
  assert.deepEqual(k.localTs.map(formatTs), ['10.1.0.0/24']);
  assert.deepEqual(k.remoteTs.map(formatTs), ['10.2.0.0/24', '10.3.0.0/24']);
  assert.equal(k.childLifetimeMs, 3_600_000);
  assert.equal(k.childRekeyMs, 3_000_000);
  assert.equal(k.forceEncap, true);
  assert.equal(k.reqid, 77);
  assert.equal(k.dpdDelayMs, 30_000, 'liveness defaults: interval 30s, action restart');
  assert.equal(k.dpdAction, 'restart');
  const quiet = toIkeConnection(cfg(`${HQ}    liveness: false\n`).connections[0]!);
  assert.equal(quiet.dpdDelayMs, undefined);
  // esn: true adds the ESN transform (RFC 4303 §2.2.1) to a proposal that names none.
  const esn = k.espProposals[0]!.transforms.filter((t) => t.type === TransformType.ESN).map((t) => t.id);
  assert.deepEqual(esn, [1]);
});

test('remote: any maps to no peer address, no remote ID, selectors of the whole family', () => {
  const c = cfg(
    `  road:\n    remote: any\n    auth: { psk: { file: psk } }\n    local-subnets: [10.1.0.0/24]\n`,
  );
  const k = toIkeConnection(c.connections[0]!);
  assert.equal(k.remoteAddr, undefined);
  assert.equal(k.remoteId, undefined);
  assert.deepEqual(k.remoteTs.map(formatTs), ['0.0.0.0/0']);
  assert.deepEqual(
    failClosedPolicies(c.connections[0]!, undefined),
    [],
    'no remote subnets: nothing to block',
  );
});

test('fingerprint: any change counts (the PSK too), yet the PSK never appears in it', () => {
  const a = cfg(HQ).connections[0]!;
  assert.equal(connectionFingerprint(a), connectionFingerprint(cfg(HQ).connections[0]!));
  assert.notEqual(connectionFingerprint(a), connectionFingerprint(cfg(HQ, 'another-psk').connections[0]!));
  assert.notEqual(
    connectionFingerprint(a),
    connectionFingerprint(cfg(HQ.replace('10.3.0.0', '10.4.0.0')).connections[0]!),
  );
  assert.ok(!connectionFingerprint(a).includes(SECRET));
});

test('planReload: added, removed, changed, unchanged; global settings that need a restart', () => {
  const BR = `  br:\n    remote: 192.0.2.3\n    auth: { psk: { file: psk } }\n`;
  const OLD = `  gone:\n    remote: 192.0.2.9\n    auth: { psk: { file: psk } }\n`;
  const before = cfg(HQ + BR + OLD);
  const after = cfg(
    HQ +
      BR.replace('192.0.2.3', '192.0.2.4') +
      `  new:\n    remote: 192.0.2.5\n    auth: { psk: { file: psk } }\n`,
  );
  assert.deepEqual(planReload(before, after), {
    added: ['new'],
    removed: ['gone'],
    changed: ['br'],
    unchanged: ['hq'],
    needRestart: [],
  });
  const ports = parseConfig(
    `ports: { ike: 1500, nat-t: 14500 }\nlocal: { address: 192.0.2.1 }\nconnections:\n${HQ}`,
    join(dir, 'x.yaml'),
    { baseDir: dir },
  ).config;
  assert.deepEqual(planReload(before, ports).needRestart, ['ports']);
});

test('fail-closed policies: traps with the connection reqid, out/in/fwd per subnet pair, below Child SA priority', () => {
  const c = cfg(HQ).connections[0]!;
  const p = failClosedPolicies(c, 9);
  assert.equal(p.length, 2 * 3);
  assert.ok(
    p.every(
      (x) => x.action === 'allow' && x.priority === FAIL_CLOSED_PRIORITY && FAIL_CLOSED_PRIORITY > 1000,
    ),
  );
  const out = p.find((x) => x.dir === 'out' && x.selector.dst === '10.3.0.0/24');
  assert.deepEqual(out?.templates, [
    { src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'tunnel', reqid: 9 },
  ]);
  const fwd = p.find((x) => x.dir === 'fwd' && x.selector.src === '10.3.0.0/24');
  assert.deepEqual(fwd?.templates, [
    { src: '192.0.2.2', dst: '192.0.2.1', proto: 'esp', mode: 'tunnel', reqid: 9 },
  ]);
  // Without a reqid (remote: any), the same selectors block.
  const road = cfg(
    `  road:\n    remote: any\n    auth: { psk: { file: psk } }\n    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.9.0.0/24]\n`,
  );
  const b = failClosedPolicies(road.connections[0]!, undefined);
  assert.deepEqual(
    b.map((x) => [x.dir, x.action, x.templates.length]),
    [
      ['out', 'block', 0],
      ['in', 'block', 0],
      ['fwd', 'block', 0],
    ],
  );
  // Transport mode: out and in only.
  const tr = cfg(`  h2h:\n    remote: 192.0.2.2\n    mode: transport\n    auth: { psk: { file: psk } }\n`);
  assert.deepEqual(
    failClosedPolicies(tr.connections[0]!, 3).map((x) => x.dir),
    ['out', 'in'],
  );
});

test('log lines: text and JSON, level filter, fields quoted', () => {
  const lines: string[] = [];
  const sink = { write: (s: string) => lines.push(s) };
  const now = () => new Date('2026-11-22T10:00:00.000Z');
  const l = new DaemonLogger({ sink, now, level: 'info' });
  l.log('info', 'IKE SA established', { sa: 'hq[1]', spi: '0a1b', peer: 'x y' });
  l.log('debug', 'hidden');
  l.format = 'json';
  l.log('warn', 'reload rejected', { component: 'daemon', n: 2 });
  assert.deepEqual(lines, [
    '2026-11-22T10:00:00.000Z info ike: hq[1]: IKE SA established spi=0a1b peer="x y"\n',
    '{"time":"2026-11-22T10:00:00.000Z","level":"warn","component":"daemon","msg":"reload rejected","n":2}\n',
  ]);
});

test('status table: connections, IKE and Child SAs, counters, the in-memory warning', () => {
  const r: StatusReport = {
    daemon: {
      version: '1.2.3',
      pid: 7,
      uptimeSeconds: 3725,
      config: '/etc/ikeway/ikeway.yaml',
      kernel: 'memory',
      kernelWarning: 'IN-MEMORY KERNEL',
      socket: '/s',
      ports: { ike: 500, natT: 4500 },
    },
    connections: [
      {
        name: 'hq',
        local: '192.0.2.1',
        remote: '192.0.2.2',
        mode: 'tunnel',
        start: 'now',
        localSubnets: ['10.1.0.0/24'],
        remoteSubnets: ['10.2.0.0/24'],
        ikeProposals: [],
        espProposals: [],
        failClosedPolicies: 3,
        ikeSas: [
          {
            id: 1,
            name: 'hq[1]',
            state: 'established',
            initiator: true,
            spiI: 'aa',
            spiR: 'bb',
            local: '192.0.2.1:500',
            remote: '192.0.2.2:500',
            localId: '192.0.2.1',
            remoteId: '192.0.2.2',
            algorithms: 'aes256gcm16-prfsha256-x25519-ke1_mlkem768',
            keyExchanges: ['x25519', 'mlkem768'],
            nat: { local: false, remote: false },
            establishedSeconds: 65,
            rekeySeconds: 7200,
            children: [
              {
                id: 4,
                name: 'hq',
                state: 'installed',
                mode: 'tunnel',
                spiIn: 'c0000001',
                spiOut: 'c0000002',
                reqid: 65536,
                localTs: ['10.1.0.0/24'],
                remoteTs: ['10.2.0.0/24'],
                algorithms: 'aes256gcm16-x25519-ke1_mlkem768',
                keyExchanges: ['x25519', 'mlkem768'],
                installedSeconds: 5,
                rekeySeconds: 3000,
                bytesIn: 2048,
                bytesOut: 10,
                packetsIn: 2,
                packetsOut: 1,
              },
            ],
          },
        ],
      },
    ],
    counters: {},
  };
  const text = renderStatus(r);
  assert.match(text, /^ikeway 1\.2\.3, pid 7, up 1h02m, kernel memory/);
  assert.match(text, /WARNING: IN-MEMORY KERNEL/);
  assert.match(text, /IKE_SA hq\[1\] established \(initiator\), 192\.0\.2\.1:500 <-> 192\.0\.2\.2:500/);
  assert.match(text, /established 1m05s ago, rekey in 2h00m/);
  assert.match(
    text,
    /CHILD_SA \{4\} installed, tunnel, reqid 65536, SPIs c0000001_i c0000002_o, aes256gcm16/,
  );
  assert.match(text, /in 2\.0 KiB \/ 2 pkts, out 10 B \/ 1 pkts/);
  // Every key exchange of each SA (RFC 9370): the IKE SA's and the Child SA's (PFS + additional).
  assert.match(text, /\n {4}key exchanges: x25519 \+ mlkem768\n/);
  assert.match(text, /\n {6}key exchanges: x25519 \+ mlkem768\n/);
});
