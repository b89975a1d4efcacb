// NAT-T (RFC 3948): ESP-in-UDP SAs whose packets are really decapsulated by the UDP_ENCAP socket;
// the IKE bypass (RFC 7296 §2.23) keeping UDP 500/4500 flowing under 0.0.0.0/0 policies; and
// dump/flush of SAs and policies. All through our Kernel, compared with what was requested.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { installIkeBypass } from '../../../src/kernel/bypass.ts';
import type { PolicyParams, SaParams } from '../../../src/kernel/index.ts';
import { enableEspInUdp, espInUdpMode } from '../../../src/kernel/natt.ts';
import { ADDR, testKey, twoSides, type TwoSides } from './support.ts';

const A = ADDR.outer4.a;
const B = ADDR.outer4.b;
const NATT = 4500;

let lab: TwoSides;
before(async () => {
  lab = await twoSides('natt');
});
after(async () => {
  await lab?.close();
});

const asCidr = (a: string): string => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);

async function bound(port: number, addr: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, addr, () => resolve());
  });
  return s;
}

/** Resolves with the datagrams `sock` received within `ms`. */
function received(sock: Socket, ms: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const on = (b: Buffer): void => void got.push(b);
  sock.on('message', on);
  return new Promise((resolve) =>
    setTimeout(() => {
      sock.off('message', on);
      resolve(got);
    }, ms),
  );
}

async function flushBoth(): Promise<void> {
  for (const k of [lab.ka, lab.kb]) {
    await k.flushPolicies();
    await k.flushSas();
  }
}

test('ESP-in-UDP from B is decapsulated by our UDP_ENCAP socket on 4500 and counted', async () => {
  const sock = await bound(NATT, A);
  try {
    enableEspInUdp(sock);
    assert.equal(espInUdpMode(sock), 2, 'UDP_ENCAP_ESPINUDP read back');
    const s: SaParams = {
      src: B,
      dst: A,
      spi: 0x3001,
      proto: 'esp',
      mode: 'tunnel',
      reqid: 31,
      aead: { name: 'rfc4106(gcm(aes))', key: testKey(20, 31), icvBits: 128 },
      encap: { sport: NATT, dport: NATT },
    };
    await lab.kb.addSa(s);
    await lab.ka.addSa(s);
    const inner = { src: `${ADDR.inner4.b}/32`, dst: `${ADDR.inner4.a}/32` };
    const tmpl = { src: B, dst: A, proto: 'esp' as const, mode: 'tunnel' as const, reqid: 31 };
    await lab.kb.addPolicy({
      selector: inner,
      dir: 'out',
      action: 'allow',
      priority: 100,
      templates: [tmpl],
    });
    await lab.ka.addPolicy({ selector: inner, dir: 'in', action: 'allow', priority: 100, templates: [tmpl] });
    const app = await bound(5001, ADDR.inner4.a);
    try {
      const arrived = received(app, 3000);
      for (let i = 0; i < 3; i++)
        await lab.relayB.udpSend(ADDR.inner4.b, 0, ADDR.inner4.a, 5001, Buffer.from(`natt ${i}`));
      const got = (await arrived).map((b) => b.toString());
      assert.deepEqual(
        got.sort(),
        ['natt 0', 'natt 1', 'natt 2'],
        'plaintext arrived after ESP-in-UDP decap',
      );
    } finally {
      app.close();
    }
    const [onA, onB] = await Promise.all([lab.ka.getSa(s), lab.kb.getSa(s)]);
    for (const got of [onA, onB]) {
      assert.deepEqual(got.encap, { sport: NATT, dport: NATT });
      assert.equal(got.mode, 'tunnel');
      assert.equal(got.reqid, 31);
    }
    assert.equal(onB.current.packets, 3n, 'B encapsulated 3');
    assert.equal(onA.current.packets, 3n, 'A decapsulated 3');
  } finally {
    sock.close();
    await flushBoth();
  }
});

