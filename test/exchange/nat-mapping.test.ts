// RFC 3948 / RFC 7296 §2.23: the kernel's MAPPING event (the peer's NAT moved the ESP-in-UDP flow to a
// new address/port, seen on an authenticated ESP packet) moves the IKE SA's path and re-points the
// Child SAs' UDP encapsulation. Stale events and IKE SAs without a NAT are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const INSIDE = '192.0.2.200';
const NEW_PUBLIC = '203.0.113.77';

async function natPair(t: { after: (fn: () => Promise<void>) => void }) {
  const h = pair({ addrA: INSIDE, net: { nat: { inside: INSIDE, outside: ADDR_A } } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  assert.equal(rsa.natRemote, true);
  return { h, rsa, child: rsa.children[0]! };
}

for (const newAddr of [ADDR_A, NEW_PUBLIC]) {
  const what = newAddr === ADDR_A ? 'port' : 'address and port';
  test(`MAPPING (new ${what}): the IKE SA path and the Child SA's encapsulation follow`, async (t) => {
    const { h, rsa, child } = await natPair(t);
    const old = { ...rsa.path };
    h.b.kernel.emit({
      type: 'mapping',
      sa: { dst: ADDR_B, spi: child.spiIn, proto: 'esp' },
      reqid: child.reqid,
      oldAddr: old.remoteAddr,
      oldPort: old.remotePort,
      newAddr,
      newPort: 41234,
    });
    await h.settle(0);
    assert.deepEqual([rsa.path.remoteAddr, rsa.path.remotePort], [newAddr, 41234]);
    assert.equal(rsa.path.localPort, old.localPort);
    const sas = await h.b.kernel.dumpSas();
    assert.equal(sas.length, 2, 'still one pair: the old outbound SA was replaced, not duplicated');
    const out = sas.find((s) => s.spi === child.spiOut)!;
    const inb = sas.find((s) => s.spi === child.spiIn)!;
    assert.equal(out.dst, newAddr);
    assert.deepEqual(out.encap, { sport: 4500, dport: 41234 });
    assert.deepEqual(inb.encap, { sport: 41234, dport: 4500 });
    const pols = await h.b.kernel.dumpPolicies();
    assert.equal(pols.find((p) => p.dir === 'out')?.templates[0]?.dst, newAddr);
    assert.equal(pols.find((p) => p.dir === 'in')?.templates[0]?.src, newAddr);
    assert.equal(child.state, 'installed');
  });
}

test('a stale MAPPING (old mapping not the one in use) changes nothing', async (t) => {
  const { h, rsa, child } = await natPair(t);
  const before = { ...rsa.path };
  const sasBefore = JSON.stringify(await h.b.kernel.dumpSas(), (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
  h.b.kernel.emit({
    type: 'mapping',
    sa: { dst: ADDR_B, spi: child.spiIn, proto: 'esp' },
    reqid: child.reqid,
    oldAddr: before.remoteAddr,
    oldPort: before.remotePort + 1,
    newAddr: NEW_PUBLIC,
    newPort: 41234,
  });
  await h.settle(0);
  assert.deepEqual(rsa.path, before);
  const sasAfter = JSON.stringify(await h.b.kernel.dumpSas(), (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
  assert.equal(sasAfter, sasBefore);
});

test('without a NAT, MAPPING is ignored (no UDP encapsulation to move)', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const child = rsa.children[0]!;
  h.b.kernel.emit({
    type: 'mapping',
    sa: { dst: ADDR_B, spi: child.spiIn, proto: 'esp' },
    reqid: child.reqid,
    oldAddr: ADDR_A,
    oldPort: 500,
    newAddr: NEW_PUBLIC,
    newPort: 41234,
  });
  await h.settle(0);
  assert.equal(rsa.path.remoteAddr, ADDR_A);
  assert.ok((await h.b.kernel.dumpSas()).every((s) => s.dst !== NEW_PUBLIC && s.src !== NEW_PUBLIC));
});
