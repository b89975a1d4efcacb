// The netlink channel without a kernel: timeouts, errors matched back by sequence number across
// one packed sendmsg, multipart dumps, close. A scripted Transport plays the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../../src/kernel/errors.ts';
import { NetlinkChannel, type Transport } from '../../src/kernel/xfrm/channel.ts';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTI } from '../../src/kernel/xfrm/constants.ts';
import { openXfrmKernel } from '../../src/kernel/xfrm/netlink.ts';
import { concat, encodeNlMsg, parseNlMsgs, type NlMsg } from '../../src/kernel/xfrm/nlmsg.ts';

/** A transport that records sends and lets the test answer. */
function scripted(): Transport & { sent: Uint8Array[]; deliver(d: Uint8Array): void } {
  let onMsg: (d: Uint8Array) => void = () => {};
  const sent: Uint8Array[] = [];
  return {
    sent,
    deliver: (d) => onMsg(d),
    send: (d, cb) => {
      sent.push(d);
      cb();
    },
    onMessage: (fn) => (onMsg = fn),
    addMembership: () => {},
    ref: () => {},
    close: () => {},
  };
}

function errMsg(req: NlMsg, errno: number): Uint8Array {
  const p = new Uint8Array(20);
  const v = new DataView(p.buffer);
  v.setInt32(0, -errno, true);
  v.setUint32(4, 16, true);
  v.setUint16(8, req.type, true);
  v.setUint32(12, req.seq, true);
  return encodeNlMsg(NLMSG_ERROR, 0, req.seq, p);
}

test('a request with no reply rejects with a timeout KernelError naming the request', async () => {
  const k = await openXfrmKernel({ timeoutMs: 30, transport: () => scripted() });
  await assert.rejects(
    k.dumpPolicies(),
    (e: unknown) =>
      e instanceof KernelError && e.isTimeout && e.request === 'XFRM_MSG_GETPOLICY' && e.errno === 0,
  );
  await k.close();
});

test('one timer serves every pending request: each times out after its own deadline, answered ones never; the socket is referenced only while requests wait', async () => {
  const t = scripted();
  const refs: boolean[] = [];
  t.ref = (on) => refs.push(on);
  const ch = new NetlinkChannel(t, 200);
  const req = (i: number) => ({
    type: 0x13,
    payload: new Uint8Array([i, 0, 0, 0]),
    name: 'X',
    object: `o${i}`,
  });
  const ended: string[] = [];
  const track = (p: Promise<unknown>, name: string) =>
    p.then(
      () => ended.push(`${name} ok`),
      (e: unknown) =>
        ended.push(`${name} ${e instanceof KernelError && e.isTimeout ? 'timeout' : String(e)}`),
    );
  const first = ch.pipeline([req(1), req(2)]);
  await new Promise((r) => setTimeout(r, 100));
  const later = ch.request(req(3)); // its deadline is 100 ms after the first two's
  const sent = t.sent.flatMap((d) => parseNlMsgs(d));
  t.deliver(errMsg(sent[1]!, 0)); // o2 answered
  const all = Promise.all([track(first[0]!, 'o1'), track(first[1]!, 'o2'), track(later, 'o3')]);
  await first[0]!.catch(() => undefined);
  await new Promise((r) => setImmediate(r));
  // Order, not time: once o1 expired, o3 still waits for its own deadline (not failed with o1).
  assert.deepEqual(ended, ['o2 ok', 'o1 timeout']);
  await all;
  assert.deepEqual(ended, ['o2 ok', 'o1 timeout', 'o3 timeout']);
  // Referenced once when the first request went out, unreferenced once when the last one ended.
  assert.deepEqual(refs, [false, true, false]);
  ch.close();
});

test('pipelined requests share one sendmsg and each ACK/errno is matched by seq, in any order', async () => {
  const t = scripted();
  const ch = new NetlinkChannel(t, 1000);
  const reqs = [1, 2, 3].map((i) => ({
    type: 0x13,
    payload: new Uint8Array([i, 0, 0, 0]),
    name: 'X',
    object: `o${i}`,
  }));
  const ps = ch.pipeline(reqs);
  assert.equal(t.sent.length, 1, 'one datagram');
  const msgs = parseNlMsgs(t.sent[0]!);
  assert.equal(msgs.length, 3);
  assert.equal(new Set(msgs.map((m) => m.seq)).size, 3);
  t.deliver(concat([errMsg(msgs[2]!, 0), errMsg(msgs[0]!, 17), errMsg(msgs[1]!, 0)]));
  const res = await Promise.allSettled(ps);
  assert.equal(res[0]!.status, 'rejected');
  const e = (res[0] as PromiseRejectedResult).reason as KernelError;
  assert.ok(e.isExists);
  assert.equal(e.object, 'o1');
  assert.equal(res[1]!.status, 'fulfilled');
  assert.equal(res[2]!.status, 'fulfilled');
  ch.close();
});

test('a dump collects NLM_F_MULTI parts across datagrams until NLMSG_DONE; close rejects the rest', async () => {
  const t = scripted();
  const ch = new NetlinkChannel(t, 1000);
  const p = ch.request({ type: 0x15, payload: new Uint8Array(0), name: 'D', object: 'dump', dump: true });
  const seq = parseNlMsgs(t.sent[0]!)[0]!.seq;
  t.deliver(
    concat([
      encodeNlMsg(0x13, NLM_F_MULTI, seq, new Uint8Array([1])),
      encodeNlMsg(0x13, NLM_F_MULTI, seq, new Uint8Array([2])),
    ]),
  );
  t.deliver(encodeNlMsg(0x13, NLM_F_MULTI, seq, new Uint8Array([3])));
  t.deliver(encodeNlMsg(NLMSG_DONE, NLM_F_MULTI, seq, new Uint8Array(4)));
  const parts = await p;
  assert.deepEqual(
    parts.map((m) => m.payload[0]),
    [1, 2, 3],
  );
  const pending = ch.request({ type: 0x13, payload: new Uint8Array(0), name: 'N', object: 'x' });
  ch.close();
  await assert.rejects(pending, (e: unknown) => e instanceof KernelError && e.kind === 'closed');
});

test('socket errors of either XFRM socket reach onSocketError with the socket named', async () => {
  const errs: ((e: Error) => void)[] = [];
  const withErrors = (): Transport => ({ ...scripted(), onError: (fn) => void errs.push(fn) });
  const seen: string[] = [];
  const k = await openXfrmKernel({
    timeoutMs: 30,
    transport: () => withErrors(),
    onSocketError: (purpose, e) => seen.push(`${purpose}: ${e.message}`),
  });
  const off = k.onEvent(() => undefined); // opens the events socket
  assert.equal(errs.length, 2);
  errs[0]!(new Error('ENOBUFS'));
  errs[1]!(new Error('truncated netlink message'));
  assert.deepEqual(seen, ['requests: ENOBUFS', 'events: truncated netlink message']);
  // A transport without onError (tests, other sockets) is fine.
  const plain = await openXfrmKernel({ timeoutMs: 30, transport: () => scripted() });
  await plain.close();
  off();
  await k.close();
});
