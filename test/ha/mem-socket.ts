// A pair of in-memory sync sockets (the HA channel's twin of a UDP socket pair), with a tap on what
// each side sent, so tests can replay, truncate or alter datagrams.
import type { SyncSocket } from '../../src/ha/channel.ts';

export interface MemSocket extends SyncSocket {
  readonly sent: Uint8Array[];
  /** Delivers raw bytes to this socket as if `from` sent them. */
  deliver(data: Uint8Array, from: string): void;
  /** Cuts the link (both directions drop). */
  down: boolean;
}

export function memSocketPair(addrA: string, addrB: string): [MemSocket, MemSocket] {
  const make = (self: string, other: () => MemSocket): MemSocket => {
    let handler: ((d: Uint8Array, from: string) => void) | undefined;
    let closed = false;
    const s: MemSocket = {
      sent: [],
      down: false,
      send(d) {
        s.sent.push(d.slice());
        const o = other();
        if (!closed && !s.down && !o.down) queueMicrotask(() => o.deliver(d.slice(), self));
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
    return s;
  };
  const a: MemSocket = make(addrA, () => b);
  const b: MemSocket = make(addrB, () => a);
  return [a, b];
}
