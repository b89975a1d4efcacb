// `ikeway load` over real UDP against two responders in a namespace: an ikeway peer (in-memory
// kernel) and strongSwan 5.9.8 (kernel-libipsec). Every IKE SA must come up with its own SPIs and
// identity, counted on both sides; the report's figures must be consistent with what the peer saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import { CHARON_BIN, Charon } from '../../lab/peers/strongswan.ts';
import type { LoadReport } from '../../lab/load/runner.ts';
import { percentile, summarize } from '../../lab/load/stats.ts';
import { readPskFile } from '../../lab/cli/load.ts';
import { PeerProcess } from './peer-process.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root for namespaces' : false;
const PSK = 'load-test-pre-shared-key-0123456789';

function pskFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), `ikw-load-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'psk');
  writeFileSync(f, `${PSK}\n`, { mode: 0o600 });
  return f;
}

/** Runs `ikeway load ... --json` inside `ns` (asynchronously: the peers' output keeps flowing). */
async function load(
  ns: Netns,
  args: string[],
): Promise<{ status: number | null; report: LoadReport; stderr: string }> {
  const p = ns.spawn(process.execPath, ['--import', 'tsx', MAIN, 'load', ...args, '--json']);
  let stdout = '';
  let stderr = '';
  p.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  p.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c.slice(0, 10_000)));
  const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((r) => p.once('close', (code) => r(code)));
  clearTimeout(kill);
  assert.ok(stdout.trim().startsWith('{'), `no JSON report: ${stdout}\n${stderr}`);
  return { status, report: JSON.parse(stdout) as LoadReport, stderr };
}

function checkReport(r: LoadReport, count: number): void {
  assert.equal(r.requested, count);
  assert.equal(r.established, count, JSON.stringify(r.failures));
  assert.equal(r.failed, 0);
  assert.deepEqual(r.failures, {});
  assert.equal(r.latencyMs.count, count);
  assert.ok(r.latencyMs.min > 0 && r.latencyMs.min <= r.latencyMs.median);
  assert.ok(r.latencyMs.median <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  // The rate is what the counts and the elapsed time say.
  assert.ok(Math.abs(r.ratePerSec - (count * 1000) / r.elapsedMs) < 1e-6);
}

test('nearest-rank percentiles and summaries', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 99), 4);
  assert.equal(percentile([5], 0), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile([1], 101), RangeError);
  const s = summarize([9, 1, 5, 3, 7]);
  assert.deepEqual(s, { count: 5, min: 1, median: 5, p99: 9, max: 9 });
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(summarize(hundred).p99, 99);
});

test('the PSK file: trailing newline dropped, empty or missing refused without echoing content', (t) => {
  const f = pskFile(t);
  assert.equal(readPskFile(f), PSK);
  writeFileSync(f, '');
  assert.throws(() => readPskFile(f), /is empty/);
  assert.throws(
    () => readPskFile(`${f}.missing`),
    (e: Error) => /ENOENT/.test(e.message) && !e.message.includes(PSK),
  );
});

test(
  'ikeway load: 50 IKE SAs against an ikeway responder, distinct SPIs and IDs',
  { skip, timeout: 60_000 },
  async (t) => {
    const na = Netns.create('rnl');
    const nb = Netns.create('rnl');
    const live: { peer?: PeerProcess } = {};
    t.after(async () => {
      await live.peer?.stop();
      na.delete();
      nb.delete();
    });
    linkVeth(na, '203.0.113.1/24', nb, '203.0.113.2/24');
    const peer = (live.peer = PeerProcess.start(nb, 'responder', {
      kernel: 'memory',
      addresses: ['203.0.113.2'],
      connections: [
        {
          name: 'any',
          localAddr: '203.0.113.2',
          localId: 'fqdn:responder.example',
          psk: PSK,
          ike: 'aes256gcm16-prfsha256-x25519',
          esp: 'aes256gcm16',
          localTs: ['10.2.0.0/24'],
          remoteTs: ['0.0.0.0/0'],
        },
      ],
    }));
    await peer.waitEvent('ready');
    const count = 50;
    const { status, report, stderr } = await load(na, [
      ...['--remote', '203.0.113.2', '--count', String(count), '--rate', '500', '--concurrency', '16'],
      ...['--psk-file', pskFile(t), '--remote-id', 'fqdn:responder.example', '--delete'],
    ]);
    assert.equal(status, 0, stderr);
    checkReport(report, count);

    // The responder saw the same: 50 IKE SAs and 50 Child SAs, every SPI and identity distinct.
    await peer.waitFor(() => peer.of('child-installed').length >= count, 10_000, `${count} Child SAs`);
    const ikes = peer.of('ike-established');
    const children = peer.of('child-installed');
    assert.equal(ikes.length, count);
    assert.equal(children.length, count);
    assert.equal(new Set(ikes.map((e) => e.spiI)).size, count);
    assert.equal(new Set(children.map((e) => e.spiIn)).size, count);
    assert.equal(new Set(children.map((e) => e.spiOut)).size, count);
    assert.equal(new Set(ikes.map((e) => e.peerId)).size, count);
    assert.ok(ikes.every((e) => /^load-\d+\.ikeway\.test$/.test(String(e.peerId))));
    assert.ok(children.every((e) => JSON.stringify(e.localTs) === '["10.2.0.0/24"]'));
    // --delete: every IKE SA deleted with the responder (RFC 7296 §1.4.1), confirmed on its side.
    assert.equal(report.deleted, count);
    await peer.waitFor(() => peer.of('ike-destroyed').length >= count, 10_000, `${count} deletions`);
    assert.equal(new Set(peer.of('ike-destroyed').map((e) => e.spiI)).size, count);
  },
);

test(
  'ikeway load: a wrong PSK fails every SA and says why (exit 1)',
  { skip, timeout: 60_000 },
  async (t) => {
    const na = Netns.create('rnl');
    const nb = Netns.create('rnl');
    const live: { peer?: PeerProcess } = {};
    t.after(async () => {
      await live.peer?.stop();
      na.delete();
      nb.delete();
    });
    linkVeth(na, '203.0.113.1/24', nb, '203.0.113.2/24');
    const peer = (live.peer = PeerProcess.start(nb, 'responder', {
      kernel: 'memory',
      addresses: ['203.0.113.2'],
      connections: [
        {
          name: 'any',
          localAddr: '203.0.113.2',
          localId: 'fqdn:responder.example',
          psk: 'another-key-entirely',
          ike: 'aes256gcm16-prfsha256-x25519',
          esp: 'aes256gcm16',
          localTs: ['10.2.0.0/24'],
          remoteTs: ['0.0.0.0/0'],
        },
      ],
    }));
    await peer.waitEvent('ready');
    const { status, report, stderr } = await load(na, [
      ...['--remote', '203.0.113.2', '--count', '5', '--psk-file', pskFile(t), '--timeout', '20'],
    ]);
    const why = `${JSON.stringify(report)}\n${stderr}`;
    assert.equal(status, 1, why);
    assert.equal(report.established, 0, why);
    assert.equal(report.failed, 5, why);
    assert.equal(
      Object.values(report.failures).reduce((x, y) => x + y, 0),
      5,
      why,
    );
    assert.ok(
      Object.keys(report.failures).every((k) => k.startsWith('ike-failed')),
      why,
    );
    assert.ok(Number.isNaN(report.latencyMs.median) || report.latencyMs.median === null);
  },
);

const swanSkip = skip || (!existsSync(CHARON_BIN) ? 'strongSwan not installed' : false);

test(
  'ikeway load: 20 IKE SAs against strongSwan 5.9.8, all listed by charon',
  { skip: swanSkip, timeout: 60_000 },
  async (t) => {
    const na = Netns.create('rnl');
    const ns = Netns.create('rnl');
    const live: { charon?: Charon } = {};
    t.after(async () => {
      await live.charon?.stop();
      na.delete();
      ns.delete();
    });
    linkVeth(na, '203.0.113.1/24', ns, '203.0.113.2/24');
    ns.ip('addr', 'add', '10.1.0.1/32', 'dev', 'lo'); // kernel-libipsec: an address inside local_ts
    ns.ip('route', 'add', 'default', 'via', '203.0.113.1');
    const charon = (live.charon = await Charon.start({
      ns,
      tag: 'load-r',
      connections: [
        {
          name: 'load',
          localAddrs: ['203.0.113.2'],
          remoteAddrs: ['%any'],
          localId: 'responder.example',
          remoteId: '%any',
          localAuth: 'psk',
          remoteAuth: 'psk',
          proposals: ['aes256gcm16-prfsha256-x25519'],
          mobike: false,
          children: [
            {
              name: 'net',
              localTs: ['10.1.0.0/24'],
              remoteTs: ['10.9.0.0/24'],
              espProposals: ['aes256gcm16'],
            },
          ],
        },
      ],
      secrets: { psk: [{ secret: PSK }] },
    }));
    await charon.loadAll();
    const count = 20;
    const { status, report, stderr } = await load(na, [
      ...['--remote', '203.0.113.2', '--count', String(count), '--rate', '200', '--concurrency', '8'],
      ...['--psk-file', pskFile(t), '--local-ts', '10.9.0.0/24', '--remote-ts', '10.1.0.0/24'],
    ]);
    assert.equal(status, 0, `${stderr}\n${charon.logText().slice(-4000)}`);
    checkReport(report, count);
    const sas = await charon.listSas();
    assert.equal(sas.length, count);
    assert.ok(
      sas.every((s) => s.fields.state === 'ESTABLISHED' && s.children[0]?.fields.state === 'INSTALLED'),
    );
    assert.equal(new Set(sas.map((s) => s.fields['initiator-spi'])).size, count);
    assert.equal(new Set(sas.map((s) => s.fields['remote-id'])).size, count);
    assert.equal(new Set(sas.map((s) => s.children[0]?.fields['spi-in'])).size, count);
  },
);
