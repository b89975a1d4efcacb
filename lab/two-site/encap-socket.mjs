// Holds a UDP 4500 socket with UDP_ENCAP_ESPINUDP (RFC 3948 §2.2) in a lab router namespace, so the
// kernel decapsulates ESP-in-UDP for statically installed SAs (a daemon's own NAT-T socket does this
// otherwise). Plain JavaScript: it starts in ~1 s in the TCG guest, where tsx takes ~10 s.
// Usage: node encap-socket.mjs ADDRESS [PORT]. Prints "ready", then lives until killed, at most 30 min.
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';

const SOL_UDP = 17;
const UDP_ENCAP = 100;
const UDP_ENCAP_ESPINUDP = 2;
const sockopt = createRequire(import.meta.url)('sockopt');
const address = process.argv[2] ?? '0.0.0.0';
const port = Number(process.argv[3] ?? 4500);
const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
socket.on('error', (e) => {
  process.stderr.write(`encap-socket: ${e.message}\n`);
  process.exit(1);
});
socket.bind(port, address, () => {
  sockopt.setsockopt(socket, SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP);
  if (sockopt.getsockopt(socket, SOL_UDP, UDP_ENCAP) !== UDP_ENCAP_ESPINUDP) {
    process.stderr.write('encap-socket: UDP_ENCAP did not stick\n');
    process.exit(1);
  }
  process.stdout.write('ready\n');
  setTimeout(() => process.exit(0), 30 * 60_000);
});
// Non-ESP datagrams (none expected) are read and dropped.
socket.on('message', () => undefined);
