// A request/response channel over one netlink socket: sequence numbers, per-request timeouts,
// multipart dumps (NLM_F_MULTI ... NLMSG_DONE), NLMSG_ERROR -> KernelError with the errno, and a
// pipelined path that packs many requests into one sendmsg and matches each ACK back by seq.
// The socket is behind a small Transport interface so tests can drive timeouts without a kernel.
import { RawNetlinkSocket } from 'netlink';
import { KernelError } from '../errors.ts';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from './constants.ts';
import { concat, encodeNlMsg, parseNlError, parseNlMsgs, type NlMsg } from './nlmsg.ts';

/** The part of a netlink socket the channel needs. */
export interface Transport {
  send(data: Uint8Array, cb: (err?: Error) => void): void;
  onMessage(fn: (data: Uint8Array) => void): void;
  addMembership(group: number): void;
  ref(on: boolean): void;
  close(): void;
}

/** A real netlink socket of `protocol` in the caller's network namespace. */
export function rawTransport(protocol: number, recvBufferSize = 4 << 20): Transport {
  const sock = new RawNetlinkSocket(protocol, { recvBufferSize, sendBufferSize: 1 << 20 });
  return {
    send: (data, cb) => sock.send(data, {}, (err) => cb(err ?? undefined)),
    onMessage: (fn) => sock.on('message', (msg) => fn(msg)),
    addMembership: (g) => sock.addMembership(g),
    ref: (on) => (on ? sock.ref() : sock.unref()),
    close: () => sock.close(),
  };
}

export interface ChannelRequest {
  type: number;
  payload: Uint8Array;
  /** Request name for errors, e.g. 'XFRM_MSG_NEWSA'. */
  name: string;
  /** Key-free object description for errors. */
  object: string;
  /** Extra nlmsg flags (NLM_F_CREATE, NLM_F_EXCL ...). */
  flags?: number;
  dump?: boolean;
}

interface Pending {
  req: ChannelRequest;
  replies: NlMsg[];
  resolve: (msgs: NlMsg[]) => void;
  reject: (e: KernelError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Most messages per sendmsg in the pipelined path (bounded so ACKs fit the receive buffer). */
const MAX_BATCH_BYTES = 64 * 1024;

export class NetlinkChannel {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  /** Called for messages that answer no request (multicast events). */
  onUnsolicited: ((m: NlMsg) => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly timeoutMs = 5000,
  ) {
    transport.onMessage((data) => this.receive(data));
    transport.ref(false);
  }

  /** Sends one request and resolves with its reply messages (empty for a plain ACK). */
  request(req: ChannelRequest): Promise<NlMsg[]> {
    return this.pipeline([req])[0]!;
  }

  /**
   * Sends all requests packed into as few sendmsg calls as possible (64 KiB each) and returns one
   * promise per request. The kernel handles the messages of one datagram in order.
   */
  pipeline(reqs: readonly ChannelRequest[]): Promise<NlMsg[]>[] {
    const promises: Promise<NlMsg[]>[] = [];
    let chunk: Uint8Array[] = [];
    let chunkSeqs: number[] = [];
    let size = 0;
    const flush = (): void => {
      if (!chunk.length) return;
      const seqs = chunkSeqs;
      this.transport.send(chunk.length === 1 ? chunk[0]! : concat(chunk), (err) => {
        if (err)
          for (const s of seqs)
            this.fail(s, (p) => KernelError.fromErrno(errnoOf(err), p.req.name, p.req.object, 'send failed'));
      });
      chunk = [];
      chunkSeqs = [];
      size = 0;
    };
    for (const req of reqs) {
      const seq = this.nextSeq();
      const flags = NLM_F_REQUEST | (req.dump ? NLM_F_DUMP : NLM_F_ACK) | (req.flags ?? 0);
      const msg = encodeNlMsg(req.type, flags, seq, req.payload);
      promises.push(this.register(seq, req));
      if (size + msg.length > MAX_BATCH_BYTES) flush();
      chunk.push(msg);
      chunkSeqs.push(seq);
      size += msg.length;
    }
    flush();
    return promises;
  }

  joinGroup(group: number): void {
    this.transport.addMembership(group);
  }

  /** Keeps the process alive while events are wanted. */
  holdOpen(on: boolean): void {
    this.transport.ref(on || this.pending.size > 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const seq of [...this.pending.keys()])
      this.fail(seq, (p) => KernelError.closed(p.req.name, p.req.object));
    this.transport.close();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private register(seq: number, req: ChannelRequest): Promise<NlMsg[]> {
    if (this.closed) return Promise.reject(KernelError.closed(req.name, req.object));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(seq, (p) => KernelError.timeout(p.req.name, p.req.object, this.timeoutMs)),
        this.timeoutMs,
      );
      this.pending.set(seq, { req, replies: [], resolve, reject, timer });
      this.transport.ref(true);
    });
  }

  private settle(seq: number): Pending | undefined {
    const p = this.pending.get(seq);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(seq);
    if (this.pending.size === 0) this.transport.ref(false);
    return p;
  }

  private fail(seq: number, make: (p: Pending) => KernelError): void {
    const p = this.settle(seq);
    if (p) p.reject(make(p));
  }

  private receive(data: Uint8Array): void {
    let msgs: NlMsg[];
    try {
      msgs = parseNlMsgs(data);
    } catch {
      return; // a malformed datagram answers nothing we can match; its requests will time out
    }
    for (const m of msgs) {
      const p = m.seq ? this.pending.get(m.seq) : undefined;
      if (!p) {
        this.onUnsolicited?.(m);
        continue;
      }
      if (m.type === NLMSG_ERROR) {
        const e = parseNlError(m);
        this.settle(m.seq);
        if (e.errno === 0) p.resolve(p.replies);
        else p.reject(KernelError.fromErrno(e.errno, p.req.name, p.req.object, e.message));
      } else if (m.type === NLMSG_DONE) {
        this.settle(m.seq);
        p.resolve(p.replies);
      } else if (m.type === NLMSG_OVERRUN) {
        this.fail(m.seq, (q) => new KernelError('protocol', 0, q.req.name, q.req.object, 'overrun'));
      } else {
        p.replies.push({ ...m, payload: m.payload.slice() });
        // A non-dump reply without ACK (e.g. ALLOCSPI with some kernels) is followed by an ACK.
      }
    }
  }
}

function errnoOf(err: Error): number {
  const n = (err as { errno?: unknown }).errno;
  return typeof n === 'number' ? Math.abs(n) : 5; // EIO
}
