// NAT-T receive path (RFC 3948 §2.2): on the IKE socket bound to port 4500, UDP_ENCAP_ESPINUDP
// makes the kernel take datagrams whose first four bytes are a non-zero SPI as ESP and hand only
// non-ESP-marker packets (IKE, with the 4-byte zero marker) to the socket.
import type { Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { KernelError } from './errors.ts';
import { SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP } from './xfrm/constants.ts';

interface SockoptModule {
  setsockopt(socket: Socket, level: number, name: number, value: number): void;
  getsockopt(socket: Socket, level: number, name: number): number;
}
const sockopt = createRequire(import.meta.url)('sockopt') as SockoptModule;

/** Turns on ESP-in-UDP decapsulation on a bound dgram socket and reads it back to verify. */
export function enableEspInUdp(socket: Socket): void {
  let port: number;
  try {
    port = socket.address().port;
  } catch {
    throw KernelError.invalid('UDP_ENCAP', 'socket', 'the socket must be bound first');
  }
  const object = `udp port ${port}`;
  try {
    sockopt.setsockopt(socket, SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP);
  } catch (e) {
    const errno = Math.abs(Number((e as { errno?: unknown }).errno ?? 0));
    throw errno > 0
      ? KernelError.fromErrno(errno, 'setsockopt(UDP_ENCAP)', object)
      : KernelError.unsupported('setsockopt(UDP_ENCAP)', object, String(e));
  }
  const got = espInUdpMode(socket);
  if (got !== UDP_ENCAP_ESPINUDP)
    throw KernelError.unsupported(
      'getsockopt(UDP_ENCAP)',
      object,
      `read back ${got}, wanted ${UDP_ENCAP_ESPINUDP}`,
    );
}

/** Current UDP_ENCAP type of a bound socket (0 = none, 2 = ESP-in-UDP). */
export function espInUdpMode(socket: Socket): number {
  return sockopt.getsockopt(socket, SOL_UDP, UDP_ENCAP);
}
