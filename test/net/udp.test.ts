import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Counters } from '../../src/base/counters.ts';
import { UdpTransport } from '../../src/net/udp.ts';
import { IKE_HEADER_LEN, type PacketPath } from '../../src/net/transport.ts';

const msg = (tag: number) => {
  const m = new Uint8Array(IKE_HEADER_LEN + 4);
  m[0] = tag;
  return m;
};

/** Collects received packets; `next(n)` resolves once n have arrived (bounded by a 5 s guard). */
function collector(t: UdpTransport) {
  const got: { tag: number; len: number; path: PacketPath }[] = [];
  let wake: (() => void) | undefined;
  t.onReceive((p, path) => {
    got.push({ tag: p[0]!, len: p.length, path });
    wake?.();
  });
  const next = async (n: number) => {
    const guard = setTimeout(() => wake?.(), 5000);
    while (got.length < n) {
      const before = got.length;
      await new Promise<void>((r) => (wake = r));
      if (got.length === before) break; // the guard fired
    }
    clearTimeout(guard);
    return got;
  };
  return { got, next };
}

test('UDP on loopback (IPv4 and IPv6, ephemeral ports): IKE both ports, marker, keepalive, ESP', async (t) => {
  const ca = new Counters();
  const cb = new Counters();
  const addresses = ['127.0.0.1', '::1'];
  const a = await UdpTransport.open({ addresses, ikePort: 0, nattPort: 0, counters: ca });
  t.after(() => a.close());
  const b = await UdpTransport.open({ addresses, ikePort: 0, nattPort: 0, counters: cb });
  t.after(() => b.close());
  assert.notEqual(a.ports.ike, a.ports.natt);
  const rx = collector(b);

  const v4: PacketPath = {
    localAddr: '127.0.0.1',
    localPort: a.ports.ike,
    remoteAddr: '127.0.0.1',
    remotePort: b.ports.ike,
  };
  const v6natt: PacketPath = {
    localAddr: '::1',
    localPort: a.ports.natt,
    remoteAddr: '::1',
    remotePort: b.ports.natt,
  };
  await a.send(msg(1), v4);
  await rx.next(1);
  await a.send(msg(2), v6natt);
  await rx.next(2);
  assert.deepEqual(rx.got[0], {
    tag: 1,
    len: IKE_HEADER_LEN + 4,
    path: {
      localAddr: '127.0.0.1',
      localPort: b.ports.ike,
      remoteAddr: '127.0.0.1',
      remotePort: a.ports.ike,
    },
  });
  assert.equal(rx.got[1]?.len, IKE_HEADER_LEN + 4, 'the non-ESP marker is stripped on receive');
  assert.equal(rx.got[1]?.path.remotePort, a.ports.natt);
  assert.equal(rx.got[1]?.path.localAddr, '::1');

  // Raw datagrams onto b's NAT-T port: a keepalive, an ESP packet, and a marked IKE message.
  const raw = dgram.createSocket('udp6');
  t.after(() => raw.close());
  const rawSend = (d: Uint8Array) =>
    new Promise<void>((res, rej) => raw.send(d, b.ports.natt, '::1', (e) => (e ? rej(e) : res())));
  await rawSend(Uint8Array.of(0xff));
  await rawSend(Uint8Array.of(0x12, 0x34, 0x56, 0x78, ...new Array<number>(40).fill(1)));
  const marked = new Uint8Array(4 + IKE_HEADER_LEN);
  marked[4] = 3;
  await rawSend(marked);
  await rx.next(3);
  assert.deepEqual(
    rx.got.map((g) => g.tag),
    [1, 2, 3],
  );
  assert.equal(cb.get('net.drop_natt_keepalive'), 1);
  assert.equal(cb.get('net.drop_esp_on_natt'), 1);
  assert.equal(ca.get('net.tx_packets'), 2);

  await a.sendKeepalive(v6natt);
  await a.send(msg(4), v6natt); // delivered after the keepalive, which b drops
  await rx.next(4);
  assert.equal(cb.get('net.drop_natt_keepalive'), 2);

  await assert.rejects(a.send(msg(5), { ...v4, localPort: 1 }), { code: 'ERR_NO_SOCKET' });
  await assert.rejects(a.sendKeepalive(v4), { code: 'ERR_NO_SOCKET' });
});

test('UDP: bad address and a port already in use are typed errors; nothing stays bound', async (t) => {
  await assert.rejects(UdpTransport.open({ addresses: ['not-an-ip'], ikePort: 0, nattPort: 0 }), {
    code: 'ERR_BAD_ADDRESS',
  });
  const a = await UdpTransport.open({ addresses: ['127.0.0.1'], ikePort: 0, nattPort: 0 });
  t.after(() => a.close());
  await assert.rejects(UdpTransport.open({ addresses: ['127.0.0.1'], ikePort: 0, nattPort: a.ports.natt }), {
    code: 'EADDRINUSE',
  });
  await a.close();
  await assert.rejects(
    a.send(msg(1), { localAddr: '127.0.0.1', localPort: 1, remoteAddr: '127.0.0.1', remotePort: 1 }),
    {
      code: 'ERR_CLOSED',
    },
  );
});

test('UDP: kernelEspInUdp sets UDP_ENCAP_ESPINUDP and IKE still arrives with the marker stripped', async (t) => {
  const cb = new Counters();
  const b = await UdpTransport.open({
    addresses: ['127.0.0.1'],
    ikePort: 0,
    nattPort: 0,
    kernelEspInUdp: true,
    counters: cb,
  });
  t.after(() => b.close());
  const a = await UdpTransport.open({ addresses: ['127.0.0.1'], ikePort: 0, nattPort: 0 });
  t.after(() => a.close());
  const rx = collector(b);
  const path: PacketPath = {
    localAddr: '127.0.0.1',
    localPort: a.ports.natt,
    remoteAddr: '127.0.0.1',
    remotePort: b.ports.natt,
  };
  await a.sendKeepalive(path); // the kernel eats keepalives on an encap socket
  await a.send(msg(9), path);
  await rx.next(1);
  assert.deepEqual(
    rx.got.map((g) => [g.tag, g.len]),
    [[9, IKE_HEADER_LEN + 4]],
  );
});