test('IKE bypass keeps UDP 500 and 4500 flowing under 0.0.0.0/0 policies; other UDP is captured', async () => {
  const any = '0.0.0.0/0';
  const trap = (dir: 'in' | 'out', src: string, dst: string): PolicyParams => ({
    selector: { src: any, dst: any },
    dir,
    action: 'allow',
    priority: 1000,
    templates: [{ src, dst, proto: 'esp', mode: 'tunnel', reqid: 40 }],
  });
  await lab.ka.addPolicy(trap('in', B, A));
  await lab.kb.addPolicy(trap('out', B, A));
  const socks = await Promise.all([bound(500, A), bound(NATT, A), bound(9999, A)]);
  const sendAll = async (tag: string): Promise<string[]> => {
    const arrived = socks.map((s) => received(s, 2000));
    for (const port of [500, NATT, 9999])
      await lab.relayB.udpSend(B, port, A, port, Buffer.from(`${tag} ${port}`));
    return (await Promise.all(arrived)).flat().map((b) => b.toString());
  };
  try {
    const before = await sendAll('before');
    assert.deepEqual(before, [], `without bypass the 0/0 policy swallows everything: ${before.join()}`);
    const pa = await installIkeBypass(lab.ka, { addresses: [A] });
    const pb = await installIkeBypass(lab.kb, { addresses: [B] });
    assert.deepEqual(
      (await sendAll('after')).sort(),
      ['after 4500', 'after 500'],
      'IKE ports pass, 9999 does not',
    );
    for (const [k, pols] of [
      [lab.ka, pa],
      [lab.kb, pb],
    ] as const)
      for (const p of pols) {
        const got = await k.getPolicy({ selector: p.selector, dir: p.dir });
        // A bare address in the request comes back as a host prefix.
        const want = { ...p.selector, src: asCidr(p.selector.src), dst: asCidr(p.selector.dst) };
        assert.deepEqual([got.selector, got.action, got.priority, got.templates], [want, 'allow', 1, []]);
      }
  } finally {
    for (const s of socks) s.close();
    await flushBoth();
  }
});

test('dumpSas/dumpPolicies list exactly what was added; flush empties each table', async () => {
  const { ka } = lab;
  const sas: SaParams[] = [0x4001, 0x4002, 0x4003].map((spi, i) => ({
    src: i === 2 ? ADDR.outer6.a : A,
    dst: i === 2 ? ADDR.outer6.b : B,
    spi,
    proto: 'esp',
    mode: i === 0 ? 'transport' : 'tunnel',
    reqid: 50 + i,
    crypt: { name: 'cbc(aes)', key: testKey(16, spi) },
    auth: { name: 'hmac(sha256)', key: testKey(32, spi + 1), truncBits: 128 },
  }));
  const pols: PolicyParams[] = [50, 51].map((reqid, i) => ({
    selector: { src: `10.${i}.0.0/16`, dst: '10.9.0.0/16' },
    dir: 'out',
    action: 'allow',
    priority: 200 + i,
    templates: [{ src: A, dst: B, proto: 'esp', mode: 'tunnel', reqid }],
  }));
  const res = await ka.batch([
    ...sas.map((sa) => ({ op: 'addSa' as const, sa })),
    ...pols.map((policy) => ({ op: 'addPolicy' as const, policy })),
  ]);
  assert.deepEqual(res, [null, null, null, null, null]);
  const key = (x: { src: string; dst: string; spi: number; mode: string; reqid: number }): string =>
    `${x.src} ${x.dst} ${x.spi} ${x.mode} ${x.reqid}`;
  assert.deepEqual((await ka.dumpSas()).map(key).sort(), sas.map(key).sort());
  const dumped = await ka.dumpPolicies();
  assert.deepEqual(
    dumped.map((p) => [p.selector, p.priority, p.templates]).sort((x, y) => Number(x[1]) - Number(y[1])),
    pols.map((p) => [p.selector, p.priority, p.templates]),
  );
  await ka.flushSas();
  assert.deepEqual(await ka.dumpSas(), []);
  assert.equal((await ka.dumpPolicies()).length, 2, 'flushing SAs leaves policies');
  await ka.flushPolicies();
  assert.deepEqual(await ka.dumpPolicies(), []);
});
