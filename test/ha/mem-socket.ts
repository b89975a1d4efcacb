// In-memory sync sockets (the HA channel's twin of a UDP socket pair), with a tap on what each side
// sent, so tests can replay, truncate or alter datagrams. A link's end can be opened again (a node
// that died and came back).
import type { SyncSocket } from '../../src/ha/channel.ts';

export interface MemSocket extends SyncSocket {
  readonly sent: Uint8Array[];
  /** Delivers raw bytes to this socket as if `from` sent them. */
  deliver(data: Uint8Array, from: string): void;
}

export function memLink(addrA: string, addrB: string) {
  const ends: { a?: MemSocket; b?: MemSocket } = {};
  const open = (side: 'a' | 'b'): MemSocket => {
    const self = side === 'a' ? addrA : addrB;
    const other = side === 'a' ? 'b' : 'a';
    let handler: ((d: Uint8Array, from: string) => void) | undefined;
    let closed = false;
    const s: MemSocket = {
      sent: [],
      send(d) {
        s.sent.push(d.slice());
        const o = ends[other];
        if (!closed && o) queueMicrotask(() => o.deliver(d.slice(), self));
      },
      onMessage(fn) {
        handler = fn;
      },
      close() {
        closed = true;
        handler = undefined;
      },
      deliver(d, from) {
        if (!closed) handler?.(d, from);
      },
    };
    ends[side] = s;
    return s;
  };
  return { open };
}

export function memSocketPair(addrA: string, addrB: string): [MemSocket, MemSocket] {
  const l = memLink(addrA, addrB);
  return [l.open('a'), l.open('b')];
}
