// FakeKernel's test hooks: settable counters, injected events, recorded calls without key bytes,
// injected failures, and SA identity by canonical address (2001:DB8::1 is 2001:db8::1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../../src/kernel/errors.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import type { KernelEvent, SaParams } from '../../src/kernel/types.ts';

const sa: SaParams = {
  src: '2001:db8::1',
  dst: '2001:db8::2',
  spi: 0xc0000042,
  proto: 'esp',
  mode: 'tunnel',
  reqid: 3,
  aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(36).fill(0xab), icvBits: 128 },
};

test('counters set by the test come back from getSa; algorithms without keys', async () => {
  const k = new FakeKernel();
  k.now = () => 1_700_000_000;
  await k.addSa(sa);
  k.setCounters(
    { dst: '2001:DB8::2', spi: sa.spi, proto: 'esp' },
    { bytes: 1234n, packets: 5n, useTime: 1_700_000_100 },
  );
  const got = await k.getSa({ dst: '2001:db8:0::2', spi: sa.spi, proto: 'esp' });
  assert.deepEqual(got.current, {
    bytes: 1234n,
    packets: 5n,
    addTime: 1_700_000_000,
    useTime: 1_700_000_100,
  });
  assert.deepEqual(got.algorithms, { aead: { name: 'rfc4106(gcm(aes))', keyBits: 288, icvBits: 128 } });
  assert.equal(JSON.stringify(k.calls).includes('171'), false, 'no key bytes in the call log');
  assert.deepEqual(k.calls[0], {
    method: 'addSa',
    arg: { ...sa, aead: { name: 'rfc4106(gcm(aes))', key: { keyLength: 36 }, icvBits: 128 } },
  });
});

test('events are delivered to subscribers until they unsubscribe; failures can be injected', async () => {
  const k = new FakeKernel();
  const seen: KernelEvent[] = [];
  const off = k.onEvent((e) => seen.push(e));
  const ev: KernelEvent = {
    type: 'expire',
    hard: false,
    sa: { dst: '192.0.2.2', spi: 1, proto: 'esp', src: '192.0.2.1', reqid: 1 },
  };
  k.emit(ev);
  off();
  k.emit(ev);
  assert.deepEqual(seen, [ev]);
  k.failNext('addSa', KernelError.fromErrno(105, 'XFRM_MSG_NEWSA', 'x'));
  await assert.rejects(k.addSa(sa), (e: unknown) => e instanceof KernelError && e.code === 'ENOBUFS');
  await k.addSa(sa);
  await assert.rejects(k.addSa(sa), (e: unknown) => e instanceof KernelError && e.isExists);
  await k.close();
  await assert.rejects(k.dumpSas(), (e: unknown) => e instanceof KernelError && e.kind === 'closed');
});
