// Holds a UDP 4500 socket with UDP_ENCAP_ESPINUDP (RFC 3948 §2.2) in a lab router namespace, so the
// kernel decapsulates ESP-in-UDP for statically installed SAs (a daemon's own NAT-T socket does this
// otherwise). Plain JavaScript: it starts in ~1 s in the TCG guest, where tsx takes ~10 s. So it
// repeats, for its one socket, what src/kernel/sockopt.ts does: libc's setsockopt through koffi, on
// the descriptor found in /proc/self/fd (the process's only UDP socket on that port).
// Usage: node encap-socket.mjs ADDRESS [PORT]. Prints "ready", then lives until killed, at most 30 min.
import { createSocket } from 'node:dgram';
import { readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';

const SOL_SOCKET = 1;
const SO_PROTOCOL = 38;
const SOL_UDP = 17;
const UDP_ENCAP = 100;
const UDP_ENCAP_ESPINUDP = 2;
const koffi = createRequire(import.meta.url)('koffi');
const libc = koffi.load(null);
const setsockopt = libc.func('int setsockopt(int, int, int, void *, uint32_t)');
const getsockopt = libc.func('int getsockopt(int, int, int, void *, void *)');
const getsockname = libc.func('int getsockname(int, void *, void *)');
const getInt = (fd, level, name) => {
  const v = new Int32Array([-1]);
  return getsockopt(fd, level, name, v, new Uint32Array([4])) === 0 ? v[0] : undefined;
};
const fail = (msg) => {
  process.stderr.write(`encap-socket: ${msg}\n`);
  process.exit(1);
};

const address = process.argv[2] ?? '0.0.0.0';
const port = Number(process.argv[3] ?? 4500);
const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
socket.on('error', (e) => fail(e.message));
socket.bind(port, address, () => {
  const fds = readdirSync('/proc/self/fd').filter((e) => {
    try {
      if (!readlinkSync(`/proc/self/fd/${e}`).startsWith('socket:')) return false;
    } catch {
      return false;
    }
    const sa = new Uint8Array(128);
    if (getInt(Number(e), SOL_SOCKET, SO_PROTOCOL) !== SOL_UDP) return false;
    if (getsockname(Number(e), sa, new Uint32Array([128])) !== 0) return false;
    return ((sa[2] << 8) | sa[3]) === socket.address().port;
  });
  if (fds.length !== 1) fail(`found ${fds.length} UDP descriptors on port ${port}, wanted 1`);
  const fd = Number(fds[0]);
  if (setsockopt(fd, SOL_UDP, UDP_ENCAP, new Int32Array([UDP_ENCAP_ESPINUDP]), 4) !== 0)
    fail(`setsockopt(UDP_ENCAP) failed, errno ${koffi.errno()}`);
  if (getInt(fd, SOL_UDP, UDP_ENCAP) !== UDP_ENCAP_ESPINUDP) fail('UDP_ENCAP did not stick');
  process.stdout.write('ready\n');
  setTimeout(() => process.exit(0), 30 * 60_000);
});
// Non-ESP datagrams (none expected) are read and dropped.
socket.on('message', () => undefined);
