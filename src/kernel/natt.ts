// NAT-T receive path (RFC 3948 §2.2): on the IKE socket bound to port 4500, UDP_ENCAP_ESPINUDP
// makes the kernel take datagrams whose first four bytes are a non-zero SPI as ESP and hand only
// non-ESP-marker packets (IKE, with the 4-byte zero marker) to the socket.
// There is no other kernel interface for it than setsockopt (src/kernel/sockopt.ts).
import type { Socket } from 'node:dgram';
import { KernelError } from './errors.ts';
import { getIntOption, setIntOption } from './sockopt.ts';
import { SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP } from './xfrm/constants.ts';

/** Turns on ESP-in-UDP decapsulation on a bound dgram socket and reads it back to verify. */
export function enableEspInUdp(socket: Socket): void {
  let port: number;
  try {
    port = socket.address().port;
  } catch {
    throw KernelError.invalid('UDP_ENCAP', 'socket', 'the socket must be bound first');
  }
  setIntOption(socket, SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP, 'UDP_ENCAP');
  const got = espInUdpMode(socket);
  if (got !== UDP_ENCAP_ESPINUDP)
    throw KernelError.unsupported(
      'getsockopt(UDP_ENCAP)',
      `udp port ${port}`,
      `read back ${got}, wanted ${UDP_ENCAP_ESPINUDP}`,
    );
}

/** Current UDP_ENCAP type of a bound socket (0 = none, 2 = ESP-in-UDP). */
export function espInUdpMode(socket: Socket): number {
  return getIntOption(socket, SOL_UDP, UDP_ENCAP, 'UDP_ENCAP');
}
