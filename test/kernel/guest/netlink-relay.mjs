// Relays raw NETLINK_XFRM traffic between the test process and the network namespace this helper
// runs in (a netlink socket belongs to the namespace of the process that opens it). Plain JS so
// it starts fast under TCG. One JSON object per line each way; payloads base64:
//   in:  {c,op:'open'} {c,op:'send',n,d} {c,op:'join',g} {c,op:'close'}
//        {c,op:'udp',n,src,sport,dst,dport,d}: send one UDP datagram from this namespace
//   out: {c,op:'sent',n,e?} {c,op:'msg',d} {c,op:'error',e}
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { RawNetlinkSocket } from 'netlink';

const NETLINK_XFRM = 6;
const sockets = new Map();
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function handle(m) {
  const s = sockets.get(m.c);
  switch (m.op) {
    case 'open': {
      const sock = new RawNetlinkSocket(NETLINK_XFRM, { recvBufferSize: 4 << 20, sendBufferSize: 1 << 20 });
      sock.on('message', (msg) => emit({ c: m.c, op: 'msg', d: Buffer.from(msg).toString('base64') }));
      sock.on('error', (e) => emit({ c: m.c, op: 'error', e: String(e) }));
      sockets.set(m.c, sock);
      return;
    }
    case 'send':
      s.send(Buffer.from(m.d, 'base64'), {}, (e) =>
        emit({ c: m.c, op: 'sent', n: m.n, e: e ? String(e) : undefined }),
      );
      return;
    case 'udp': {
      const u = createSocket(m.dst.includes(':') ? 'udp6' : 'udp4');
      const done = (e) => {
        u.close();
        emit({ c: m.c, op: 'sent', n: m.n, e: e ? String(e) : undefined });
      };
      u.once('error', done);
      u.bind(m.sport, m.src, () => u.send(Buffer.from(m.d, 'base64'), m.dport, m.dst, done));
      return;
    }
    case 'join':
      s.addMembership(m.g);
      return;
    case 'close':
      s?.close();
      sockets.delete(m.c);
      return;
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  try {
    handle(JSON.parse(line));
  } catch (e) {
    emit({ c: -1, op: 'error', e: String(e) });
  }
});
rl.on('close', () => {
  for (const s of sockets.values()) s.close();
  process.exit(0);
});
emit({ c: 0, op: 'ready' });
