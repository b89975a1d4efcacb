// UDP_ENCAP through src/kernel/sockopt.ts on the host kernel: set, read back, on the right descriptor,
// and seen in the kernel's behaviour (it eats NAT-keepalives and ESP, passes marker-prefixed IKE).
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { enableEspInUdp, espInUdpMode } from '../../src/kernel/natt.ts';
import { KernelError } from '../../src/kernel/errors.ts';

async function bound(type: 'udp4' | 'udp6', address: string, port = 0): Promise<Socket> {
  const s = createSocket({ type, ipv6Only: type === 'udp6' });
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind({ address, port, exclusive: true }, () => res());
  });
  return s;
}

/** Sends a keepalive, an ESP-looking datagram and a marker-prefixed one; returns the first delivered. */
async function firstDelivered(to: Socket): Promise<Buffer> {
  const got = new Promise<Buffer>((res) => to.once('message', (m) => res(m)));
  const from = await bound('udp4', '127.0.0.1');
  const { port } = to.address();
  const send = (b: Buffer) =>
    new Promise<void>((res, rej) => from.send(b, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  await send(Buffer.from([0xff]));
  await send(Buffer.from([0, 0, 0, 7, 0, 0, 0, 1, 1, 2, 3, 4]));
  await send(Buffer.from([0, 0, 0, 0, 0x69, 0x6b, 0x65]));
  const m = await got;
  from.close();
  return m;
}

test('UDP_ENCAP_ESPINUDP: set on the right socket, read back, and in force in the kernel', async (t) => {
  const plain = await bound('udp4', '127.0.0.1');
  t.after(() => plain.close());
  const s = await bound('udp4', '127.0.0.1');
  t.after(() => s.close());
  const { port } = s.address();
  // Decoys on the same port number: an IPv6 UDP socket and a TCP listener.
  const v6 = await bound('udp6', '::1', port);
  t.after(() => v6.close());
  const tcp = createServer();
  await new Promise<void>((res) => tcp.listen(port, '127.0.0.1', () => res()));
  t.after(() => tcp.close());

  assert.equal(espInUdpMode(s), 0);
  enableEspInUdp(s);
  assert.equal(espInUdpMode(s), 2, 'read back through getsockopt');
  assert.equal(espInUdpMode(v6), 0, 'the IPv6 socket on the same port is untouched');
  assert.equal(espInUdpMode(plain), 0);

  // Independent of getsockopt: the kernel consumes the keepalive and the ESP datagram.
  assert.deepEqual([...(await firstDelivered(plain))], [0xff]);
  assert.deepEqual([...(await firstDelivered(s))], [0, 0, 0, 0, 0x69, 0x6b, 0x65]);

  enableEspInUdp(v6);
  assert.equal(espInUdpMode(v6), 2, 'IPv6 too');
});

test('UDP_ENCAP on a socket that is not bound, or closed: a precise invalid error', async () => {
  const unbound = createSocket('udp4');
  assert.throws(
    () => enableEspInUdp(unbound),
    (e: unknown) => e instanceof KernelError && e.kind === 'invalid' && /bound first/.test(e.message),
  );
  assert.throws(
    () => espInUdpMode(unbound),
    (e: unknown) => e instanceof KernelError && e.kind === 'invalid',
  );
  unbound.close();
  const s = await bound('udp4', '127.0.0.1');
  await new Promise<void>((res) => s.close(() => res()));
  assert.throws(
    () => enableEspInUdp(s),
    (e: unknown) => e instanceof KernelError && e.kind === 'invalid',
  );
});
