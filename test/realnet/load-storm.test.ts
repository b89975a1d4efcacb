// The benchmark's rekey storm (lab/load/storm.ts through bench/load-driver.ts, issue 18) over real UDP
// in namespaces against an ikeway responder: tunnels from two local addresses, then their Child SAs
// rekeyed round-robin for a few seconds. What the generator reports must match what the responder saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import type { LoadOptions, LoadReport } from '../../lab/load/runner.ts';
import { LoadError, validateLoadOptions } from '../../lab/load/runner.ts';
import { PeerProcess } from './peer-process.ts';

const DRIVER = fileURLToPath(new URL('../../bench/load-driver.ts', import.meta.url));
const skip = process.getuid?.() !== 0 ? 'needs root for namespaces' : false;
const PSK = 'storm-test-pre-shared-key-0123456789';

const base: LoadOptions = {
  remote: '203.0.113.2',
  local: '203.0.113.1',
  locals: ['203.0.113.1', '203.0.113.3'],
  perLocal: 20,
  count: 40,
  rate: 0,
  concurrency: 8,
  psk: PSK,
  ike: 'aes256gcm16-prfsha256-x25519',
  esp: 'aes256gcm16',
  idTemplate: 'fqdn:storm-%d.ikeway.test',
  localTs: ['0.0.0.0/0'],
  remoteTs: ['0.0.0.0/0'],
  timeoutMs: 20_000,
  delete: false,
  storm: { seconds: 4, concurrency: 8, intervalMs: 1000 },
};

test('storm options: bad address split and storm settings are refused precisely', () => {
  assert.throws(
    () => validateLoadOptions({ ...base, perLocal: 10 }),
    /2 local addresses x 10 SAs hold fewer than 40/,
  );
  assert.throws(() => validateLoadOptions({ ...base, perLocal: 0 }), LoadError);
  assert.throws(
    () => validateLoadOptions({ ...base, storm: { seconds: 0, concurrency: 1, intervalMs: 1 } }),
    /storm seconds/,
  );
  assert.throws(
    () => validateLoadOptions({ ...base, storm: { seconds: 1, concurrency: 0, intervalMs: 1 } }),
    /storm-concurrency/,
  );
  validateLoadOptions(base);
});

test(
  'rekey storm: 40 tunnels from two addresses, every Child SA rekeyed, none lost, the responder agrees',
  { skip, timeout: 90_000 },
  async (t) => {
    const na = Netns.create('rns');
    const nb = Netns.create('rns');
    const live: { peer?: PeerProcess } = {};
    t.after(async () => {
      await live.peer?.stop();
      na.delete();
      nb.delete();
    });
    const [dev] = linkVeth(na, '203.0.113.1/24', nb, '203.0.113.2/24');
    na.ip('addr', 'add', '203.0.113.3/24', 'dev', dev);
    const peer = (live.peer = PeerProcess.start(nb, 'responder', {
      kernel: 'memory',
      addresses: ['203.0.113.2'],
      connections: [
        {
          name: 'any',
          localAddr: '203.0.113.2',
          localId: 'fqdn:responder.example',
          psk: PSK,
          ike: base.ike,
          esp: base.esp,
          localTs: ['0.0.0.0/0'],
          remoteTs: ['0.0.0.0/0'],
        },
      ],
    }));
    await peer.waitEvent('ready');
    const p = na.spawn(process.execPath, ['--import', 'tsx', DRIVER, JSON.stringify(base)]);
    let out = '';
    let err = '';
    p.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c.slice(0, 10_000)));
    const kill = setTimeout(() => p.kill('SIGKILL'), 75_000);
    const status = await new Promise<number | null>((r) => p.once('close', (code) => r(code)));
    clearTimeout(kill);
    const lines = out.trim().split('\n');
    assert.equal(status, 0, `${out}\n${err}`);
    // The marks the benchmark reads the responder's CPU at, in order, before the report.
    assert.deepEqual(lines.slice(0, 2), ['IKW-STORM start', 'IKW-STORM end'], out);
    const rep = JSON.parse(lines.at(-1)!) as LoadReport;
    const s = rep.storm!;
    const why = JSON.stringify(rep);
    assert.equal(rep.established, 40, why);
    assert.equal(s.tunnels, 40, why);
    assert.equal(s.failed, 0, why);
    assert.equal(s.lost, 0, why);
    assert.equal(s.rekeyed, s.started, why);
    assert.ok(s.rekeyed >= 40, `every tunnel rekeyed at least once in 3 s: ${why}`);
    assert.ok(Math.abs(s.ratePerSec - (s.rekeyed * 1000) / s.elapsedMs) < 1e-6);
    // The responder: IKE SAs from both addresses (20 each), and as many rekeys as the generator counted.
    await peer.waitFor(() => peer.of('child-rekeyed').length >= s.rekeyed, 10_000, 'the rekeys');
    assert.equal(peer.of('ike-established').length, 40);
    assert.equal(peer.of('child-rekeyed').length, s.rekeyed);
    assert.equal(peer.of('child-installed').length, 40 + s.rekeyed);
    assert.equal(peer.of('ike-destroyed').length, 0);
  },
);
