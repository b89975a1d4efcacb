// Smoke test of the ESP lab itself, independent of our netlink backend: iproute2 installs
// AES-GCM (RFC 4106) transport-mode SAs and policies on both sides of a veth, ICMP flows through
// them, and `ip -s xfrm state` shows the kernel's ESP path counted every packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, sh } from '../../../lab/netns/netns.ts';
import { linkToPeer, ping } from './support.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';
const KEY_AB = `0x${'11'.repeat(20)}`;
const KEY_BA = `0x${'22'.repeat(20)}`;

function xfrm(run: (...args: string[]) => string): void {
  for (const [src, dst, spi, key] of [
    [A, B, '0x1001', KEY_AB],
    [B, A, '0x1002', KEY_BA],
  ] as const)
    run(
      ...['xfrm', 'state', 'add', 'src', src, 'dst', dst, 'proto', 'esp', 'spi', spi, 'reqid', '1'],
      ...['mode', 'transport', 'aead', 'rfc4106(gcm(aes))', key, '128'],
    );
}

function policies(run: (...args: string[]) => string, self: string, peer: string): void {
  for (const [dir, src, dst] of [
    ['out', self, peer],
    ['in', peer, self],
  ] as const)
    run(
      ...['xfrm', 'policy', 'add', 'src', `${src}/32`, 'dst', `${dst}/32`, 'dir', dir],
      ...['tmpl', 'src', src, 'dst', dst, 'proto', 'esp', 'reqid', '1', 'mode', 'transport'],
    );
}

/** Packet counts per SPI from `ip -s xfrm state` ("lifetime current: ... N(bytes), M(packets)"). */
function packetsBySpi(out: string): Map<number, number> {
  const res = new Map<number, number>();
  for (const block of out.split(/^src /m).slice(1)) {
    const spi = /spi (0x[0-9a-f]+)/.exec(block);
    const cur = /lifetime current:\s*\n\s*(\d+)\(bytes\), (\d+)\(packets\)/.exec(block);
    if (spi && cur) res.set(Number(spi[1]), Number(cur[2]));
  }
  return res;
}

test('iproute2 AES-GCM transport SAs carry ICMP both ways, counted on both sides', (t) => {
  const b = Netns.create('smoke');
  t.after(() => b.delete());
  linkToPeer(b, [`${A}/24`], [`${B}/24`]);
  const self = (...args: string[]): string => sh('ip', args);
  xfrm(self);
  xfrm((...args) => b.ip(...args));
  policies(self, A, B);
  policies((...args) => b.ip(...args), B, A);

  assert.equal(ping(B, 5), 5, 'all echo replies came back through ESP');
  const mine = packetsBySpi(sh('ip', ['-s', 'xfrm', 'state']));
  const theirs = packetsBySpi(b.ip('-s', 'xfrm', 'state'));
  assert.equal(mine.get(0x1001), 5, 'A encrypted 5 requests');
  assert.equal(theirs.get(0x1001), 5, 'B decrypted 5 requests');
  assert.equal(theirs.get(0x1002), 5, 'B encrypted 5 replies');
  assert.equal(mine.get(0x1002), 5, 'A decrypted 5 replies');
});
