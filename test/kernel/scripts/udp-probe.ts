// UDP helper for the bypass test, run inside a namespace.
//   echo <addr> <port> <ms>             : echo every datagram back, exit after <ms>
//   probe <src> <sport> <dst> <dport>   : send one datagram, print reply | noreply | error:<code>
import { createSocket } from 'node:dgram';

const [mode, a, b, c, d] = process.argv.slice(2);
const sock = createSocket('udp4');
if (mode === 'echo') {
  sock.on('message', (m, r) => sock.send(m, r.port, r.address));
  sock.bind(Number(b), a, () => console.log('listening'));
  setTimeout(() => sock.close(), Number(c ?? 5000));
} else {
  const timer = setTimeout(() => {
    console.log('noreply');
    sock.close();
  }, 1500);
  sock.on('message', () => {
    console.log('reply');
    clearTimeout(timer);
    sock.close();
  });
  sock.bind(Number(b), a, () =>
    sock.send('ike?', Number(d), c, (err) => {
      if (!err) return;
      console.log(`error:${(err as NodeJS.ErrnoException).code}`);
      clearTimeout(timer);
      sock.close();
    }),
  );
}
