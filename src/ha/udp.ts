// The sync channel's UDP socket: bound to the node's own sync address and port, sending only to the
// configured peer node. What it receives goes to SyncChannel, which checks the source and the seal.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { SyncSocket } from './channel.ts';

export interface UdpSyncOptions {
  readonly localAddr: string;
  readonly port: number;
  readonly peerAddr: string;
  readonly peerPort: number;
}

export async function udpSyncSocket(o: UdpSyncOptions): Promise<SyncSocket> {
  const sock: Socket = createSocket({ type: isIPv6(o.localAddr) ? 'udp6' : 'udp4' });
  let handler: ((d: Uint8Array, from: string) => void) | undefined;
  sock.on('message', (msg, rinfo) => handler?.(new Uint8Array(msg), rinfo.address));
  sock.on('error', () => undefined); // a send error is loss; the next heartbeat or resync repairs it
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(o.port, o.localAddr, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return {
    send: (d) => sock.send(d, o.peerPort, o.peerAddr),
    onMessage: (fn) => {
      handler = fn;
    },
    close: () => sock.close(),
  };
}
